// examples/ipv6 end to end through the real Pulumi CLI: preview touches nothing; up makes exactly the
// declared IPv6 service and turns IPv6 forwarding on (Director ipv6Forward); the client's requests to
// [fd00::240]:80 are balanced round robin over three NAT real servers; a refresh and a second up change
// nothing; destroy leaves the table, the VIP and net.ipv6.conf.all.forwarding as they were.
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, sh } from "../lab";
import { exampleStack, Stack } from "../pulumi";
import { fetchFromClient, webServer } from "../traffic";

const vip = "[fd00::240]:80";
const backends = ["fd01::21", "fd01::22", "fd01::23"];
const forwarding = "cat /proc/sys/net/ipv6/conf/all/forwarding";
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n").filter((l) => l.includes(`-t ${vip} `));
const declared = [`-A -t ${vip} -s rr`, ...backends.map((r) => `-a -t ${vip} -r [${r}]:80 -m -w 1`)];
/** What this example may change on director1: its rules, its VIP, IPv6 forwarding. */
const scene = async () => [
    ...(await ours()),
    ...(await sh("director1", "ip -o -6 addr show dev lan0")).split("\n").filter((l) => l.includes(" fd00::240/")),
    (await sh("director1", forwarding)).trim(),
];

let stack: Stack | undefined;
let before: string[] = [];
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
    await sh("director1", `ipvsadm -D -t ${vip} 2>/dev/null; true`);
    before = await scene();
    stack = await exampleStack("ipv6");
    for (const [i, b] of backends.entries()) stops.push(await webServer(`rs${i + 1}`, [`[${b}]:80`]));
});
afterAll(async () => {
    await stack?.dispose();
    for (const stop of stops) await stop().catch(() => undefined);
    await closeLab();
});

test("preview changes nothing on the director", async () => {
    const out = await stack!.run("preview", "--diff");
    expect(out).toContain("+ 6 to create");
    expect(out).toMatch(/ipv6Forward\s*: true/);
    expect(await scene()).toEqual(before);
});

test("up makes exactly the declared service, forwards IPv6, and the client's requests are balanced " +
    "round robin", async () => {
    await stack!.run("up", "--yes", "--skip-preview");
    expect((await ours()).sort()).toEqual([...declared].sort());
    expect((await sh("director1", forwarding)).trim()).toBe("1");
    const { counts, failures } = await fetchFromClient(`http://${vip}/`, 12);
    expect(failures).toEqual([]);
    expect(counts).toEqual({ "rs1 [fd01::21]:80": 4, "rs2 [fd01::22]:80": 4, "rs3 [fd01::23]:80": 4 });
});

test("a refresh and a second up change nothing", async () => {
    await stack!.run("refresh", "--yes", "--expect-no-changes");
    expect(await stack!.run("up", "--yes", "--expect-no-changes")).toContain("6 unchanged");
});

test("IPv6 forwarding turned off by hand shows in refresh, and up turns it back on", async () => {
    await sh("director1", `echo 0 > /proc/sys/net/ipv6/conf/all/forwarding`);
    expect(await stack!.run("refresh", "--yes", "--diff")).toMatch(/~ ipv6Forward\s*: true => false/);
    await stack!.run("up", "--yes", "--skip-preview");
    expect((await sh("director1", forwarding)).trim()).toBe("1");
    await stack!.run("up", "--yes", "--expect-no-changes");
});

test("destroy leaves the director as it was, IPv6 forwarding included", async () => {
    await stack!.run("destroy", "--yes", "--skip-preview");
    expect(await ours()).toEqual([]);
    expect(await scene()).toEqual(before);
});
