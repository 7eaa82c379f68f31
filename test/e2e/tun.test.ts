// examples/tun end to end through the real Pulumi CLI: preview touches nothing (not even module ipip);
// up makes exactly the declared table, loads ipip on each real server before it plans the rest (so tunl0
// exists for the VIP and tunl0's rp_filter), puts the VIP on tunl0 with the reverse-path filter off and
// ARP for it silenced; the client's requests reach all three real servers through the IPIP tunnels; a
// second up changes nothing; destroy puts every sysctl back as it was before the test and removes the VIPs.
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, lab, sh } from "../lab";
import { exampleStack, Stack } from "../pulumi";
import { fetchFromClient, webServer } from "../traffic";

const vip = "10.0.0.248";
const service = `${vip}:80`;
const realServers = ["rs1", "rs2", "rs3"];
const conf = (i: string, name: string) => `net/ipv4/conf/${i}/${name}`;
const arpSysctls = ["all", "lan0"].flatMap((i) => [conf(i, "arp_ignore"), conf(i, "arp_announce")]);
const allRp = conf("all", "rp_filter");
const tunlRp = conf("tunl0", "rp_filter");
const defaultRp = conf("default", "rp_filter");

const read = async (host: string, names: string[]) =>
    (await sh(host, names.map((n) => `cat /proc/sys/${n}`).join("; "))).trim().split("\n");
const ipipLoaded = async (host: string) => (await sh(host, "grep -c '^ipip ' /proc/modules; true")).trim() === "1";
// Not `ip link show tunl0`: asking for a device by a name that is missing makes the kernel load the module
// of that name's alias (netdev-tunl0 is ipip), which would load ipip before up does.
const hasTunl0 = async (host: string) =>
    (await sh(host, "[ -d /proc/sys/net/ipv4/conf/tunl0 ] && echo yes || echo no")).trim() === "yes";
/** tunl0's addresses ("inet 10.0.0.248/32"), or null when there is no tunl0. */
const tunl0 = async (host: string) => (await hasTunl0(host))
    ? (await sh(host, "ip -o addr show dev tunl0")).trim().split("\n").filter(Boolean)
        .map((l) => l.split(/\s+/).slice(2, 4).join(" "))
    : null;
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n").filter((l) => l.includes(`-t ${service}`));
/** A real server's side: the arp sysctls, rp_filter on all and on tunl0 (null without tunl0), tunl0's addresses. */
const realServerScene = async (h: string) => ({
    sysctls: await read(h, [...arpSysctls, allRp]),
    tunl0RpFilter: (await hasTunl0(h)) ? (await read(h, [tunlRp]))[0] : null,
    tunl0: await tunl0(h),
});
/** Everything the stack may change outside the IPVS table, on every host it touches. */
const scene = async () => ({
    director1: (await sh("director1", "ip -o addr show dev lan0")).includes(` ${vip}/`),
    ...Object.fromEntries(await Promise.all(realServers.map(async (h) => [h, await realServerScene(h)]))),
});
const declared = [`-A -t ${service} -s rr`,
    ...["10.0.0.21", "10.0.0.22", "10.0.0.23"].map((a) => `-a -t ${service} -r ${a}:80 -i -w 1 --tun-type ipip`)];

let stack: Stack;
let before: Awaited<ReturnType<typeof scene>>;
/** Whether beforeAll could unload ipip, so that up must load it (the lab's hosts share one kernel). */
let unloaded = false;
/** What a tunl0 that up creates starts with: each real server's conf/default/rp_filter. */
const bornRp: Record<string, string> = {};
/** rs1's values the test changes to set the scene, put back in afterAll. */
const rs1Saved: Record<string, string> = {};
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
    stack = await exampleStack("tun");
    await sh("director1", `ipvsadm -D -t ${service} 2>/dev/null; true`);
    // ipip is one module for every network namespace of the lab's one kernel. Unload it, so that up has to
    // load it before it plans the VIP on tunl0 and tunl0's rp_filter, unless some host holds an address on
    // its tunl0 (another test's state) or something else holds the module; then it stays, which other tests allow.
    const hosts = Object.keys(lab().hosts);
    const held = (await Promise.all(hosts.map(async (h) => (await tunl0(h))?.length ?? 0))).some((n) => n > 0);
    if (!held && await ipipLoaded("rs1")) await sh("rs1", "/lab/bin/busybox rmmod ipip 2>&1; true");
    unloaded = !(await ipipLoaded("rs1"));
    if (!unloaded) console.warn(`ipip stays loaded (${held ? "a tunl0 holds an address" : "the module is in use"}): ` +
        `this run does not show that up loads it`);
    if (unloaded) for (const h of realServers)
        expect(await hasTunl0(h), `tunl0 on ${h} after ipip was unloaded`).toBe(false);
    // Values that are neither the kernel's default nor the declared ones, so destroy must restore what it found:
    // rp_filter 2 (loose) on rs1's all, and 1 on its tunl0 (through conf/default when up is to create tunl0).
    for (const n of [allRp, defaultRp, ...(unloaded ? [] : [tunlRp])]) rs1Saved[n] = (await read("rs1", [n]))[0];
    await sh("rs1", `echo 2 > /proc/sys/${allRp}; echo 1 > /proc/sys/${unloaded ? defaultRp : tunlRp}`);
    for (const h of realServers) bornRp[h] = (await read(h, [defaultRp]))[0];
    before = await scene();
});
afterAll(async () => {
    for (const stop of stops) await stop();
    await stack?.dispose();
    if (rs1Saved[allRp] !== undefined) {
        // A tunl0 that up created takes the value conf/default had before the test, as if it had been born then.
        const tunl0Was = rs1Saved[tunlRp] ?? rs1Saved[defaultRp];
        await sh("rs1", `echo ${rs1Saved[allRp]} > /proc/sys/${allRp}; ` +
            `echo ${rs1Saved[defaultRp]} > /proc/sys/${defaultRp}; ` +
            `[ -e /proc/sys/${tunlRp} ] && echo ${tunl0Was} > /proc/sys/${tunlRp}; true`);
    }
    await closeLab();
});

test("preview changes nothing on any host (and loads no module)", async () => {
    const out = await stack.run("preview", "--diff");
    expect(out).toContain("+ 9 to create");
    expect(await ours()).toEqual([]);
    expect(await scene()).toEqual(before);
    if (unloaded) expect(await ipipLoaded("rs1")).toBe(false);
});

test("up makes the declared table and, on each real server, ipip loaded, the VIP on tunl0, rp_filter off " +
    "and ARP silenced", async () => {
    await stack.run("up", "--yes", "--skip-preview");
    expect((await ours()).sort()).toEqual([...declared].sort());
    expect(await sh("director1", "ip -o addr show dev lan0")).toContain(` ${vip}/32 `);
    for (const h of realServers) {
        expect(await ipipLoaded(h)).toBe(true);
        expect(await sh(h, "ip -o link show tunl0")).toMatch(/tunl0@NONE: <[^>]*\bUP\b/);
        expect(await tunl0(h)).toEqual([`inet ${vip}/32`]);
        expect(await read(h, [tunlRp, allRp])).toEqual(["0", "0"]);
        expect(await read(h, arpSysctls)).toEqual(["1", "2", "1", "2"]);
    }
});

test("the client's requests reach all three real servers through the tunnels", async () => {
    // After up: the web servers listen on the VIP, which must be on tunl0 first.
    for (const h of realServers) stops.push(await webServer(h, [service]));
    const received = async () => Object.fromEntries(await Promise.all(realServers.map(async (h) =>
        [h, Number((await sh(h, "cat /sys/class/net/tunl0/statistics/rx_packets")).trim())])));
    const rx = await received();
    const { counts, failures } = await fetchFromClient(`http://${service}/`, 30);
    expect(failures).toEqual([]);
    expect(Object.keys(counts).sort()).toEqual(realServers.map((h) => `${h} ${service}`));
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(30);
    // The requests came in IPIP: each real server's tunl0 decapsulated packets.
    const after = await received();
    for (const h of realServers) expect(after[h], `tunl0 rx_packets on ${h}`).toBeGreaterThan(rx[h]);
});

test("a second up changes nothing", async () => {
    const out = await stack.run("up", "--yes", "--expect-no-changes");
    expect(out).toContain("9 unchanged");
});

test("destroy puts every sysctl back as it was and removes the VIPs " +
    "(tunl0 stays: the module is not unloaded)", async () => {
    for (const stop of stops.splice(0)) await stop();
    await stack.run("destroy", "--yes", "--skip-preview");
    expect(await ours()).toEqual([]);
    // A module is never unloaded (other namespaces of the kernel, or other stacks, may use it), so tunl0 stays,
    // without the VIP, and with the rp_filter it had: from before the test, or the one it was created with.
    const expected = Object.fromEntries(Object.entries(before).map(([h, s]) => [h, h === "director1" ? s : {
        ...(s as Awaited<ReturnType<typeof realServerScene>>),
        tunl0RpFilter: (s as Awaited<ReturnType<typeof realServerScene>>).tunl0RpFilter ?? bornRp[h],
        tunl0: (s as Awaited<ReturnType<typeof realServerScene>>).tunl0 ?? [],
    }]));
    expect(await scene()).toEqual(expected);
    for (const h of realServers) expect(await ipipLoaded(h)).toBe(true);
});
