// Owners for everything, end to end (test/owners through the real Pulumi CLI), under traffic. Every object
// pulumi-lvs makes on a node has holders, one per resource, so that Pulumi's "create the new, then delete
// the old" loses nothing: the old resource's delete drops its own hold, and the object stays while the new
// one holds it. Each case runs clients on the client host requesting its VIPs throughout the change and
// compares, before and after, both directors' IPVS rules of this test's VIPs (ipvsadm -Sn), their sync
// daemons (ipvsadm -L --daemon, and the daemons' kernel threads: a restart would show as new ones), the
// VIPs on director1's lan0 and ip_forward: 0 failed requests and nothing changed, in each of
//   a. a VirtualService and its RealServers renamed without aliases (+3 created, -3 deleted);
//   b. a second RealServer declaring an existing real server with the same settings, added and then removed;
//      and one with another weight, from a second stack: refused, naming the holder it collides with;
//   c. a Cluster's directors (VIP, ip_forward, master and backup sync daemons), services and real servers
//      moved to plain Director / VirtualService / RealServer resources (no aliases);
//   d. that second stack of the project (a backend of its own) declaring the same objects: it takes them
//      over, the first stack is destroyed and everything stays; the second is destroyed and everything is
//      gone, from the kernel and from the directors' node records (which a reboot would put back);
//   e. an IPv6 service with IPv4 real servers forwarded by tun (table only: the real servers' side of an
//      IPv6-in-IPv4 tunnel is not set up): up, then a destroy that ends clean.
// Owns 10.0.0.230-234 / fd00::230-234 (VIPs on director1's lan0), web servers on 10.1.0.21-22 :8230-8232,
// sync id 30 (a master on director1, a backup on director2: the only sync daemons there while it runs).
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, sh } from "../lab";
import { labStackNamed, resourceOutputs, Stack } from "../pulumi";
import { fetchFromClient, LoadResult, startLoad, vmNow, webServer } from "../traffic";

const dir = path.join(__dirname, "..", "owners");
const directors = ["director1", "director2"] as const;
const syncId = 30;
const vip = { rename: "10.0.0.230", duplicate: "10.0.0.231", sync: "10.0.0.232", mixed: "fd00::234" };
const ourRule = /^-[aA] -[tus] (10\.0\.0\.23[0-4]|\[fd00::23[0-4]\]):/;
const ourAddress = /^(10\.0\.0\.23[0-4]|fd00::23[0-4])\//;
/** The sync daemons' kernel threads (ipvs-m:N:I, ipvs-b:N:I): the lab's hosts share one PID namespace, and
 * while this file runs ours are the only ones. */
const ourThread = /^ipvs-[mb]:\d+:\d+$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The ipvsadm -Sn lines of a NAT service rr on port 80 over `hosts` at `port`. */
const natService = (address: string, port: number, hosts: string[]) =>
    [`-A -t ${address}:80 -s rr`, ...hosts.map((h) => `-a -t ${address}:80 -r ${h}:${port} -m -w 1`)];
const backends = ["10.1.0.21", "10.1.0.22"];

type Stage = { rename?: "old" | "new"; duplicate?: "none" | "same"; conflict?: number; sync?: "cluster" | "plain";
    mixed?: boolean };

const cut = "@@cut@@";
/** One read of a director (one command: under emulation each costs a second): its rules of our VIPs, its
 * sync daemons, our VIPs on its lan0, ip_forward, and (director1) the sync daemons' threads. */
async function read(h: string) {
    const parts = (await sh(h, [
        "ipvsadm -Sn", "ipvsadm -L --daemon", "ip -o addr show dev lan0", "cat /proc/sys/net/ipv4/ip_forward",
        ...(h === "director1" ? ["grep -H . /proc/[0-9]*/comm 2>/dev/null; true"] : []),
    ].join(`; echo ${cut}; `))).split(`${cut}\n`);
    return {
        rules: parts[0].split("\n").filter((l) => ourRule.test(l)).sort(),
        daemons: parts[1].split("\n").filter(Boolean).sort(),
        addresses: [...parts[2].matchAll(/ inet6? (\S+)/g)].map((m) => m[1]).filter((a) => ourAddress.test(a)).sort(),
        ipForward: parts[3].trim(),
        threads: (parts[4] ?? "").split("\n").map((l) => /^\/proc\/(\d+)\/comm:(.*)$/.exec(l))
            .filter((m) => m && ourThread.test(m[2])).map((m) => `${m![1]} ${m![2]}`).sort(),
    };
}

/** What this test's stacks may change: each director's rules of our VIPs, sync daemons, our VIPs on lan0,
 * ip_forward; and the daemons' threads (a daemon restarted with the same settings shows as a new thread). */
async function scene() {
    const [d1, d2] = await Promise.all(directors.map(read));
    const { threads, ...director1 } = d1;
    const { threads: _, ...director2 } = d2;
    return { director1, director2, threads };
}

/** What a director's node record (what the restore unit puts back at boot) says of our VIPs and sync id. */
async function recorded(h: string): Promise<string[]> {
    const text = await sh(h, "cat /var/lib/pulumi-lvs/desired.json 2>/dev/null; true");
    return [...text.matchAll(/10\.0\.0\.23[0-4]|fd00::23[0-4]|"syncId":30\b/g)].map((m) => m[0]);
}

let main: Stack;
/** The second stack: first the one whose conflicting declaration is refused (b), then the one that takes everything
 * over (d). */
let second: Stack | undefined;
const stacks: Stack[] = [];
const stops: Array<() => Promise<void>> = [];
const loads: Array<() => Promise<void>> = [];
let initial: Awaited<ReturnType<typeof scene>>;

async function stackOf(name: string, stage: Stage): Promise<Stack> {
    const s = await labStackNamed(dir, `${name}${process.pid}`);
    stacks.push(s);
    await s.config("stage", JSON.stringify(stage));
    return s;
}

/** Removes by hand what a failed run left of ours in the kernel (services, VIPs, our sync id's daemons); what it
 * removed. */
async function sweep(): Promise<string[]> {
    const removed: string[] = [];
    for (const h of directors) {
        const { rules: left, addresses: held, daemons: running } = await read(h);
        const commands = [
            ...left.filter((l) => l.startsWith("-A "))
                .map((l) => [l, `ipvsadm -D ${l.split(" ").slice(1, 3).join(" ")}`]),
            ...held.map((a) => [`address ${a}`, `ip addr del ${a} dev lan0`]),
            ...running.filter((d) => d.includes(`syncid=${syncId},`))
                .map((d) => [d, `ipvsadm --stop-daemon ${d.split(" ")[0]}`]),
        ];
        for (const [what, command] of commands) {
            await sh(h, command).catch(() => undefined);
            removed.push(`${h}: ${what}`);
        }
    }
    return removed;
}

beforeAll(async () => {
    const left = await sweep();
    if (left.length) console.warn(`owners: removed what an earlier run left: ${left.join("; ")}`);
    initial = await scene();
    for (const h of directors)
        expect(initial[h].daemons, `a sync daemon runs on ${h}: another test owns it`).toEqual([]);
    expect(initial.threads, "sync daemon threads run in the lab: another test owns them").toEqual([]);
    for (const [i, b] of backends.entries())
        stops.push(await webServer(`rs${i + 1}`, [8230, 8231, 8232].map((p) => `${b}:${p}`)));
    main = await stackOf("owners", { rename: "old", duplicate: "none", sync: "cluster" });
});

afterAll(async () => {
    for (const kill of loads) await kill().catch(() => undefined);
    // A stack the test destroyed has nothing left: its files go without another destroy (seconds each).
    for (const s of stacks) {
        if (!emptied.has(s)) await s.dispose();
        else for (const f of [path.join(dir, `Pulumi.${s.name}.yaml`), s.backend])
            fs.rmSync(f, { recursive: true, force: true });
    }
    const left = await sweep().catch(() => []);
    if (left.length) console.warn(`owners: the stacks' destroy left these, removed by hand: ${left.join("; ")}`);
    for (const h of directors) {
        const was = initial?.[h].ipForward,
            now = (await sh(h, "cat /proc/sys/net/ipv4/ip_forward").catch(() => "")).trim();
        if (was && now && now !== was) {
            await sh(h, `echo ${was} > /proc/sys/net/ipv4/ip_forward`).catch(() => undefined);
            console.warn(`owners: ${h}'s ip_forward was left at ${now}, put back to ${was} by hand`);
        }
    }
    for (const stop of stops) await stop().catch(() => undefined);
    await closeLab();
});

/**
 * Runs `body` while 2 clients per VIP request a slow page (250 ms) through each VIP: 1.5 s of load before,
 * 2.5 s after. Whatever `body` returns or throws, the load is stopped; check() then asserts that no request
 * failed and that requests were answered during the body and after it.
 */
async function underLoad<T>(vips: string[], body: () => Promise<T>) {
    const started = await Promise.all(vips.map((v) => startLoad(`http://${v}/slow/250`, 2)));
    loads.push(...started.map((l) => l.kill));
    await sleep(1500);
    const t0 = await vmNow();
    let value: T | undefined, error: unknown;
    try { value = await body(); } catch (e) { error = e; }
    const t1 = await vmNow();
    await sleep(2500);
    const results = await Promise.all(started.map((l) => l.stop()));
    if (error) throw error;
    return { value: value as T, check: () => results.forEach((r, i) => expectServed(vips[i], r, t0, t1)) };
}

function expectServed(address: string, r: LoadResult, t0: number, t1: number) {
    expect.soft({ failed: r.failures.length, first: r.failures.slice(0, 3) }, `requests to ${address} that failed`)
        .toEqual({ failed: 0, first: [] });
    expect.soft(r.requests.filter((q) => q.start >= t0 && q.start < t1).length,
        `requests to ${address} answered that started during the change`).toBeGreaterThan(0);
    expect.soft(r.requests.filter((q) => q.start >= t1).length, `requests to ${address} answered after the change`)
        .toBeGreaterThan(0);
}

const up = (s: Stack) => s.run("up", "--yes", "--skip-preview");
const emptied = new Set<Stack>();
const destroy = async (s: Stack) => {
    const out = await s.run("destroy", "--yes", "--skip-preview");
    emptied.add(s);
    return out;
};
const daemonLine = (state: string) =>
    expect.stringMatching(new RegExp(`^${state} sync daemon \\(mcast=lan0, syncid=${syncId}, `));

// First: the kernel refuses a destination of another family than its service's while a sync daemon runs in
// the network namespace (EINVAL: the sync protocol has no room for it), and the groups below run them.
test("e. an IPv6 service with IPv4 real servers forwarded by tun: up makes it, destroy removes it " +
    "and ends clean", async () => {
    const mixed = await stackOf("mixed", { mixed: true });
    await up(mixed);
    const service = `[${vip.mixed}]:80`;
    const made = await read("director1");
    expect(made.rules.filter((l) => l.includes(service))).toEqual([
        `-A -t ${service} -s rr`,
        ...["10.0.0.21", "10.0.0.22", "10.0.0.23"].map((a) => `-a -t ${service} -r ${a}:80 -i -w 1 --tun-type ipip`),
    ].sort());
    expect(made.addresses).toContain(`${vip.mixed}/128`);
    await destroy(mixed);
    const left = await read("director1");
    expect(left.rules.filter((l) => l.includes(service))).toEqual([]);
    expect(left.addresses).not.toContain(`${vip.mixed}/128`);
    expect((await recorded("director1")).filter((r) => r === vip.mixed)).toEqual([]);
});

test("up makes the services of the rename, duplicate and sync groups, the VIPs and the sync daemons " +
    "(sync id 30)", async () => {
    await up(main);
    const s = await scene();
    expect(s.director1).toEqual({
        rules: [...natService(vip.rename, 8230, backends), ...natService(vip.duplicate, 8231, backends),
            ...natService(vip.sync, 8232, backends)].sort(),
        daemons: [daemonLine("master")],
        addresses: [`${vip.rename}/32`, `${vip.duplicate}/32`, `${vip.sync}/32`],
        ipForward: "1",
    });
    expect(s.director2).toEqual({ rules: natService(vip.sync, 8232, backends).sort(), daemons: [daemonLine("backup")],
        addresses: [], ipForward: "1" });
    expect(s.threads.map((t) => t.split(" ")[1].slice(0, 7)).sort()).toEqual(["ipvs-b:", "ipvs-m:"]);
    const served = await Promise.all([vip.rename, vip.duplicate, vip.sync]
        .map((v) => fetchFromClient(`http://${v}/`, 6)));
    expect(served.map((r) => ({ failures: r.failures, servers: Object.keys(r.counts).length }))).toEqual([
        { failures: [], servers: 2 }, { failures: [], servers: 2 }, { failures: [], servers: 2 },
    ]);
});

test("a. a VirtualService and its RealServers renamed without aliases: +3 created -3 deleted, " +
    "and nothing changes", async () => {
    const before = await scene();
    await main.config("stage", JSON.stringify({ rename: "new", duplicate: "none", sync: "cluster" }));
    const { value: out, check } = await underLoad([vip.rename], () => up(main));
    expect.soft(out).toMatch(/\+ 3 created/);
    expect.soft(out).toMatch(/- 3 deleted/);
    expect.soft(await scene()).toEqual(before);
    check();
});

test("b. a second RealServer declaring the same real server with the same settings, added then removed: " +
    "the real server stays", async () => {
    const before = await scene();
    await main.config("stage", JSON.stringify({ rename: "new", duplicate: "same", sync: "cluster" }));
    const added = await underLoad([vip.duplicate], () => up(main));
    expect.soft(added.value).toMatch(/\+ 1 created/);
    expect.soft(await scene(), "after the duplicate was added").toEqual(before);
    added.check();

    await main.config("stage", JSON.stringify({ rename: "new", duplicate: "none", sync: "cluster" }));
    const removed = await underLoad([vip.duplicate], () => up(main));
    expect.soft(removed.value).toMatch(/- 1 deleted/);
    const after = await scene();
    expect.soft(after, "after the duplicate was removed").toEqual(before);
    expect.soft(after.director1.rules).toContain(`-a -t ${vip.duplicate}:80 -r 10.1.0.21:8231 -m -w 1`);
    removed.check();
});

test("b. another stack declaring that real server with another weight is refused, naming the holder " +
    "it collides with, and changes nothing", async () => {
    const before = await scene();
    const holder = resourceOutputs(main, "dup-1")?.holder as string | undefined;
    // Its director (no VIP) and its service (the same settings as the first stack's) are taken; its real server is
    // refused.
    second = await stackOf("second", { conflict: 2 });
    const { value: error, check } = await underLoad([vip.duplicate],
        () => up(second!).then(() => undefined, (e: Error) => e));
    expect(error, "the up of the conflicting stack succeeded").toBeInstanceOf(Error);
    expect.soft(await scene()).toEqual(before);
    check();
    expect.soft(holder, "dup-1's outputs have no holder").toMatch(/\S/);
    if (holder) expect.soft(String(error)).toContain(holder);
    expect.soft(String(error)).toMatch(/weight/);
});

test("c. services and sync daemons moved from a Cluster to plain Director / VirtualService / RealServer resources: " +
    "nothing changes", async () => {
    const before = await scene();
    await main.config("stage", JSON.stringify({ rename: "new", duplicate: "none", sync: "plain" }));
    const { value: out, check } = await underLoad([vip.sync], () => up(main));
    // 2 directors, 2 services, 4 real servers made; the Cluster's 2 directors, 2 services and 2 lists of
    // real servers (RealServers) deleted, and the Cluster component itself.
    expect.soft(out).toMatch(/\+ 8 created/);
    expect.soft(out).toMatch(/- 7 deleted/);
    expect.soft(await scene()).toEqual(before);
    check();
});

test("d. a second stack takes over the same objects; the first is destroyed and everything stays; then the second, " +
    "and everything is gone", async () => {
    const before = await scene();
    const stage: Stage = { rename: "new", duplicate: "none", sync: "plain" };
    if (second) await second.config("stage", JSON.stringify(stage));
    else second = await stackOf("second", stage);
    const snaps: Record<string, unknown> = {};
    const { check } = await underLoad([vip.rename, vip.duplicate, vip.sync], async () => {
        await up(second!);
        snaps["after the second stack's up"] = await scene();
        await destroy(main);
        snaps["after the first stack's destroy"] = await scene();
    });
    for (const [when, s] of Object.entries(snaps)) expect.soft(s, when).toEqual(before);
    check();
    await destroy(second);
    expect.soft(await scene(), "after the second stack's destroy").toEqual(initial);
    for (const h of directors) expect.soft(await recorded(h), `what ${h}'s node record keeps of ours`).toEqual([]);
});
