// examples/ha end to end through the real Pulumi CLI: an HA pair with failover (keepalived's VRRP, run
// by pulumi-lvs on each director) in front of three direct-routing real servers. Preview touches
// nothing; up makes the same table and both sync daemons on each director, and director1 (priority 200)
// takes the VIP; the client's requests are balanced; a second up and a refresh change nothing. Then,
// under traffic from the client (short requests in a loop, and long-lived connections that send a
// request every 250 ms), director1 fails three ways: its keepalived killed with -9 (restarted a second
// later, as systemd does), its interface down (director2 takes the VIP; up again, director1 takes it back:
// preempt), and, with preempt false, a reboot of the host (director2 takes the VIP and keeps it: the
// rebooted director1 restores its table and comes back as the backup). Each prints the time until the
// VIP answers from the other director, the failed requests around it, and which long-lived connections
// survived. Destroy stops keepalived and the daemons, removes the VIP, the services and the real
// servers' VIPs, and leaves a service made by hand alone. Owns VIP 10.0.0.246 (ports 80, 81) on both
// directors and rs1-rs3, VRRP router 46 and sync id 46 on lan0.
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, rebootHost, sh } from "../lab";
import { exampleStack, resourceOutputs, Stack } from "../pulumi";
import { fetchFromClient, HeldConnection, LoadResult, startHold, startLoad, webServer } from "../traffic";

const vip = "10.0.0.246", service = `${vip}:80`;
const directors = ["director1", "director2"] as const;
const realServers = ["rs1", "rs2", "rs3"] as const;
const declared = [`-A -t ${service} -s rr`,
    ...realServers.map((_, i) => `-a -t ${service} -r 10.0.0.2${i + 1}:80 -g -w 1`)].sort();
// Made by hand on each director, on the example's own VIP: destroy must leave it.
const handMade = "-A -t 10.0.0.246:81 -s wrr";
const state = "/var/lib/pulumi-lvs";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ours = async (h: string) => (await sh(h, "ipvsadm -Sn")).split("\n")
    .filter((l) => l.includes(`-t ${service} `) || l.endsWith(`-t ${service}`)).sort();
const daemons = async (h: string) => (await sh(h, "ipvsadm -L --daemon")).split("\n").filter(Boolean).sort();
const holds = async (h: string) => (await sh(h, "ip -o addr show dev lan0")).includes(` ${vip}/32 `);
/** Whether pulumi-lvs's keepalived runs on a director (its pid file names a live keepalived). */
const keepalived = async (h: string) => (await sh(h, `p=$(cat ${state}/keepalived.pid 2>/dev/null); ` +
    `[ -n "$p" ] && grep -qx keepalived /proc/$p/comm 2>/dev/null && echo yes || echo no`)).trim() === "yes";
/** Everything the example may change, on every host it touches. */
const scene = async () => ({
    ...Object.fromEntries(await Promise.all(directors.map(async (h) => [h, {
        rules: await ours(h), handMade: (await sh(h, "ipvsadm -Sn")).includes(handMade), daemons: await daemons(h),
        vip: await holds(h), keepalived: await keepalived(h),
    }]))),
    ...Object.fromEntries(await Promise.all(realServers.map(async (h) => [h, {
        lo: (await sh(h, "ip -o addr show dev lo")).includes(` ${vip}/32 `),
        arp: (await sh(h, "cat /proc/sys/net/ipv4/conf/lan0/arp_ignore /proc/sys/net/ipv4/conf/lan0/arp_announce"))
            .trim().split("\n"),
    }]))),
});

/** Waits on `h` itself until it holds the VIP (or, with `gone`, until it does not); the lab's clock (ms)
 * when it did, or undefined after `seconds`. */
async function until(h: string, seconds: number, gone = false): Promise<number | undefined> {
    const test = `ip -o addr show dev lan0 | grep -q ' ${vip}/32 '`;
    const out = await sh(h, `for i in $(seq ${seconds * 20}); do ${gone ? `! ${test}` : test} && ` +
        "{ date +%s%3N; exit 0; }; sleep 0.05; done; echo none");
    return out.trim() === "none" ? undefined : Number(out);
}
/** The VRRP state pulumi-lvs's keepalived last reported on `h` (vrrp.json). */
const vrrpState = async (h: string) =>
    JSON.parse((await sh(h, `cat ${state}/vrrp.json 2>/dev/null || echo '{}'`)).trim()).state as string | undefined;
async function untilState(h: string, want: string): Promise<void> {
    for (const deadline = Date.now() + 20_000; (await vrrpState(h)) !== want;) {
        if (Date.now() > deadline) throw new Error(`${h}'s VRRP state: ${await vrrpState(h)}, not ${want}`);
        await sleep(300);
    }
}

let stack: Stack;
let before: Awaited<ReturnType<typeof scene>>;
const stops: Array<() => Promise<void>> = [];
const figures: string[] = [];
beforeAll(async () => {
    for (const h of directors)
        expect(await daemons(h), `a sync daemon already runs on ${h}: another test owns it`).toEqual([]);
    for (const h of directors)
        await sh(h, `ipvsadm -D -t ${service} 2>/dev/null; ipvsadm -D -t 10.0.0.246:81 2>/dev/null; ` +
            `ipvsadm ${handMade}`);
    before = await scene();
    stack = await exampleStack("ha");
});
afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await sh("director1", "ip link set lan0 up").catch(() => undefined);
    await stack?.dispose();
    for (const h of directors) {
        const left = await daemons(h).catch(() => []);
        for (const s of ["master", "backup"]) if (left.some((l) => l.startsWith(`${s} `)))
            await sh(h, `ipvsadm --stop-daemon ${s}`).catch(() => undefined);
        await sh(h, `ipvsadm -D -t 10.0.0.246:81 2>/dev/null; true`).catch(() => undefined);
    }
    await closeLab();
    if (figures.length) console.log(`failover figures:\n  ${figures.join("\n  ")}`);
});

test("preview changes nothing on any host", async () => {
    const out = await stack.run("preview", "--diff");
    expect(out).toContain("+ 14 to create");
    expect(out).toMatch(/virtualRouterId\s*: 46/);
    expect(await scene()).toEqual(before);
});

test("up makes the same table and both sync daemons on each director; director1 takes the VIP, " +
    "and refresh reports each one's VRRP state", async () => {
    await stack.run("up", "--yes", "--skip-preview");
    for (const h of directors) {
        expect(await ours(h), h).toEqual(declared);
        expect(await daemons(h), h).toEqual([
            expect.stringMatching(/^backup sync daemon \(mcast=lan0, syncid=46, /),
            expect.stringMatching(/^master sync daemon \(mcast=lan0, syncid=46, /),
        ]);
        expect(await keepalived(h), h).toBe(true);
        // keepalived's configuration holds VRRP only: the IPVS table stays pulumi-lvs's.
        const conf = await sh(h, `cat ${state}/keepalived.conf`);
        expect(conf).toContain("virtual_router_id 46");
        expect(conf).not.toContain("virtual_server");
    }
    // Both start as backups; director1, of higher priority, becomes the master once no advertisement came.
    expect(await until("director1", 15)).toBeDefined();
    expect(await holds("director2")).toBe(false);
    await untilState("director1", "MASTER");
    await untilState("director2", "BACKUP");
    for (const [i, h] of realServers.entries()) stops.push(await webServer(h, [`${vip}:80`], `rs${i + 1}`));
    await stack.run("refresh", "--yes");
    expect(resourceOutputs(stack, "director1")?.vrrp).toMatchObject({ running: true, state: "MASTER", holds: [vip] });
    expect(resourceOutputs(stack, "director2")?.vrrp).toMatchObject({ running: true, state: "BACKUP", holds: [] });
});

test("the client's requests are balanced over the real servers; a second up and a refresh change nothing",
    async () => {
        await sh("client", `ip neigh flush to ${vip}`);
        const { counts, failures } = await fetchFromClient(`http://${service}/`, 12);
        expect(failures).toEqual([]);
        expect(counts).toEqual(Object.fromEntries(realServers.map((h) => [`${h} ${service}`, 4])));
        expect(await stack.run("up", "--yes", "--expect-no-changes")).toContain("14 unchanged");
        await stack.run("refresh", "--yes", "--expect-no-changes");
    });

/** Under traffic, `fail` breaks director1 (it returns the lab's clock, ms) and `heal` mends it: the VIP
 * moves to director2 and (with `back`) returns. The figures go to the closing report. */
async function failover(what: string, fail: () => Promise<number>, heal: () => Promise<number>, back: boolean) {
    const load = await startLoad(`http://${service}/`, 2, 2000);
    const hold = await startHold(service, 4);
    stops.push(load.kill, hold.kill);
    await sleep(3000);
    // The client's established connections that each director has, by client port: what it forwards them to.
    const tables = await Promise.all(directors.map(async (h) => Object.fromEntries((await sh(h, "ipvsadm -Lnc"))
        .split("\n").map((l) => l.trim().split(/\s+/))
        .filter((f) => f[2] === "ESTABLISHED" && f[4] === service && f[3]?.startsWith("10.0.0.100:"))
        .map((f) => [Number(f[3].split(":")[1]), f[5]]))));
    // Watched from director2 while director1 fails (a reboot takes a while to return).
    const watch = until("director2", 30);
    const t0 = await fail();
    const moved = await watch;
    expect(moved, `the VIP did not reach director2 after ${what}`).toBeDefined();
    await sleep(3000);
    const t1 = await heal();
    let returned: number | undefined;
    if (back) {
        returned = await until("director1", 30);
        expect(returned, `the VIP did not come back to director1 after ${what}`).toBeDefined();
        expect(await until("director2", 10, true)).toBeDefined();
    } else {
        // Not preempted: director1 comes back as the backup, and director2 keeps the VIP.
        await untilState("director1", "BACKUP");
        await sleep(3000);
        expect(await holds("director1")).toBe(false);
        expect(await holds("director2")).toBe(true);
    }
    await sleep(3000);
    const r: LoadResult = await load.stop();
    const held: HeldConnection[] = await hold.stop();
    const around = (t: number) => r.failures.filter((f) => f.end >= t - 1000 && f.start <= t + 15_000).length;
    const survived = held.filter((c) => !c.error);
    figures.push(`${what}: the VIP on director2 after ${((moved! - t0) / 1000).toFixed(2)} s, ` +
        `${around(t0)} short requests failed around it; ` + (back
        ? `back on director1 ${((returned! - t1) / 1000).toFixed(2)} s after it was mended, ` +
            `${around(t1)} failed around that; `
        : "director1 came back as the backup (not preempted); ") +
        `${r.ok} requests ok, ${r.failures.length} failed in all; long-lived connections: ${survived.length} of ` +
        `${held.length} survived (longest wait for an answer ` +
        `${Math.max(...held.map((c) => c.longestGapMs))} ms)` +
        (survived.length < held.length ? `; ended: ${held.filter((c) => c.error).map((c) => `port ${c.port} ` +
            `(${c.answers} answers; director1 had it ${tables[0][c.port!] ? "to " + tables[0][c.port!] : "not"}, ` +
            `director2 ${tables[1][c.port!] ? "to " + tables[1][c.port!] : "not"}): ${c.error}`).join("; ")}` : ""));
    // Every one whose entry director2 had before (the sync daemons' work) goes on through it.
    const synced = held.filter((c) => tables[1][c.port!]);
    expect(synced.map((c) => c.error ?? "survived"), JSON.stringify(held)).toEqual(synced.map(() => "survived"));
    expect(synced.length, `director2 had none of the long-lived connections: ${JSON.stringify(tables)}`)
        .toBeGreaterThan(0);
    return { t0, moved: moved!, r };
}

test("director1's keepalived killed with -9 is restarted a second later, and director1 keeps the VIP " +
    "or takes it back at once", async () => {
    const load = await startLoad(`http://${service}/`, 2, 2000);
    stops.push(load.kill);
    await sleep(2000);
    const t0 = Number(await sh("director1",
        `kill -9 $(cat ${state}/keepalived.pid) $(cat ${state}/keepalived-vrrp.pid); date +%s%3N`));
    // The lab's init restarts it after a second, as systemd does (Restart=always, RestartSec=1).
    for (const deadline = Date.now() + 15_000; !(await keepalived("director1"));) {
        if (Date.now() > deadline) throw new Error("keepalived did not come back on director1");
        await sleep(200);
    }
    const restarted = Number(await sh("director1", "date +%s%3N"));
    await untilState("director1", "MASTER");
    await sleep(4000);
    expect(await holds("director1")).toBe(true);
    expect(await holds("director2")).toBe(false);
    const r = await load.stop();
    figures.push(`keepalived killed with -9 on director1: running again after ` +
        `${((restarted - t0) / 1000).toFixed(2)} s; ${r.ok} requests ok, ${r.failures.length} failed`);
});

test("director1's interface down: director2 takes the VIP and the long-lived connections; up again, " +
    "director1 takes it back (preempt)", async () => {
    await failover("director1's lan0 down",
        async () => Number(await sh("director1", "ip link set lan0 down; date +%s%3N")),
        async () => Number(await sh("director1", "ip link set lan0 up; date +%s%3N")), true);
    await untilState("director1", "MASTER");
    await untilState("director2", "BACKUP");
});

test("with preempt false, a reboot of director1: director2 takes the VIP and keeps it; director1 restores " +
    "its table and comes back as the backup", async () => {
    await stack.config("preempt", "false");
    await stack.run("up", "--yes", "--skip-preview");
    // A reload of keepalived's configuration moves nothing.
    await sleep(3000);
    expect(await holds("director1")).toBe(true);
    await failover("a reboot of director1 (preempt false)",
        () => rebootHost("director1"),
        async () => {
            // The rebooted director's table is back (its restore runs before keepalived starts); the service
            // made by hand is not (it is not in pulumi-lvs's record): its maker puts it back.
            expect(await ours("director1")).toEqual(declared);
            await sh("director1", `ipvsadm ${handMade}`);
            return Number(await sh("director1", "date +%s%3N"));
        }, false);
    // Where the VIP is now is not drift.
    await stack.run("refresh", "--yes");
    await stack.run("preview", "--expect-no-changes");
    expect(resourceOutputs(stack, "director1")?.vrrp).toMatchObject({ running: true, state: "BACKUP", holds: [] });
    expect(resourceOutputs(stack, "director2")?.vrrp).toMatchObject({ state: "MASTER", holds: [vip] });
});

test("destroy stops keepalived and the daemons, removes the VIP and the services, and leaves the rest",
    async () => {
        await stack.run("destroy", "--yes", "--skip-preview");
        expect(await scene()).toEqual(before);
        // Only the lab's journal of it stays (keepalived.log).
        for (const h of directors)
            expect(await sh(h, `ls ${state}`), h).not.toMatch(/keepalived\.(conf|pid)|keepalived-vrrp|vrrp\.json/);
    });
