// examples/ha end to end through the real Pulumi CLI: preview touches nothing; up makes exactly the
// declared table on both directors and starts the sync daemons (master on director1, backup on
// director2, sync id 46); the client's requests through director1 are balanced round robin, and the
// connections they made show up in director2's connection table (the sync daemons at work); a second
// up changes nothing; a backup daemon stopped by hand shows in refresh and up restarts it, while a
// daemon of a state the resource does not manage is left alone; destroy stops the daemons and removes
// the service on both directors and touches nothing else.
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, sh } from "../lab";
import { exampleStack, Stack } from "../pulumi";
import { fetchFromClient, webServer } from "../traffic";

const vip = "10.0.0.246:80";
const backends = ["10.1.0.21:8246", "10.1.0.22:8246", "10.1.0.23:8246"];
const directors = ["director1", "director2"] as const;
const declared = [`-A -t ${vip} -s rr`, ...backends.map((r) => `-a -t ${vip} -r ${r} -m -w 1`)];
// Made by hand on each director, on the example's own VIP: destroy must leave it.
const handMade = "-A -t 10.0.0.246:81 -s wrr";
const client = "10.0.0.100";

const ours = async (h: string) => (await sh(h, "ipvsadm -Sn")).split("\n")
    .filter((l) => l.includes(`-t ${vip} `) || l.endsWith(`-t ${vip}`));
const daemons = async (h: string) => (await sh(h, "ipvsadm -L --daemon")).split("\n").filter(Boolean).sort();
/** What the example may change on a director: its rules, the daemons, the VIP, ip_forward; and the hand-made
 * service. */
const scene = async () => Object.fromEntries(await Promise.all(directors.map(async (h) => [h, {
    rules: (await ours(h)).sort(),
    handMade: (await sh(h, "ipvsadm -Sn")).includes(handMade),
    daemons: await daemons(h),
    vip: (await sh(h, "ip -o addr show dev lan0")).includes(" 10.0.0.246/"),
    ipForward: (await sh(h, "cat /proc/sys/net/ipv4/ip_forward")).trim(),
}])));

/** The client's connections to the VIP in a director's connection table: "source port -> real server". */
async function connections(h: string): Promise<Set<string>> {
    const lines = (await sh(h, "ipvsadm -Lnc")).split("\n").map((l) => l.trim().split(/\s+/));
    // pro expire state source virtual destination
    return new Set(lines.filter((f) => f[0] === "TCP" && f[3]?.startsWith(`${client}:`) && f[4] === vip)
        .map((f) => `${f[3]} -> ${f[5]}`));
}

let stack: Stack;
let before: Awaited<ReturnType<typeof scene>>;
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
    for (const h of directors)
        expect(await daemons(h), `a sync daemon already runs on ${h}: another test owns it`).toEqual([]);
    for (const h of directors)
        await sh(h, `ipvsadm -D -t ${vip} 2>/dev/null; ipvsadm -D -t 10.0.0.246:81 2>/dev/null; ipvsadm ${handMade}`);
    before = await scene();
    stack = await exampleStack("ha");
    for (const [i, b] of backends.entries()) stops.push(await webServer(`rs${i + 1}`, [b]));
});
afterAll(async () => {
    await stack?.dispose();
    for (const stop of stops) await stop().catch(() => undefined);
    for (const h of directors) {
        const left = await daemons(h).catch(() => []);
        for (const state of ["master", "backup"]) if (left.some((l) => l.startsWith(`${state} `)))
            await sh(h, `ipvsadm --stop-daemon ${state}`).catch(() => undefined);
        await sh(h, `ipvsadm -D -t 10.0.0.246:81 2>/dev/null; true`).catch(() => undefined);
    }
    await closeLab();
});

test("preview changes nothing on either director", async () => {
    const out = await stack.run("preview", "--diff");
    expect(out).toContain("+ 11 to create");
    expect(out).toMatch(/syncId\s*: 46/);
    expect(await scene()).toEqual(before);
});

test("up makes the declared table on both directors and starts the master and the backup sync daemon", async () => {
    await stack.run("up", "--yes", "--skip-preview");
    for (const h of directors) expect((await ours(h)).sort()).toEqual([...declared].sort());
    expect(await daemons("director1"))
        .toEqual([expect.stringMatching(/^master sync daemon \(mcast=lan0, syncid=46, /)]);
    expect(await daemons("director2"))
        .toEqual([expect.stringMatching(/^backup sync daemon \(mcast=lan0, syncid=46, /)]);
    expect(await sh("director1", "ip -o addr show dev lan0")).toContain(" 10.0.0.246/32 ");
    expect(await sh("director2", "ip -o addr show dev lan0")).not.toContain(" 10.0.0.246/");
    expect(JSON.parse(await stack.run("stack", "output", "sync", "--json"))).toEqual([
        { master: { interface: "lan0", syncId: 46 } },
        { backup: { interface: "lan0", syncId: 46 } },
    ]);
});

test("the client's requests are balanced round robin, and their connections reach director2 " +
    "through the sync daemons", async () => {
    const [old1, old2] = [await connections("director1"), await connections("director2")];
    const { counts, failures } = await fetchFromClient(`http://${vip}/`, 12);
    expect(failures).toEqual([]);
    expect(counts).toEqual({ "rs1 10.1.0.21:8246": 4, "rs2 10.1.0.22:8246": 4, "rs3 10.1.0.23:8246": 4 });
    const made = [...await connections("director1")].filter((c) => !old1.has(c));
    expect(made).toHaveLength(12);
    // The master sends what it has every second or two: poll.
    let synced: string[] = [];
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
        const now = await connections("director2");
        synced = made.filter((c) => now.has(c) && !old2.has(c));
        if (synced.length === made.length) break;
        await new Promise((r) => setTimeout(r, 1000));
    }
    expect(synced.sort()).toEqual(made.sort());
});

test("a second up changes nothing", async () => {
    const out = await stack.run("up", "--yes", "--expect-no-changes");
    expect(out).toContain("11 unchanged");
});

test("a backup daemon stopped by hand shows in refresh and up restarts it; a master started by hand on director2 " +
    "is not the stack's", async () => {
    await sh("director2", "ipvsadm --stop-daemon backup && " +
        "ipvsadm --start-daemon master --mcast-interface lan0 --syncid 99");
    try {
        const refresh = await stack.run("refresh", "--yes", "--diff");
        expect(refresh).toMatch(/~ sync\s*: \{/);
        expect(refresh).toMatch(/- backup\s*: \{/);
        expect(refresh).not.toMatch(/syncId\s*: 99/);
        expect(refresh).toContain("1 updated");
        await expect(stack.run("preview", "--expect-no-changes")).rejects.toThrow(/no changes were expected/);
        await stack.run("up", "--yes", "--skip-preview");
        expect(await daemons("director2")).toEqual([
            expect.stringMatching(/^backup sync daemon \(mcast=lan0, syncid=46, /),
            expect.stringMatching(/^master sync daemon \(mcast=lan0, syncid=99, /),
        ]);
        await stack.run("refresh", "--yes", "--expect-no-changes");
        await stack.run("up", "--yes", "--expect-no-changes");
    } finally {
        await sh("director2", "ipvsadm --stop-daemon master");
    }
});

test("destroy stops the daemons and removes the service on both directors, and touches nothing else", async () => {
    await stack.run("destroy", "--yes", "--skip-preview");
    expect(await scene()).toEqual(before);
    for (const h of directors) {
        expect(await ours(h)).toEqual([]);
        expect(await daemons(h)).toEqual([]);
    }
});
