// examples/nat end to end through the real Pulumi CLI: preview touches nothing; up makes exactly the
// declared table; traffic from the client is balanced round robin; a second up changes nothing; drift
// made by hand shows in refresh and is repaired by up; a service made by hand is never touched;
// destroy leaves the table as it was. The key is given inline here (a secret input of every resource,
// where the other examples' tests name the stack's credentials): the state holds no key material in
// plaintext, and a thin provider.
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, lab, sh } from "../lab";
import { exampleStack, Stack } from "../pulumi";
import { fetchFromClient, webServer } from "../traffic";

const vip = "10.0.0.240:80";
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n")
    .filter((l) => l.includes(` ${vip} `) || l.endsWith(` ${vip}`) || l.includes(`-t ${vip}`));
const declared = [
    `-A -t ${vip} -s rr`,
    ...["10.1.0.21:80", "10.1.0.21:8080", "10.1.0.22:80", "10.1.0.22:8080", "10.1.0.23:80"]
        .map((r) => `-a -t ${vip} -r ${r} -m -w 1`),
];
const handMade = "-A -t 10.0.0.249:80 -s wrr";

let stack: Stack;
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
    stack = await exampleStack("nat");
    await stack.config("privateKey", fs.readFileSync(lab().privateKeyPath, "utf8"), true);
    await sh("director1", `ipvsadm -D -t ${vip} 2>/dev/null; ipvsadm -D -t 10.0.0.249:80 2>/dev/null; ` +
        `ipvsadm ${handMade}`);
    stops.push(await webServer("rs1", ["10.1.0.21:80", "10.1.0.21:8080"]),
        await webServer("rs2", ["10.1.0.22:80", "10.1.0.22:8080"]),
        await webServer("rs3", ["10.1.0.23:80"]));
});
afterAll(async () => {
    await stack?.dispose();
    for (const stop of stops) await stop();
    await sh("director1", "ipvsadm -D -t 10.0.0.249:80 2>/dev/null; true");
    await closeLab();
});

test("preview changes nothing on the director", async () => {
    const scene = async () => [...await ours(),
        await sh("director1", "ip -o addr show dev lan0 | grep -c 10.0.0.240; true")];
    const before = await scene();
    const out = await stack.run("preview", "--diff");
    expect(out).toContain("+ 8 to create");
    expect(await scene()).toEqual(before);
});

test("up makes exactly the declared table over one SSH connection, and the client's requests are balanced " +
    "round robin", async () => {
    const before = stack.trace().length;
    await stack.run("up", "--yes", "--skip-preview");
    // One SSH connection for the eight resources on director1 (and the agent uploaded at most once).
    expect(stack.trace().slice(before).filter((l) => l.includes(" connected to "))
        .map((l) => l.split(" connected to ")[1]))
        .toEqual(["root@127.0.0.1:22201"]);
    expect((await ours()).sort()).toEqual([...declared].sort());
    expect((await sh("director1", "cat /proc/sys/net/ipv4/ip_forward")).trim()).toBe("1");
    const { counts, failures } = await fetchFromClient(`http://${vip}/`, 20);
    expect(failures).toEqual([]);
    expect(counts).toEqual({ "rs1 10.1.0.21:80": 4, "rs1 10.1.0.21:8080": 4, "rs2 10.1.0.22:80": 4,
        "rs2 10.1.0.22:8080": 4, "rs3 10.1.0.23:80": 4 });
});

test("a second up changes nothing", async () => {
    const out = await stack.run("up", "--yes", "--expect-no-changes");
    expect(out).toContain("8 unchanged");
});

test("a node record the agent cannot read fails the refresh, naming the file and the record before it", async () => {
    const good = await sh("director1", "cat /var/lib/pulumi-lvs/desired.json");
    try {
        await sh("director1", "printf '{torn' > /var/lib/pulumi-lvs/desired.json");
        await expect(stack.run("refresh", "--yes")).rejects.toThrow(new RegExp(
            /\/var\/lib\/pulumi-lvs\/desired\.json is not a record of what pulumi-lvs applied /.source +
                /that this agent reads .*the record before the last change is /.source +
                /\/var\/lib\/pulumi-lvs\/desired\.prev\.json/.source));
    } finally {
        await sh("director1", "cat > /var/lib/pulumi-lvs/desired.json", good);
    }
    await stack.run("up", "--yes", "--expect-no-changes");
});

test("drift made by hand shows in refresh, and up repairs it", async () => {
    await sh("director1", `ipvsadm -e -t ${vip} -r 10.1.0.22:80 -m -w 7 && ipvsadm -d -t ${vip} -r 10.1.0.23:80`);
    const refresh = await stack.run("refresh", "--yes", "--diff");
    expect(refresh).toMatch(/~ weight\s*: 1 => 7/);
    expect(refresh).toMatch(/RealServer: \(delete\)\s*\[id=[^\]]*\/10\.1\.0\.23:80\]/);
    await expect(stack.run("preview", "--expect-no-changes")).rejects.toThrow(/no changes were expected/);
    // The repair's plan marks the field that changes, with both values (a detailed diff against the refreshed state).
    const plan = await stack.run("preview", "--diff");
    expect(plan).toMatch(/~ weight\s*: 7 => 1/);
    await stack.run("up", "--yes", "--skip-preview");
    expect((await ours()).sort()).toEqual([...declared].sort());
    await stack.run("up", "--yes", "--expect-no-changes");
});

test("neither the state nor Pulumi's logs hold key material, and the state holds a thin provider", async () => {
    const state = fs.readFileSync(stack.stateFile(), "utf8");
    const key = fs.readFileSync(lab().privateKeyPath, "utf8").split("\n")[1];
    expect(state).not.toContain(key);
    const connections = JSON.parse(state).checkpoint.latest.resources
        .map((r: { inputs?: { connection?: unknown } }) => r.inputs?.connection).filter(Boolean);
    expect(connections.length).toBe(7);
    for (const c of connections) expect(JSON.stringify(c)).toContain("ciphertext"); // the key, encrypted
    const logs = path.join(process.env.PULUMI_HOME!, "logs");
    const ours = fs.readdirSync(logs).filter((f) => f.includes(`+${stack.name}-`));
    expect(ours.length).toBeGreaterThan(0);
    for (const f of ours) expect(fs.readFileSync(path.join(logs, f), "utf8")).not.toContain(key);
    const providers = JSON.parse(state).checkpoint.latest.resources
        .map((r: { inputs?: { __provider?: string } }) => r.inputs?.__provider).filter(Boolean);
    expect(providers.length).toBe(7);
    for (const p of providers) {
        expect(p.length).toBeLessThan(4096);
        expect(p).toContain('require("pulumi-lvs/lib/provider/resources")');
    }
});

test("destroy leaves the table as it was, and the hand-made service untouched", async () => {
    expect(await sh("director1", "ipvsadm -Sn")).toContain(handMade);
    await stack.run("destroy", "--yes", "--skip-preview");
    expect(await ours()).toEqual([]);
    expect(await sh("director1", "ipvsadm -Sn")).toContain(handMade);
    expect(await sh("director1", "ip -o addr show dev lan0")).not.toContain("10.0.0.240");
});
