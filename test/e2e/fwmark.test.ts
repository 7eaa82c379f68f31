// examples/fwmark end to end through the real Pulumi CLI: nftables on director1 marks every packet to
// 10.0.0.241 and 10.0.0.242 with mark 1 (the test's scene, as a firewall would); preview touches
// nothing; up makes exactly the declared fwmark service; the client's connections to both VIPs, on two
// ports, all reach one real server (persistence), each on the port it asked for (real servers on port
// 0); a second up changes nothing; destroy leaves the table as it was.
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, sh } from "../lab";
import { exampleStack, Stack } from "../pulumi";
import { fetchFromClient, webServer } from "../traffic";

const mark = 1;
const vips = ["10.0.0.241", "10.0.0.242"];
const ports = [8241, 9241]; // our web servers' ports on the real servers' back addresses
const backends = ["10.1.0.21", "10.1.0.22", "10.1.0.23"];
const table = "pulumi_lvs_e2e_fwmark";
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n")
    .filter((l) => new RegExp(`^-[Aa] -f ${mark}( |$)`).test(l));
const declared = [`-A -f ${mark} -s rr -p 300`, ...backends.map((r) => `-a -f ${mark} -r ${r}:0 -m -w 1`)];
/** What this example may change on director1: its rules, its VIPs, IPv4 forwarding. */
const scene = async () => [
    ...(await ours()),
    ...(await sh("director1", "ip -o addr show dev lan0")).split("\n")
        .filter((l) => vips.some((v) => l.includes(` ${v}/`))),
    (await sh("director1", "cat /proc/sys/net/ipv4/ip_forward")).trim(),
];

let stack: Stack | undefined;
let before: string[] = [];
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
    await sh("director1", `ipvsadm -D -f ${mark} 2>/dev/null; nft delete table ip ${table} 2>/dev/null; true`);
    await sh("director1", [
        `nft add table ip ${table}`,
        `nft add chain ip ${table} prerouting '{ type filter hook prerouting priority mangle; }'`,
        `nft add rule ip ${table} prerouting ip daddr '{ ${vips.join(", ")} }' meta mark set ${mark}`,
    ].join(" && "));
    before = await scene();
    stack = await exampleStack("fwmark");
    for (const [i, b] of backends.entries()) stops.push(await webServer(`rs${i + 1}`, ports.map((p) => `${b}:${p}`)));
});
afterAll(async () => {
    await stack?.dispose();
    for (const stop of stops) await stop().catch(() => undefined);
    await sh("director1", `nft delete table ip ${table} 2>/dev/null; true`).catch(() => undefined);
    await closeLab();
});

test("the scene: nftables on director1 marks the VIPs' packets", async () => {
    expect(await sh("director1", `nft list table ip ${table}`))
        .toMatch(new RegExp(`ip daddr \\{ ${vips.join(", ")} \\} meta mark set 0x0*${mark}`));
    expect(await ours()).toEqual([]);
});

test("preview changes nothing on the director", async () => {
    const out = await stack!.run("preview", "--diff");
    expect(out).toContain("+ 6 to create");
    expect(await scene()).toEqual(before);
});

test("up makes exactly the declared fwmark service; every connection of the client, to either VIP on any port, " +
    "reaches one real server on the port it asked for", async () => {
    await stack!.run("up", "--yes", "--skip-preview");
    expect((await ours()).sort()).toEqual([...declared].sort());
    expect((await sh("director1", "cat /proc/sys/net/ipv4/ip_forward")).trim()).toBe("1");
    const seen: Record<string, number> = {};
    for (const vip of vips) for (const port of ports) {
        const { counts, failures } = await fetchFromClient(`http://${vip}:${port}/`, 4);
        expect(failures).toEqual([]);
        const answers = Object.keys(counts);
        expect(answers.length).toBe(1);
        expect(answers[0]).toMatch(new RegExp(`^rs[123] 10\\.1\\.0\\.2[123]:${port}$`));
        seen[answers[0].split(" ")[0]] = (seen[answers[0].split(" ")[0]] ?? 0) + counts[answers[0]];
    }
    // Persistence groups the whole mark: one real server got all 16 connections.
    expect(Object.values(seen)).toEqual([16]);
    const [rs] = Object.keys(seen);
    const rip = `10.1.0.2${rs.slice(2)}`;
    // The kernel's persistence template: the client, the mark (as an address), the real server, port 0.
    const conns = (await sh("director1", "ipvsadm -Lnc")).split("\n").map((l) => l.trim().split(/\s+/));
    expect(conns).toContainEqual(["IP", expect.stringMatching(/^\d\d:\d\d$/), expect.any(String), "10.0.0.100:0",
        `0.0.0.${mark}:0`, `${rip}:0`]);
});

test("a second up changes nothing", async () => {
    const out = await stack!.run("up", "--yes", "--expect-no-changes");
    expect(out).toContain("6 unchanged");
});

test("destroy leaves the director as it was", async () => {
    await stack!.run("destroy", "--yes", "--skip-preview");
    expect(await ours()).toEqual([]);
    expect(await scene()).toEqual(before);
});
