// The list form end to end (test/real-servers through the real Pulumi CLI): a service's real servers as
// one RealServers. The plan names each real server's change, an up changes only those (one removed under
// load drains first, and no request fails), refresh shows drift made by hand per real server and up
// repairs it, an entry takes over a real server made by hand only with adopt, and destroy removes them all.
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, sh } from "../lab";
import { labStack, Stack } from "../pulumi";
import { fetchFromClient, startLoad, vmNow, webServer } from "../traffic";

const vip = "10.0.0.239:80";
const rs = { rs1: "10.1.0.21", rs2: "10.1.0.22", rs3: "10.1.0.23" };
const line = (address: string, port = 8239, weight = 1) => `-a -t ${vip} -r ${address}:${port} -m -w ${weight}`;
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n")
    .filter((l) => l.includes(`-t ${vip} `)).sort();
const record = async () => (await sh("director1", "cat /var/lib/pulumi-lvs/desired.json 2>/dev/null; true"))
    .match(/10\.0\.0\.239/g) ?? [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const drain = { timeout: 60 };

let stack: Stack;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
    stack = await labStack(path.join(__dirname, "..", "real-servers"));
    await sh("director1", `ipvsadm -D -t ${vip} 2>/dev/null; true`);
    stops.push(await webServer("rs1", [`${rs.rs1}:8239`]), await webServer("rs2", [`${rs.rs2}:8239`]),
        await webServer("rs3", [`${rs.rs3}:8239`, `${rs.rs3}:8240`]));
});

afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await stack?.dispose();
    await closeLab();
});

test("up makes the service and its three real servers; the traffic is balanced over them", async () => {
    const out = await stack.run("up", "--yes", "--skip-preview");
    expect(out).toContain("+ 4 created");
    expect(await ours()).toEqual([`-A -t ${vip} -s rr`, line(rs.rs1), line(rs.rs2), line(rs.rs3)].sort());
    const { counts, failures } = await fetchFromClient(`http://${vip}/`, 6);
    expect(failures).toEqual([]);
    expect(Object.values(counts)).toEqual([2, 2, 2]);
    expect(JSON.parse(await stack.run("stack", "output", "realServers", "--json")))
        .toEqual([`${rs.rs1}:8239`, `${rs.rs2}:8239`, `${rs.rs3}:8239`]);
});

test("the plan names each real server's change; the up under load makes only those, the removed one " +
    "drained first, and no request fails", async () => {
    await stack.config("realServers", JSON.stringify([{ address: rs.rs1, drain }, { address: rs.rs2, weight: 5, drain },
        { address: rs.rs3, port: 8240, drain }]));
    const preview = await stack.run("preview", "--diff");
    const lines = preview.split("\n").map((l) => l.trim());
    // Only what changes: rs2's weight, rs3's entry for 8239 removed, one for 8240 added (each with its settings).
    const plan = lines.slice(lines.indexOf("~ realServers: {"), lines.indexOf("--outputs:--"));
    expect(plan.filter((l) => / \{$/.test(l))).toEqual(["~ realServers: {", `~ ${rs.rs2}:8239: {`,
        `- ${rs.rs3}:8239: {`, "- drain         : {", `+ ${rs.rs3}:8240: {`, "+ drain         : {"]);
    expect(plan).toContain("~ weight: 1 => 5");
    expect(plan).toContain("+ port          : 8240");
    expect(preview).toContain("1 to update");

    const load = await startLoad(`http://${vip}/slow/2000`, 6);
    stops.push(load.kill);
    await sleep(6000);
    const t0 = await vmNow();
    const out = await stack.run("up", "--yes", "--skip-preview");
    const t1 = await vmNow();
    await sleep(4000);
    const result = await load.stop();
    expect(out).toContain("1 updated");
    expect(await ours()).toEqual([`-A -t ${vip} -s rr`, line(rs.rs1), line(rs.rs2, 8239, 5),
        line(rs.rs3, 8240)].sort());
    const drained = stack.trace().filter((l) => l.includes(" drained ") && l.includes(`${rs.rs3}:8239`));
    expect(drained).toHaveLength(1);
    const [, waited, left] = /waited ([\d.]+) s of 60 s, (\d+) active connections left/.exec(drained[0]) ?? [];
    expect(Number(waited)).toBeGreaterThan(0);
    expect(Number(left)).toBe(0);
    expect(result.failures).toEqual([]);
    const old = result.requests.filter((r) => r.server === `rs3 ${rs.rs3}:8239`);
    expect(old.filter((r) => r.start < t0).length).toBeGreaterThan(0);
    expect(old.filter((r) => r.start > t1)).toEqual([]);
    expect(result.requests.filter((r) => r.server === `rs3 ${rs.rs3}:8240` && r.start > t1).length)
        .toBeGreaterThan(0);
});

test("refresh shows what was changed by hand, per real server, and up puts it back", async () => {
    await sh("director1", `ipvsadm -e -t ${vip} -r ${rs.rs1}:8239 -m -w 9; ipvsadm -d -t ${vip} -r ${rs.rs2}:8239`);
    const refresh = await stack.run("refresh", "--yes", "--diff");
    const lines = refresh.split("\n").map((l) => l.trim());
    expect(lines).toContain(`~ ${rs.rs1}:8239: {`);
    expect(lines).toContain("~ weight: 1 => 9");
    expect(lines).toContain(`- ${rs.rs2}:8239: {`);
    const up = await stack.run("up", "--yes", "--diff");
    expect(up).toContain("1 updated");
    expect(await ours()).toEqual([`-A -t ${vip} -s rr`, line(rs.rs1), line(rs.rs2, 8239, 5),
        line(rs.rs3, 8240)].sort());
    await stack.run("up", "--yes", "--expect-no-changes");
});

test("an entry takes over a real server made by hand only with adopt", async () => {
    await sh("director1", `ipvsadm -a -t ${vip} -r ${rs.rs1}:8241 -m -w 7`);
    const list = [{ address: rs.rs1, drain }, { address: rs.rs2, weight: 5, drain },
        { address: rs.rs3, port: 8240, drain }];
    await stack.config("realServers", JSON.stringify([...list, { address: rs.rs1, port: 8241 }]));
    const refused = await stack.run("up", "--yes", "--skip-preview").then(() => "", (e: Error) => e.message);
    expect(refused).toMatch(new RegExp(`${rs.rs1.replace(/\./g, "\\.")}:8241[^\\n]*adopt`));
    expect(await ours()).toContain(line(rs.rs1, 8241, 7));
    await stack.config("realServers", JSON.stringify([...list, { address: rs.rs1, port: 8241, adopt: true }]));
    await stack.run("up", "--yes", "--skip-preview");
    expect(await ours()).toContain(line(rs.rs1, 8241));
    await stack.run("up", "--yes", "--expect-no-changes");
});

test("destroy removes the service and every real server, and the node's record forgets them", async () => {
    await stack.run("destroy", "--yes", "--skip-preview");
    expect(await ours()).toEqual([]);
    expect(await record()).toEqual([]);
});
