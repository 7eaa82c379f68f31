// A state written by an earlier build still refreshes, updates and deletes with this one. The earlier
// build is made from git (OLD: the last commit before the layout of provider/model), the program of
// test/upgrade is deployed with it through the real Pulumi CLI (its node_modules/pulumi-lvs points at that
// build), and then, with the link gone (the program and the state's provider stub find this checkout), a
// refresh and a preview show no change, an update of a weight and of an attribute the earlier build did
// not have (DosProtection.sloppyTcp) reaches the kernel, the key moves from every resource (inline, as the
// earlier build takes it) to the stack's credentials without a change on a node, and a destroy leaves
// nothing of it on the nodes. Owns VIP 10.0.0.238 on director1 (ports 80, 81), rs1's back port 8238,
// rs3's lo address 10.0.0.238, sync id 38.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, lab, sh } from "../lab";
import { labStack, Stack } from "../pulumi";

const OLD = "7f3987d";
const repo = path.join(__dirname, "..", "..");
const program = path.join(repo, "test", "upgrade");
const link = path.join(program, "node_modules", "pulumi-lvs");
const vip = "10.0.0.238";

let stack: Stack;
let old: string;
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n")
    .filter((l) => l.includes(` ${vip}:`)).sort();
const timeouts = () => sh("director1", "ipvsadm -L --timeout");
const daemons = () => sh("director1", "ipvsadm -L --daemon");
const sloppy = () => sh("director1", "cat /proc/sys/net/ipv4/vs/sloppy_tcp");
const held = async () =>
    Object.keys(JSON.parse(await sh("director1", "cat /var/lib/pulumi-lvs/desired.json")).holders ?? {})
        .filter((name) => name.includes(vip));

/** The earlier build: its sources from git, this checkout's packages, its own lib/ and agent bundle. */
function buildOld(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pulumi-lvs-${OLD}-`));
    execFileSync("bash", ["-c", `git -C "${repo}" archive ${OLD} sdk provider scripts bench ` +
        `test/lab.ts package.json tsconfig.json` +
        ` | tar -x -C "${dir}"`], { stdio: "pipe" });
    fs.symlinkSync(path.join(repo, "node_modules"), path.join(dir, "node_modules"));
    execFileSync(process.execPath, [path.join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", dir],
        { stdio: "pipe" });
    execFileSync(process.execPath, [path.join(dir, "scripts", "build-agent.js")], { stdio: "pipe" });
    return dir;
}

beforeAll(async () => {
    old = buildOld();
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.rmSync(link, { force: true });
    fs.symlinkSync(old, link);
    stack = await labStack(program);
    // The earlier build knows no named credentials: examples/lab.ts gives the key inline while this is set.
    await stack.config("privateKey", fs.readFileSync(lab().privateKeyPath, "utf8"), true);
});

afterAll(async () => {
    fs.rmSync(path.join(program, "node_modules"), { recursive: true, force: true });
    await stack?.dispose();
    if (old) fs.rmSync(old, { recursive: true, force: true });
    closeLab();
});

test("an earlier build's state refreshes, previews, updates and destroys with this build, " +
    "and nothing is left", async () => {
    const timeoutsBefore = await timeouts();
    const daemonsBefore = await daemons();
    const sloppyBefore = await sloppy();
    expect(await ours(), "nothing of this test on director1 before it").toEqual([]);

    await stack.config("weight", "2");
    await stack.run("up", "--yes", "--skip-preview");
    expect(await ours()).toEqual([
        `-A -t ${vip}:80 -s rr -p 360`,
        `-A -t ${vip}:81 -s wlc`,
        `-a -t ${vip}:80 -r 10.1.0.21:8238 -m -w 2`,
        `-a -t ${vip}:81 -r 10.0.0.23:81 -g -w 1`,
    ].sort());
    expect(await daemons()).toContain("master sync daemon (mcast=lan0, syncid=38, ");
    expect(await sh("rs3", `ip -o addr show dev lo | grep -c ' ${vip}/32'`)).toBe("1\n");
    // The stub in the state requires the package by name: from here on it finds this checkout.
    const state = JSON.parse(fs.readFileSync(stack.stateFile(), "utf8"));
    const stubs = state.checkpoint.latest.resources
        .map((r: { inputs?: { __provider?: string } }) => r.inputs?.__provider).filter(Boolean);
    expect(stubs.length, "one stub per resource: a director, its DoS setting, 2 services, 2 real servers, a node")
        .toBe(7);
    for (const p of stubs) expect(p).toContain('require("pulumi-lvs/lib/provider/resources")');
    fs.rmSync(path.join(program, "node_modules"), { recursive: true, force: true });

    await stack.run("refresh", "--yes", "--skip-preview", "--expect-no-changes");
    await stack.run("preview", "--expect-no-changes");
    await stack.config("weight", "3");
    await stack.config("sloppyTcp", "true");
    const up = await stack.run("up", "--yes", "--skip-preview");
    expect(up).toMatch(/2 updated/);
    expect(await sloppy()).toBe("1\n");
    expect(await ours()).toContain(`-a -t ${vip}:80 -r 10.1.0.21:8238 -m -w 3`);

    // The key leaves the resources for the stack's credentials: each resource's connection is updated in
    // the state, and nothing on a node changes.
    const table = await ours();
    const encrypted = () => (JSON.parse(fs.readFileSync(stack.stateFile(), "utf8")).checkpoint.latest.resources as
        Array<{ inputs?: { connection?: unknown } }>).filter((r) => JSON.stringify(r.inputs?.connection ?? "")
        .includes("ciphertext")).length;
    expect(encrypted()).toBe(7);
    await stack.run("config", "rm", "privateKey");
    const moved = await stack.run("preview", "--diff");
    expect(moved).toContain('+ credentials: "lab"');
    expect(moved).not.toMatch(/replace/);
    expect(await stack.run("up", "--yes", "--skip-preview")).toMatch(/7 updated/);
    expect(await ours()).toEqual(table);
    expect(encrypted()).toBe(0);
    await stack.run("preview", "--expect-no-changes");

    await stack.run("destroy", "--yes", "--skip-preview");
    expect(await ours()).toEqual([]);
    expect(await sh("rs3", `ip -o addr show dev lo | grep -c ' ${vip}/32'; true`)).toBe("0\n");
    expect(await timeouts()).toBe(timeoutsBefore);
    expect(await daemons()).toBe(daemonsBefore);
    expect(await sloppy()).toBe(sloppyBefore);
    expect(await held(), "holds left in director1's record").toEqual([]);
});
