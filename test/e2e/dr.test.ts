// examples/dr end to end through the real Pulumi CLI: preview touches nothing; up makes exactly the
// declared table, puts the VIP on each real server's lo with ARP for it silenced, and sets the DoS
// sysctls on the director; the client's requests reach all three real servers directly; a second up
// changes nothing; drift made by hand shows in refresh and up repairs it; destroy puts every sysctl
// back as it was before the test and removes the VIPs.
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, rebootHost, sh } from "../lab";
import { exampleStack, Stack } from "../pulumi";
import { fetchFromClient, webServer } from "../traffic";

const vip = "10.0.0.245";
const service = `${vip}:80`;
const realServers = ["rs1", "rs2", "rs3"];
const arpSysctls = ["all", "lan0"].flatMap((i) => [`net/ipv4/conf/${i}/arp_ignore`, `net/ipv4/conf/${i}/arp_announce`]);
const dosSysctls = ["drop_entry", "drop_packet", "secure_tcp", "amemthresh", "am_droprate", "expire_nodest_conn",
    "expire_quiescent_template", "conntrack", "conn_reuse_mode"].map((n) => `net/ipv4/vs/${n}`);

const read = async (host: string, names: string[]) =>
    (await sh(host, names.map((n) => `cat /proc/sys/${n}`).join("; "))).trim().split("\n");
const lo = async (host: string) => (await sh(host, "ip -o addr show dev lo")).trim().split("\n")
    .map((l) => l.split(/\s+/).slice(1, 4).join(" "));
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n").filter((l) => l.includes(`-t ${service}`));
/** Everything the stack may change outside the IPVS table, on every host it touches. */
const scene = async () => ({
    director1: [...await read("director1", dosSysctls),
        (await sh("director1", "ip -o addr show dev lan0")).includes(` ${vip}/`)],
    ...Object.fromEntries(await Promise.all(realServers.map(async (h) =>
        [h, [...await read(h, arpSysctls), ...await lo(h)]]))),
});
const declared = [`-A -t ${service} -s wlc`,
    ...["10.0.0.21", "10.0.0.22", "10.0.0.23"].map((a) => `-a -t ${service} -r ${a}:80 -g -w 1`)];

let stack: Stack;
let before: Awaited<ReturnType<typeof scene>>;
const announce = "net/ipv4/conf/lan0/arp_announce";
let rs1Announce: string | undefined;
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
    stack = await exampleStack("dr");
    await sh("director1", `ipvsadm -D -t ${service} 2>/dev/null; true`);
    // A value that is neither the kernel's default nor the declared one, so destroy must restore what it found.
    rs1Announce = (await read("rs1", [announce]))[0];
    await sh("rs1", `echo 1 > /proc/sys/${announce}`);
    before = await scene();
});
afterAll(async () => {
    for (const stop of stops) await stop();
    await stack?.dispose();
    if (rs1Announce !== undefined) await sh("rs1", `echo ${rs1Announce} > /proc/sys/${announce}`);
    await closeLab();
});

test("preview changes nothing on any host", async () => {
    const out = await stack.run("preview", "--diff");
    expect(out).toContain("+ 10 to create");
    expect(await ours()).toEqual([]);
    expect(await scene()).toEqual(before);
});

test("up makes the declared table, the VIP on each real server's lo with ARP silenced, " +
    "and the DoS sysctls", async () => {
    await stack.run("up", "--yes", "--skip-preview");
    expect((await ours()).sort()).toEqual([...declared].sort());
    expect(await sh("director1", "ip -o addr show dev lan0")).toContain(` ${vip}/32 `);
    for (const h of realServers) {
        expect(await sh(h, "ip -o addr show dev lo")).toContain(` ${vip}/32 `);
        expect(await read(h, arpSysctls)).toEqual(["1", "2", "1", "2"]);
    }
    // dropEntry auto reads 1 or 2 (the kernel flips it); secureTcp off; amemthresh 2048.
    const [dropEntry, , secureTcp, amemthresh] = await read("director1", dosSysctls);
    expect(["1", "2"]).toContain(dropEntry);
    expect([secureTcp, amemthresh]).toEqual(["0", "2048"]);
});

test("the client's requests reach all three real servers directly", async () => {
    for (const h of realServers) stops.push(await webServer(h, [service]));
    const { counts, failures } = await fetchFromClient(`http://${service}/`, 30);
    expect(failures).toEqual([]);
    expect(Object.keys(counts).sort()).toEqual(realServers.map((h) => `${h} ${service}`));
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(30);
});

test("a second up changes nothing", async () => {
    const out = await stack.run("up", "--yes", "--expect-no-changes");
    expect(out).toContain("10 unchanged");
});

test("after a reboot of director1 and rs1, the rules are back before any pulumi command runs, " +
    "and refresh finds no drift", async () => {
    // What the stack holds on each: the table, its DoS sysctls (auto reads 1 or 2), the VIP; the ARP sysctls and lo.
    const director1 = async () => {
        const [dropEntry, , secureTcp, amemthresh] = await read("director1", dosSysctls);
        return [...await ours(), ["1", "2"].includes(dropEntry) ? "auto" : dropEntry, secureTcp, amemthresh,
            (await sh("director1", "ip -o addr show dev lan0")).includes(` ${vip}/32 `)];
    };
    const rs1 = async () => [...await read("rs1", arpSysctls), ...await lo("rs1")];
    const was = { director1: await director1(), rs1: await rs1() };
    // Made by hand, so not pulumi-lvs's to restore: it must be gone after the reboot.
    await sh("director1", `ipvsadm -A -t ${vip}:81`);
    await rebootHost("director1");
    await rebootHost("rs1");
    expect(await sh("director1", `ipvsadm -Sn | grep -c -- "-t ${vip}:81"; true`)).toBe("0\n");
    expect(await director1()).toEqual(was.director1);
    expect(await rs1()).toEqual(was.rs1);
    expect(JSON.parse(await sh("director1", "cat /var/lib/pulumi-lvs/restore.log")).actions)
        .toContain(`added service tcp/${service}`);
    expect(JSON.parse(await sh("rs1", "cat /var/lib/pulumi-lvs/restore.log")).actions)
        .toContain(`added address ${vip}/32 on lo`);
    await stack.run("refresh", "--yes", "--expect-no-changes");
    stops.push(await webServer("rs1", [service]));
    const { counts, failures } = await fetchFromClient(`http://${service}/`, 30);
    expect(failures).toEqual([]);
    expect(Object.keys(counts).sort()).toEqual(realServers.map((h) => `${h} ${service}`));
    // The reboot put the IPVS sysctls the stack does not declare back to the kernel's defaults: destroy leaves those.
    const now = await read("director1", dosSysctls);
    for (const i of [1, 4, 5, 6, 7, 8]) before.director1[i] = now[i];
});

test("drift made by hand on a real server and on the director shows in refresh, and up repairs it", async () => {
    await sh("rs2", "echo 0 > /proc/sys/net/ipv4/conf/lan0/arp_ignore; ip addr del 10.0.0.245/32 dev lo");
    await sh("director1", "echo 3 > /proc/sys/net/ipv4/vs/secure_tcp");
    const refresh = await stack.run("refresh", "--yes", "--diff");
    expect(refresh).toMatch(/net\.ipv4\.conf\.lan0\.arp_ignore"?\s*: 1 => 0/);
    expect(refresh).toMatch(/secureTcp\s*: "off" => "always"/);
    await expect(stack.run("preview", "--expect-no-changes")).rejects.toThrow(/no changes were expected/);
    await stack.run("up", "--yes", "--skip-preview");
    expect(await read("rs2", arpSysctls)).toEqual(["1", "2", "1", "2"]);
    expect(await sh("rs2", "ip -o addr show dev lo")).toContain(` ${vip}/32 `);
    expect((await read("director1", dosSysctls))[2]).toBe("0");
    await stack.run("up", "--yes", "--expect-no-changes");
});

test("destroy puts every sysctl back as it was and removes the VIPs", async () => {
    for (const stop of stops.splice(0)) await stop();
    await stack.run("destroy", "--yes", "--skip-preview");
    expect(await ours()).toEqual([]);
    expect(await scene()).toEqual(before);
});
