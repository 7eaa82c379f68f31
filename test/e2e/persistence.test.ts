// examples/persistence end to end through the real Pulumi CLI: preview touches nothing; up makes
// exactly the declared persistent services; the client's connections to 10.0.0.243:443 all reach one
// real server, and the kernel's persistence template holds the client's /24 network (netmask
// 255.255.255.0), not the client; its connections to 10.0.0.244 on two ports (the port-0 catch-all)
// all reach one real server, each on the port it asked for; a second up and a refresh change nothing;
// destroy leaves the table as it was.
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, sh } from "../lab";
import { exampleStack, Stack } from "../pulumi";
import { fetchFromClient, webServer } from "../traffic";

const https = "10.0.0.243:443", anyPort = "10.0.0.244:0";
const anyPorts = [8244, 9244]; // the ports the client tries on 10.0.0.244 (our web servers' ports)
const backends = ["10.1.0.21", "10.1.0.22", "10.1.0.23"];
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n")
    .filter((l) => l.includes(`-t ${https} `) || l.includes(`-t ${anyPort} `));
const declared = [
    `-A -t ${https} -s rr -p 600 -M 255.255.255.0`,
    ...backends.map((r) => `-a -t ${https} -r ${r}:443 -m -w 1`),
    `-A -t ${anyPort} -s rr -p 300`,
    ...backends.map((r) => `-a -t ${anyPort} -r ${r}:0 -m -w 1`),
];
/** What this example may change on director1: its rules, its VIPs, IPv4 forwarding. */
const scene = async () => [
    ...(await ours()),
    ...(await sh("director1", "ip -o addr show dev lan0")).split("\n")
        .filter((l) => l.includes(" 10.0.0.243/") || l.includes(" 10.0.0.244/")),
    (await sh("director1", "cat /proc/sys/net/ipv4/ip_forward")).trim(),
];
/** The kernel's connection table on director1, one array of fields per entry. */
const connections = async () => (await sh("director1", "ipvsadm -Lnc")).split("\n").map((l) => l.trim().split(/\s+/));
/** The one real server that answered every request, checking each answer's port. */
function oneServer(results: Array<{ port: number; counts: Record<string, number>; failures: string[] }>): string {
    const servers = new Set<string>();
    for (const { port, counts, failures } of results) {
        expect(failures).toEqual([]);
        for (const answer of Object.keys(counts)) {
            expect(answer).toMatch(new RegExp(`^rs[123] 10\\.1\\.0\\.2[123]:${port}$`));
            servers.add(answer.split(" ")[1].split(":")[0]);
        }
    }
    expect(servers.size).toBe(1);
    return [...servers][0];
}

let stack: Stack | undefined;
let before: string[] = [];
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
    await sh("director1", `ipvsadm -D -t ${https} 2>/dev/null; ipvsadm -D -t ${anyPort} 2>/dev/null; true`);
    before = await scene();
    stack = await exampleStack("persistence");
    for (const [i, b] of backends.entries())
        stops.push(await webServer(`rs${i + 1}`, [443, ...anyPorts].map((p) => `${b}:${p}`)));
});
afterAll(async () => {
    await stack?.dispose();
    for (const stop of stops) await stop().catch(() => undefined);
    await closeLab();
});

test("preview changes nothing on the director", async () => {
    const out = await stack!.run("preview", "--diff");
    expect(out).toContain("+ 10 to create");
    expect(await scene()).toEqual(before);
});

test("up makes exactly the declared persistent services", async () => {
    await stack!.run("up", "--yes", "--skip-preview");
    expect((await ours()).sort()).toEqual([...declared].sort());
    expect((await sh("director1", "cat /proc/sys/net/ipv4/ip_forward")).trim()).toBe("1");
});

test("443: every connection of the client reaches one real server, remembered for its /24 network", async () => {
    const rip = oneServer([{ port: 443, ...(await fetchFromClient(`http://${https}/`, 12)) }]);
    // The persistence template: client address masked with 255.255.255.0, port 0, to the real server.
    expect(await connections()).toContainEqual(["TCP", expect.stringMatching(/^\d\d:\d\d$/), expect.any(String),
        "10.0.0.0:0", https, `${rip}:443`]);
    expect(await connections()).not.toContainEqual(expect.arrayContaining(["10.0.0.100:0", https]));
});

test("port 0: the client's connections on any port reach one real server, each on the port it asked for", async () => {
    const results = [];
    for (const port of anyPorts) for (let round = 0; round < 2; round++)
        results.push({ port, ...(await fetchFromClient(`http://10.0.0.244:${port}/`, 3)) });
    const rip = oneServer(results);
    expect(results.reduce((n, r) => n + Object.values(r.counts).reduce((a, b) => a + b, 0), 0)).toBe(12);
    // The catch-all's template: the client, the VIP and the real server, all on port 0.
    expect(await connections()).toContainEqual(["TCP", expect.stringMatching(/^\d\d:\d\d$/), expect.any(String),
        "10.0.0.100:0", anyPort, `${rip}:0`]);
});

test("a second up and a refresh change nothing", async () => {
    expect(await stack!.run("up", "--yes", "--expect-no-changes")).toContain("10 unchanged");
    await stack!.run("refresh", "--yes", "--expect-no-changes");
});

test("destroy leaves the director as it was", async () => {
    await stack!.run("destroy", "--yes", "--skip-preview");
    expect(await ours()).toEqual([]);
    expect(await scene()).toEqual(before);
});
