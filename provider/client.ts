// The agent client: one SSH connection per node, shared by every resource on it, carrying one agent
// session (`agent.js serve`). Requests are written as soon as they are made, so concurrent requests to
// a node travel together (pipelined: one round trip for many). The agent is installed by content hash
// under ~/.pulumi-lvs/agent/<hash>/: a new version is an upload, and an installed one costs nothing.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Client, ClientChannel } from "ssh2";
import { Connection, connect, target } from "./ssh";
import { trace } from "./trace";
import type { Args, Op, Reply, Result } from "./model/protocol";

// The built agent sits in lib/agent, beside lib/provider (this file compiled) or below the sources.
const base = path.resolve(__dirname, "..");
const agentDir = path.join(path.basename(base) === "lib" ? base : path.join(base, "lib"), "agent");
const arches: Record<string, string> = { x86_64: "x64", aarch64: "arm64" };

interface Package {
    hash: string;
    /** agent.js (what command lines name) and code.js (the agent, which agent.js runs). */
    scripts: Array<{ name: string; data: Buffer }>;
    binding(arch: string): Buffer;
}

let pkg: Package | undefined;
/** The built agent (lib/agent) and its content hash over every file. */
export function agentPackage(): Package {
    if (!pkg) {
        const scripts = ["agent.js", "code.js"]
            .map((name) => ({ name, data: fs.readFileSync(path.join(agentDir, name)) }));
        const h = crypto.createHash("sha256");
        for (const s of scripts) h.update(s.data);
        for (const a of Object.values(arches)) h.update(fs.readFileSync(path.join(agentDir, `netlink-${a}.node`)));
        const binding = (a: string) => fs.readFileSync(path.join(agentDir, `netlink-${a}.node`));
        pkg = { hash: h.digest("hex").slice(0, 16), scripts, binding };
    }
    return pkg;
}

/** A minimal ustar archive: regular files only, which `tar -x` on any Linux unpacks. */
export function tar(files: Array<{ name: string; data: Buffer; mode: number }>): Buffer {
    const blocks: Buffer[] = [];
    for (const f of files) {
        const h = Buffer.alloc(512);
        const field = (off: number, len: number, v: string) => h.write(v, off, len, "ascii");
        const octal = (off: number, len: number, n: number) =>
            field(off, len, n.toString(8).padStart(len - 1, "0") + "\0");
        field(0, 100, f.name);
        octal(100, 8, f.mode);
        octal(108, 8, 0);
        octal(116, 8, 0);
        octal(124, 12, f.data.length);
        octal(136, 12, Math.floor(Date.now() / 1000));
        field(148, 8, "        ");
        field(156, 1, "0");
        field(257, 8, "ustar\u000000");
        let sum = 0;
        for (const b of h) sum += b;
        field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
        blocks.push(h, f.data, Buffer.alloc((512 - (f.data.length % 512)) % 512));
    }
    blocks.push(Buffer.alloc(1024));
    return Buffer.concat(blocks);
}

/** How a command on the node ended. */
interface Exit { code: number; stdout: string; stderr: string }

function exec(client: Client, command: string, input?: Buffer): Promise<Exit> {
    return new Promise((resolve, reject) =>
        client.exec(command, (err, ch) => {
            if (err) return reject(err);
            let stdout = "", stderr = "";
            ch.on("data", (d: Buffer) => (stdout += d)).stderr.on("data", (d: Buffer) => (stderr += d));
            ch.on("close", (code: number) => resolve({ code, stdout, stderr }));
            ch.end(input);
        }));
}

/** An agent session on one node. */
export class AgentSession {
    private next = 1;
    private pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
    private buffered = "";
    private stderr = "";
    private closed?: Error;

    constructor(readonly node: string, private readonly client: Client, private readonly channel: ClientChannel) {
        channel.on("data", (d: Buffer) => {
            this.buffered += d.toString("utf8");
            let nl: number;
            while ((nl = this.buffered.indexOf("\n")) >= 0) {
                const line = this.buffered.slice(0, nl);
                this.buffered = this.buffered.slice(nl + 1);
                this.reply(line);
            }
        });
        channel.stderr.on("data", (d: Buffer) => (this.stderr = (this.stderr + d).slice(-4000)));
        channel.on("close", () =>
            this.fail(new Error(`the agent on ${node} stopped${this.stderr ? `: ${this.stderr.trim()}` : ""}`)));
        client.on("close", () => this.fail(new Error(`the SSH connection to ${node} closed`)));
    }

    private reply(line: string): void {
        let r: Reply;
        try { r = JSON.parse(line); } catch {
            return this.fail(new Error(`the agent on ${this.node} said something that is not a reply: ` +
                line.slice(0, 200)));
        }
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if (r.ok) p.resolve(r.result);
        else p.reject(Object.assign(new Error(`${this.node}: ${r.error?.message}`),
            { code: r.error?.code, field: r.error?.field }));
    }

    private closers: Array<() => void> = [];

    /** Calls fn once the session has ended (its agent stopped or its connection closed). */
    onClose(fn: () => void): void {
        if (this.closed) fn(); else this.closers.push(fn);
    }

    private fail(e: Error): void {
        if (!this.closed) {
            this.closed = e;
            for (const fn of this.closers.splice(0)) fn();
        }
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
    }

    /** Sends one request; requests made together are written together; each reply finds its request by id.
     * The operation's arguments and result are the wire protocol's (provider/model/protocol.ts). */
    request<O extends Op>(op: O, args?: Args<O>): Promise<Result<O>>;
    request(op: string, args?: unknown): Promise<unknown> {
        if (this.closed) return Promise.reject(this.closed);
        const id = this.next++;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
            this.channel.write(JSON.stringify({ id, op, args }) + "\n");
        });
    }

    close(): void {
        this.channel.end();
        this.client.end();
    }
}

/** Connects, installs the agent when its hash is not on the node, and starts a session. */
export async function startSession(c: Connection): Promise<AgentSession> {
    const node = target(c);
    const user = c.user ?? "root";
    const client = await connect(c);
    try {
        const { hash } = agentPackage();
        const dir = `.pulumi-lvs/agent/${hash}`;
        const run = `${c.sudo ? "sudo -n " : ""}node ${dir}/agent.js serve`;
        // One round trip when the agent is installed: check, then become the agent. The agent needs root
        // (IPVS netlink, /proc/sys, modules): a user that is not root must ask for sudo.
        const start = `cd && if [ -f ${dir}/agent.js ]; then command -v node >/dev/null || exit 91; ` +
            `${c.sudo ? "" : `[ "$(id -u)" = 0 ] || exit 93; `}exec ${run}; fi; ` +
            `echo "pulumi-lvs-machine: $(uname -m)"; exit 90`;
        // The agent greets with one line ({"hello": ...}) before it reads requests.
        for (let attempt = 0; ; attempt++) {
            const channel = await new Promise<ClientChannel>((resolve, reject) =>
                client.exec(start, (err, ch) => (err ? reject(err) : resolve(ch))));
            const early = await firstWords(channel, node);
            if (early === undefined) return new AgentSession(node, client, channel);
            const said = early.stderr.trim() || early.stdout.trim();
            if (early.code === 91) throw new Error(`${node} has no node on PATH: install Node.js 18 or newer there`);
            if (early.code === 93)
                throw new Error(`${node}: the agent needs root and ${user} is not root: ` +
                    `set sudo (with passwordless sudo for ${user} there) or log in as root`);
            if (c.sudo && /^sudo: .*command not found/m.test(early.stderr))
                throw new Error(`${node}: sudo finds no node on its secure_path (${said}): ` +
                    "install Node.js 18 or newer where sudo looks (/usr/bin), " +
                    "or add its folder to secure_path in sudoers");
            if (c.sudo && /^sudo: /m.test(early.stderr))
                throw new Error(`${node}: sudo -n as ${user} refused to run the agent (${said}): ` +
                    `give ${user} passwordless sudo for node there ` +
                    `(sudoers: "${user} ALL=(root) NOPASSWD: ALL"), or log in as root without sudo`);
            if (early.code !== 90 || attempt > 0)
                throw new Error(`the agent did not start on ${node} (exit ${early.code}): ${said}`);
            // Lines a login script printed (a .bashrc that talks) may come before ours.
            const machine = /^pulumi-lvs-machine: (\S+)$/m.exec(early.stdout)?.[1]
                ?? `unknown (it said ${JSON.stringify(early.stdout.slice(0, 200))})`;
            await install(client, node, dir, machine);
        }
    } catch (e) {
        client.end();
        throw e;
    }
}

/** Waits for the agent's hello line (undefined: it runs) or for the shell to end (how it ended). */
function firstWords(ch: ClientChannel, node: string): Promise<Exit | undefined> {
    return new Promise((resolve, reject) => {
        // node starts in well under a second, even emulated; a minute means something is stuck.
        const timer = setTimeout(() => {
            ch.close();
            reject(new Error(`the agent on ${node} did not start within ${START_TIMEOUT_MS / 1000} s` +
                `${stderr ? `: ${stderr.trim()}` : ""}`));
        }, START_TIMEOUT_MS);
        let stdout = "", stderr = "";
        const onErr = (d: Buffer) => (stderr += d);
        const onData = (d: Buffer) => {
            stdout += d;
            // The hello line, after whatever a login script printed first.
            if (/(^|\n)\{"hello"[^\n]*\n/.test(stdout)) done(undefined);
        };
        const onExit = (code: number) => setImmediate(() => done({ code, stdout, stderr }));
        const done = (v: Exit | undefined) => {
            clearTimeout(timer);
            ch.removeListener("data", onData);
            ch.stderr.removeListener("data", onErr);
            ch.removeListener("exit", onExit);
            resolve(v);
        };
        ch.on("data", onData).on("exit", onExit).stderr.on("data", onErr);
    });
}

const START_TIMEOUT_MS = 60_000;

async function install(client: Client, node: string, dir: string, machine: string): Promise<void> {
    const arch = arches[machine];
    if (!arch) throw new Error(`${node} is a ${machine} machine; ` +
        `the agent ships its netlink binding for ${Object.keys(arches).join(" and ")}`);
    const p = agentPackage();
    const archive = tar([
        ...p.scripts.map((f) => ({ ...f, mode: 0o644 })),
        { name: "netlink.node", data: p.binding(arch), mode: 0o755 },
    ]);
    const tmp = `${dir}.tmp.$$`;
    // Unpacked beside, then renamed into place: a session never sees half an agent. A folder left without
    // agent.js (by hand) is replaced; one that another run installed meanwhile is kept.
    const r = await exec(client, `cd && umask 022 && mkdir -p ${tmp} && tar -x -C ${tmp} && ` +
        `{ [ -f ${dir}/agent.js ] || rm -rf ${dir}; mv -T ${tmp} ${dir} 2>/dev/null || rm -rf ${tmp}; }`, archive);
    if (r.code !== 0) throw new Error(`could not install the agent on ${node}: ${r.stderr.trim()}`);
    trace(`installed agent ${p.hash} (${arch}) on ${node}`);
}

const pool = new Map<string, Promise<AgentSession>>();

/** The session for a node, shared by every resource on it for as long as this process runs (a session
 * whose connection dropped is replaced by a new one on the next call). */
export function agentFor(c: Connection): Promise<AgentSession> {
    const key = target(c) + (c.sudo ? " sudo" : "");
    let s = pool.get(key);
    if (!s) {
        watchEngine();
        const started = startSession(c);
        s = started;
        pool.set(key, started);
        started.then((session) => session.onClose(() => pool.get(key) === started && pool.delete(key)),
            () => pool.get(key) === started && pool.delete(key));
    }
    return s;
}

export async function closeAgents(): Promise<void> {
    for (const s of pool.values()) (await s.catch(() => undefined))?.close();
    pool.clear();
}

// When the Pulumi engine dies (kill -9, a cancelled CI job), the dynamic provider it started does not:
// its gRPC server keeps it alive, and with it every SSH session and the agents on the nodes. The engine
// starts the provider (through the shell shim pulumi-resource-pulumi-nodejs) with stdin a pipe whose
// write end only the engine holds and never writes to or closes: the kernel closes it when the engine
// ends, however it ends, so end of file on stdin means the engine is gone. (The parent pid says nothing:
// the provider's parent is the shim, which lives on.) Nothing here keeps the process alive or costs a
// request anything: one read on stdin, unreferenced.
let watching = false, leaving = false;

/** Whether this process is @pulumi/pulumi's dynamic provider (node .../cmd/dynamic-provider/index.js). */
export function isDynamicProvider(argv = process.argv): boolean {
    return /[\\/]@pulumi[\\/]pulumi[\\/]cmd[\\/]dynamic-provider([\\/]index(\.js)?)?$/.test(argv[1] ?? "");
}

/** Once per process, in a dynamic provider with a pipe for stdin: when it ends, close every session and exit. */
function watchEngine(): void {
    if (watching) return;
    watching = true;
    let pipe = false;
    try { pipe = fs.fstatSync(0).isFIFO(); } catch { /* no stdin at all */ }
    if (!isDynamicProvider() || !pipe) return;
    const stdin = process.stdin;
    stdin.on("data", () => undefined).once("end", () => engineGone("its stdin ended"))
        .once("error", (e) => engineGone(`its stdin failed: ${e.message}`));
    (stdin as unknown as { unref?(): void }).unref?.();
}

/** The engine is gone: end every SSH connection (so the agents' input ends and they exit), then exit. */
function engineGone(why: string): void {
    if (leaving) return;
    leaving = true;
    trace(`the Pulumi engine is gone (${why}): closing ${pool.size} agent session(s) and exiting`);
    const closing = [...pool.values()].map((p) =>
        p.then((s) => new Promise<void>((resolve) => { s.onClose(resolve); s.close(); }), () => undefined));
    // A connection that has not closed by then (or is still being made) the kernel closes with the process.
    void Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 500))]).then(() => process.exit(1));
}
