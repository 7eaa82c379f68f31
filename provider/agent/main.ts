// The node agent's entry point. `node agent.js serve`: a session, one JSON request per stdin line, one
// reply per stdout line (carrying the request's id) as each is done, so requests can be pipelined, many
// in one round trip. Whatever takes the node's lock runs one at a time, in the order received; what
// waits without it (a drain waiting for connections to end) does not hold up the requests after it. `node agent.js
// once '<request>'`: a single request (or read from stdin when the argument is left out). `node agent.js
// restore`: puts back what was last applied on this node (desired.ts); the restore unit runs it at boot.
import * as path from "path";
import * as readline from "readline";
import { defaultStateDir } from "./desired";
import { loadModule } from "./host";
import { IpvsHandle } from "./ipvs";
import { acquireLock } from "./lock";
import * as ops from "./ops";
import { AgentError, Reply, Request } from "./protocol";

type Op = (args: unknown, ctx: ops.Context) => Promise<unknown>;

/** The closed set of operations. Anything else is refused. Table reads take the lock too, so a read
 * never sees another agent's request half applied. */
const operations: Record<string, Op> = {
    probe: async () => ({
        agent: { version: agentVersion, hash: agentHash, node: process.versions.node, maxRssKiB: process.resourceUsage().maxRSS },
        ...(await ops.probe()),
    }),
    state: ops.state,
    apply: ops.apply,
    drain: ops.drain,
    zero: ops.zero,
    sysctls: ops.sysctls,
    addresses: ops.addresses,
};

export function session(): ops.Context & { close(): void } {
    let handle: Promise<IpvsHandle> | undefined;
    // In-process turns before the node-wide lock: this session's requests take it in the order they came.
    let turn: Promise<unknown> = Promise.resolve();
    return {
        stateDir: defaultStateDir,
        agentFile: path.join(__dirname, "agent.js"),
        // ip_vs is loaded on first use (the kernel loads schedulers and engines by itself).
        ipvs: () => (handle ??= loadModule("ip_vs").then(() => IpvsHandle.open())),
        exclusive: (fn) => {
            const run = turn.then(async () => {
                const lock = await acquireLock();
                try { return await fn(); } finally { await lock.release(); }
            });
            turn = run.catch(() => undefined);
            return run;
        },
        close: () => { handle?.then((h) => h.close(), () => undefined); },
    };
}

export async function handle(line: string, ctx: ops.Context): Promise<Reply> {
    let req: Request;
    try {
        req = JSON.parse(line);
        if (typeof req !== "object" || req === null || typeof req.op !== "string") throw new Error("not a request");
    } catch {
        return { id: -1, ok: false, error: { message: `not a request: expected one JSON object {"id", "op", "args"} per line` } };
    }
    const id = typeof req.id === "number" ? req.id : -1;
    const op = Object.prototype.hasOwnProperty.call(operations, req.op) ? operations[req.op] : undefined;
    if (!op) return { id, ok: false, error: { message: `unknown operation ${JSON.stringify(req.op)}: the agent accepts ${Object.keys(operations).join(", ")}`, field: "op" } };
    try {
        return { id, ok: true, result: await op(req.args, ctx) };
    } catch (e) {
        const err = e as AgentError & { code?: string };
        return { id, ok: false, error: { message: err.message, ...(err.code ? { code: err.code } : {}), ...(err.field ? { field: err.field } : {}) } };
    }
}

declare const AGENT_VERSION: string | undefined;
/** The agent's version, and its content hash: the name of the folder it was installed in. */
export const agentVersion = typeof AGENT_VERSION === "string" ? AGENT_VERSION : "dev";
export const agentHash = require("path").basename(__dirname);

async function serve(): Promise<void> {
    process.stdout.write(JSON.stringify({ hello: { version: agentVersion, hash: agentHash, node: process.versions.node } }) + "\n");
    const ctx = session();
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    const inFlight = new Set<Promise<void>>();
    for await (const line of rl) {
        if (!line.trim()) continue;
        const done = handle(line, ctx).then((reply) => { process.stdout.write(JSON.stringify(reply) + "\n"); });
        inFlight.add(done);
        done.finally(() => inFlight.delete(done));
    }
    await Promise.all(inFlight);
    ctx.close();
}

async function once(arg: string | undefined): Promise<number> {
    let line = arg;
    if (line === undefined) {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        line = Buffer.concat(chunks).toString("utf8");
    }
    const ctx = session();
    const reply = await handle(line, ctx);
    ctx.close();
    process.stdout.write(JSON.stringify(reply) + "\n");
    return reply.ok ? 0 : 1;
}

async function restore(): Promise<number> {
    const ctx = session();
    const report = await ops.restore(ctx);
    ctx.close();
    process.stdout.write(JSON.stringify(report) + "\n");
    return report.failed.length ? 1 : 0;
}

if (require.main === module) {
    const [mode, arg] = process.argv.slice(2);
    if (Number(process.versions.node.split(".")[0]) < 18) {
        console.error(`the pulumi-lvs agent needs Node.js 18 or newer; this node is ${process.version}`);
        process.exit(92);
    }
    if (mode === "serve") serve().catch((e) => { console.error(e); process.exit(2); });
    else if (mode === "once") once(arg).then((code) => (process.exitCode = code), (e) => { console.error(e); process.exit(2); });
    else if (mode === "restore") restore().then((code) => (process.exitCode = code), (e) => { console.error(e); process.exit(2); });
    else { console.error("usage: agent serve | agent once [REQUEST] | agent restore"); process.exit(2); }
}
