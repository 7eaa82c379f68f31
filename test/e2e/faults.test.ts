// Faults end to end (test/faults through the real Pulumi CLI): the engine is killed (kill -9 of the
// `pulumi` process) while service creates are in flight, at the worst moment: the test holds the engine
// still (SIGSTOP) until one of those creates has reached director1's kernel, so the state still has it
// pending. Within a few seconds the dynamic provider the engine started (the shim
// pulumi-resource-pulumi-nodejs and its node) has exited, and with its SSH session the agent it ran on
// director1. The README's sequence after an interrupted run (pulumi cancel, refresh
// --clear-pending-creates, up) converges to exactly the declared table, and a destroy then leaves nothing
// on the node, neither in the table nor held in its record. Owns VIP 10.0.0.236 on director1 (any port);
// the real servers (10.1.0.21-23 :8236, :8237) need no web servers: no traffic.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { agentFor, closeAgents } from "../../provider/client";
import { closeLab, lab, labConnection, sh } from "../lab";
import { backendUrl, labStack, Stack } from "../pulumi";

const vip = "10.0.0.236";
const ports = [80, 81, 82, 83, 84, 85];
const realServers = ["10.1.0.21", "10.1.0.22", "10.1.0.23"].flatMap((a) => [`${a}:8236`, `${a}:8237`]);
const declared = ports.flatMap((p) => [`-A -t ${vip}:${p} -s rr`,
    ...realServers.map((r) => `-a -t ${vip}:${p} -r ${r} -m -w 1`)]).sort();
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n")
    .filter((l) => l.includes(` ${vip}:`)).sort();
const vipOnLan0 = async () => (await sh("director1", `ip -o addr show dev lan0 | grep -c ' ${vip}/'; true`)).trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanDirector = `for p in ${ports.join(" ")}; do ipvsadm -D -t ${vip}:$p 2>/dev/null; done; ` +
    `ip addr del ${vip}/32 dev lan0 2>/dev/null; true`;

let stack: Stack;
/** Processes of this file's runs on this machine (found by the trace file in their environment). */
let leftovers: number[] = [];

/** Who holds this file's objects in director1's record (its VIP's services and address), by object. */
async function holders(): Promise<Record<string, string[]>> {
    const record = JSON.parse(await sh("director1", "cat /var/lib/pulumi-lvs/desired.json 2>/dev/null || echo '{}'"));
    return Object.fromEntries(Object.entries((record.holders ?? {}) as Record<string, string[]>)
        .filter(([name]) => name.includes(` ${vip}`) || name.includes(`/${vip}:`)));
}

/** Drops every hold on this file's services and address from director1 through the agent (and so removes
 * them): what an interrupted earlier run may have left, whatever the Pulumi state says. */
async function releaseAll(): Promise<void> {
    for (const [name, names] of Object.entries(await holders())) {
        const service = /^service (tcp|udp|sctp)\/([\d.]+):(\d+)$/.exec(name);
        const address = /^address ([\d.]+)\/32%(\S+)$/.exec(name);
        for (const holder of names) {
            const change = service
                ? { deleteService: { protocol: service[1], address: service[2], port: Number(service[3]) }, holder }
                : address ? { deleteAddress: address[1], interface: address[2], holder } : undefined;
            if (change) await (await agentFor(labConnection("director1"))).request("apply", { changes: [change] })
                .catch(() => undefined);
        }
    }
    await sh("director1", cleanDirector);
}

beforeAll(async () => {
    stack = await labStack(path.join(__dirname, "..", "faults"));
    await releaseAll();
    await stack.config("ports", JSON.stringify(ports));
});

afterAll(async () => {
    if (started && started.exitCode === null && started.signalCode === null) started.kill("SIGKILL");
    // Only those that are still this stack's (a pid may have been reused since).
    const still = stack ? processes() : new Map<number, string>();
    for (const pid of leftovers.filter((p) => still.has(p)))
        try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    await stack?.run("cancel", "--yes").catch(() => undefined);
    await stack?.dispose();
    await releaseAll().catch(() => undefined);
    await closeAgents();
    await closeLab();
});

const traceFile = () => path.join(stack.backend, "trace.log");

/** This machine's processes started for this stack (PULUMI_LVS_TRACE is ours in their environment), by pid. */
function processes(): Map<number, string> {
    const found = new Map<number, string>();
    const mark = `PULUMI_LVS_TRACE=${traceFile()}`;
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        try {
            if (!fs.readFileSync(`/proc/${d}/environ`, "utf8").split("\0").includes(mark)) continue;
            found.set(Number(d), fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ").trim());
        } catch { /* ended meanwhile, or not ours to read */ }
    }
    return found;
}
/** Whether a process runs (a zombie has ended: it only waits for its parent, here init, to reap it). */
function running(pid: number): boolean {
    try { return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; }
}
const isProvider = (cmd: string) => /dynamic-provider|pulumi-resource-pulumi-nodejs/.test(cmd);

/** The local ports of the SSH connections to director1 that these processes hold. */
function sshPorts(pids: number[]): number[] {
    const out = execFileSync("ss", ["-tnpH", "state", "established", "dport", "=", `:${lab().hosts.director1.port}`],
        { encoding: "utf8" });
    return out.split("\n").filter((l) => pids.some((p) => l.includes(`pid=${p},`)))
        .map((l) => Number(/:(\d+)\s+\S+:\d+\s/.exec(l)?.[1])).filter((p) => p > 0);
}

/** Who holds the pipe that each of these processes has for stdin (for a failure's message). */
function stdinHolders(pids: number[]): string {
    const holders: string[] = [];
    for (const pid of pids) {
        let pipe: string;
        try { pipe = fs.readlinkSync(`/proc/${pid}/fd/0`); } catch { continue; }
        for (const d of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
            let fds: string[] = [];
            try { fds = fs.readdirSync(`/proc/${d}/fd`); } catch { continue; }
            for (const f of fds) {
                try {
                    if (fs.readlinkSync(`/proc/${d}/fd/${f}`) === pipe)
                        holders.push(`${pid}'s ${pipe}: ${d} fd ${f} ` +
                            `${fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ").slice(0, 100)}`);
                } catch { /* gone */ }
            }
        }
    }
    return holders.join("; ");
}

/** The agents on director1 (pid and the SSH client port of their session, from SSH_CONNECTION). */
async function agents(): Promise<Array<{ pid: number; port: number }>> {
    const out = await sh("director1", `for p in $(pgrep -f 'agent.js serve'); do ` +
        `printf '%s %s\\n' "$p" "$(tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | ` +
        `sed -n 's/^SSH_CONNECTION=//p')"; done; true`);
    return out.trim().split("\n").filter(Boolean).map((l) => l.split(/\s+/)).filter((w) => w.length >= 3)
        .map((w) => ({ pid: Number(w[0]), port: Number(w[2]) }));
}

/** The pending operations in the stack's state (the file backend saves it as each step begins and ends). */
function pending(): Array<{ type: string; urn: string }> {
    try {
        const state = JSON.parse(fs.readFileSync(stack.stateFile(), "utf8"));
        return (state.checkpoint?.latest?.pending_operations ?? [])
            .map((o: { type: string; resource: { urn: string } }) => ({ type: o.type, urn: o.resource.urn }));
    } catch { return []; }
}

/** Starts `pulumi up` as the stack's own commands run, but as a child this test can kill. */
function startUp(): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const env = { ...process.env, PULUMI_BACKEND_URL: backendUrl(stack.backend),
        PULUMI_CONFIG_PASSPHRASE: "pulumi-lvs-test", PULUMI_LVS_TRACE: traceFile() };
    const child = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack.name],
        { cwd: stack.dir, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, output: () => out, exited };
}

/** The `pulumi up` this file started, killed in afterAll if a failure left it (perhaps held still). */
let started: ChildProcess | undefined;

test("kill -9 of the engine mid-create: the provider exits within seconds, " +
    "and the agent on director1 with it", async () => {
    const up = startUp();
    started = up.child;
    // Wait until service creates are in flight (pending in the state), then hold the engine still (SIGSTOP)
    // in short bursts until one of them has reached director1's kernel: the provider and the agent go on,
    // the engine does not hear back, so the state keeps that create pending, the worst moment to be killed.
    const creating = () => pending().filter((o) => o.type === "creating" && /dynamic\/lvs:VirtualService::/.test(o.urn))
        .map((o) => Number(/::web-(\d+)$/.exec(o.urn)?.[1]));
    const deadline = Date.now() + 240_000;
    while (!creating().length) {
        if (Date.now() > deadline || up.child.exitCode !== null)
            throw new Error(`no service create was in flight:\n${up.output()}`);
        await sleep(20);
    }
    let madeBefore: number[] = [];
    for (let i = 0; !madeBefore.length; i++) {
        if (i === 300) throw new Error(`no pending service create reached director1:\n${up.output()}`);
        up.child.kill("SIGSTOP");
        const table = await ours();
        madeBefore = creating().filter((port) => table.some((l) => l.startsWith(`-A -t ${vip}:${port} `)));
        if (!madeBefore.length) { up.child.kill("SIGCONT"); await sleep(30); }
    }
    const providers = new Map([...processes()].filter(([, cmd]) => isProvider(cmd)));
    const ports = sshPorts([...providers.keys()]);
    const mine = (await agents()).filter((a) => ports.includes(a.port));
    expect(mine.length).toBeGreaterThan(0);
    // On director1, a watch that says (on the lab's clock) when each of these agents has ended; and how far
    // the lab's clock is from this machine's (to within half a round trip).
    const agentsEnded = sh("director1", `for p in ${mine.map((a) => a.pid).join(" ")}; do ` +
        `for i in $(seq 3000); do kill -0 $p 2>/dev/null || break; sleep 0.02; done; done; date +%s%3N`).then(Number);
    const t0 = Date.now();
    const labClock = Number(await sh("director1", "date +%s%3N"));
    const offset = labClock - (t0 + Date.now()) / 2;
    const killedAt = Date.now();
    up.child.kill("SIGKILL");
    const code = await up.exited;
    console.log(`killed the engine (held still) with services ${JSON.stringify(madeBefore)} made on director1 ` +
        `and their creates pending, and ${pending().length} pending operations in all ` +
        `(${pending().map((o) => `${o.type} ${o.urn.split("::").pop()}`).join(", ")}); ` +
        `provider processes ${JSON.stringify([...providers])}; agents ${JSON.stringify(mine)}`);
    expect(code).toBe(null);
    expect(providers.size).toBeGreaterThan(0);

    // Within a few seconds: no provider process of this run, no agent of its session on director1.
    const alive = () => [...providers.keys()].filter(running).map((p) => `${p} ${providers.get(p)}`);
    let providersLeft = alive();
    let providersGone: number | undefined;
    const since = () => (Date.now() - killedAt) / 1000;
    while (since() < 15 && (providersLeft = alive()).length) await sleep(20);
    if (!providersLeft.length) providersGone = since();
    const agentsGone = ((await agentsEnded) - offset - killedAt) / 1000;
    const agentsStill = (await agents()).filter((a) => mine.some((m) => m.pid === a.pid)).map((a) => a.pid);
    const gone = stack.trace().find((l) => l.includes("the Pulumi engine is gone"));
    const noticed = gone ? (Date.parse(gone.split(" ")[0]) - killedAt) / 1000 : undefined;
    console.log(`after the kill: the provider noticed in ${noticed} s (${gone}); ` +
        `provider processes gone in ${providersGone} s, ` +
        `the agent in ${agentsGone.toFixed(2)} s (the lab's clock is ${offset.toFixed(0)} ms ahead); ` +
        `other processes of the run: ${JSON.stringify([...processes()])}`);
    if (providersGone === undefined) console.log(`left: ${JSON.stringify(providersLeft)}; ` +
        `their stdin: ${stdinHolders([...providers.keys()])}; trace:\n${stack.trace().join("\n")}`);
    // Which of the interrupted creates had reached the kernel (the state does not know they exist).
    const table = await ours();
    const made = pending().map((o) => o.urn.split("::").pop()!).filter((name) => {
        const [, port, address, rsPort] = /^web-(\d+)(?:-([\d.]+)-(\d+))?$/.exec(name) ?? [];
        return port && table.some((l) => address ? l.startsWith(`-a -t ${vip}:${port} -r ${address}:${rsPort} `)
            : l.startsWith(`-A -t ${vip}:${port} `));
    });
    console.log(`pending in the state and made on director1 before the kill: ${JSON.stringify(made)}`);
    leftovers = [...processes().keys()];
    expect({ providersLeft, agentsStill }).toEqual({ providersLeft: [], agentsStill: [] });
    expect(providersGone).toBeLessThan(5);
    expect(agentsGone).toBeLessThan(10);
    expect(gone).toBeDefined();
});

test("after the interrupted run: cancel, refresh --clear-pending-creates and up converge " +
    "to exactly the declared table", async () => {
    // The killed run left its lock and its pending creates in the state.
    const blocked = await stack.run("up", "--yes", "--skip-preview").then(() => "", (e: Error) => e.message);
    console.log(`up right after the kill: ` +
        `${blocked.split("\n").filter((l) => /lock|pending|error/i.test(l)).join(" | ")}`);
    expect(blocked).toMatch(/currently locked by 1 lock\(s\).*pulumi cancel/s);
    expect(pending().some((o) => o.type === "creating")).toBe(true);
    await stack.run("cancel", "--yes");
    const refreshed = await stack.run("refresh", "--yes", "--clear-pending-creates");
    expect(pending()).toEqual([]);
    const upOut = await stack.run("up", "--yes", "--skip-preview");
    console.log(`refresh: ${refreshed.split("\n").filter((l) => /Resources|pending|warning/i.test(l)).join(" | ")}\n` +
        `up: ${upOut.split("\n").filter((l) => /Resources|created|unchanged|warning/i.test(l)).join(" | ")}`);
    expect((await ours())).toEqual(declared);
    expect(await vipOnLan0()).toBe("1");
    expect(await stack.run("up", "--yes", "--expect-no-changes")).toContain(`${2 + ports.length * 7} unchanged`);
});

test("destroy after that leaves nothing on the node, not even what the interrupted creates had made", async () => {
    await stack.run("destroy", "--yes", "--skip-preview");
    const held = await holders();
    console.log(`after destroy: table ${JSON.stringify(await ours())}, ` +
        `holds left in director1's record ${JSON.stringify(held)}`);
    expect(held).toEqual({});
    expect(await ours()).toEqual([]);
    expect(await vipOnLan0()).toBe("0");
});
