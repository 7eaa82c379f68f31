// The node agent's entry point. `node agent.js serve`: a session, one JSON request per stdin line, one
// reply per stdout line (carrying the request's id) as each is done, so requests can be pipelined, many
// in one round trip. Whatever takes the node's lock runs one at a time, in the order received; what
// waits without it (a drain waiting for connections to end) does not hold up the requests after it.
// `node agent.js once '<request>'`: a single request (or read from stdin when the argument is left out).
// `node agent.js restore`: puts back what was last applied on this node (desired.ts); the restore unit
// runs it at boot. `node agent.js health`: the health daemon (health/daemon.ts), under its own unit.
// `node agent.js vrrp-state ...`: keepalived's notify of a VRRP state change (failover.ts). A
// session ends when its input does (the client closed it, or its SSH connection dropped, say because the
// provider was killed): the request that holds the node's lock is finished, nothing else is started, and
// the agent exits at once, without waiting for the lock or for a drain's connections (that real server
// keeps weight 0, and the next run's delete drains it again). So `serve` is for a client that stays; a
// script wanting one answer uses `once`. An error in a reply quotes at most a prefix of what was sent.
import * as path from "path";
import * as readline from "readline";
import { drain } from "./apply/drain";
import { apply } from "./apply/execute";
import { addresses, probe, state, sysctls, zero } from "./apply/reads";
import { restore as restoreAll } from "./apply/restore";
import type { Context } from "./context";
import { defaultStateDir, load as loadRecord } from "./desired";
import { followSync } from "./apply/plan-failover";
import { recordState } from "./failover";
import { loadModule } from "./host/modules";
import { HealthDaemon } from "./health/daemon";
import { IpvsHandle } from "./ipvs/handle";
import { acquireLock } from "./lock";
import { AgentError, Op, Reply, Request, Result } from "../model/protocol";
import { show } from "../model/show";

/** Each operation's handler: its arguments unknown (the agent trusts nothing it is sent, and validates),
 * its result the protocol's (provider/model/protocol.ts). */
type Handlers = { [O in Op]: (args: unknown, ctx: Context) => Promise<Result<O>> };

/** The closed set of operations. Anything else is refused. Table reads take the lock too, so a read
 * never sees another agent's request half applied. */
const operations: Handlers = {
    probe: async (_args, ctx) => ({
        agent: {
            version: agentVersion, hash: agentHash, node: process.versions.node,
            maxRssKiB: process.resourceUsage().maxRSS,
        },
        ...(await probe(ctx)),
    }),
    state,
    apply,
    drain,
    zero,
    sysctls,
    addresses,
};

export function session(): Context & { close(): void; end(): void; inside(): Promise<void> | undefined } {
    let handle: Promise<IpvsHandle> | undefined;
    // In-process turns before the node-wide lock: this session's requests take it in the order they came.
    let turn: Promise<unknown> = Promise.resolve();
    // The run that holds the lock now, if any; and whether the session has ended (no run starts then).
    let inside: Promise<void> | undefined;
    let ended = false;
    const over = () => new AgentError("the session ended before this request's turn", undefined, "ECANCELED");
    return {
        stateDir: defaultStateDir,
        agentFile: path.join(__dirname, "agent.js"),
        // ip_vs is loaded on first use (the kernel loads schedulers and engines by itself).
        ipvs: () => (handle ??= loadModule("ip_vs").then(() => IpvsHandle.open())),
        exclusive: <T>(fn: () => Promise<T>) => {
            const run = turn.then(async () => {
                if (ended) throw over();
                const lock = await acquireLock();
                // (Marked inside in the same tick as the lock is had, so end() never misses a run that holds it.)
                const work = ended ? Promise.reject(over()) : fn();
                const done = work.then(() => undefined, () => undefined).then(() => lock.release());
                inside = done;
                try { return await work; } finally { await done; if (inside === done) inside = undefined; }
            });
            turn = run.catch(() => undefined);
            return run;
        },
        close: () => { handle?.then((h) => h.close(), () => undefined); },
        /** No run starts from now on (one waiting for the lock gives up when it gets it). */
        end: () => { ended = true; },
        /** Settles when the run that holds the lock now has released it; undefined when none does. */
        inside: () => inside,
    };
}

export async function handle(line: string, ctx: Context): Promise<Reply> {
    const req = parse(line);
    return "op" in req ? run(req, ctx) : req;
}

/** The request on a line, or the reply that refuses it. */
function parse(line: string): Request | Reply {
    try {
        const req = JSON.parse(line);
        if (typeof req !== "object" || req === null || typeof req.op !== "string") throw new Error("not a request");
        return req as Request;
    } catch {
        return failure(-1, { message: `not a request: expected one JSON object {"id", "op", "args"} per line` });
    }
}

async function run(req: Request, ctx: Context): Promise<Reply> {
    const id = typeof req.id === "number" ? req.id : -1;
    const op = Object.prototype.hasOwnProperty.call(operations, req.op) ? operations[req.op] : undefined;
    if (!op) {
        const accepted = Object.keys(operations).join(", ");
        const message = `unknown operation ${show(req.op)}: the agent accepts ${accepted}`;
        return failure(id, { message, field: "op" });
    }
    try {
        return { id, ok: true, result: await op(req.args, ctx) };
    } catch (e) {
        const err = e as AgentError & { code?: string };
        return failure(id, {
            message: String(err?.message ?? err),
            ...(err?.code ? { code: String(err.code) } : {}),
            ...(err?.field ? { field: String(err.field) } : {}),
        });
    }
}

/** The longest error text a reply carries (message, code, field), in characters. */
export const MAX_ERROR_TEXT = 2000;

/** A text cut to `max` characters: a prefix and how long the whole was, so a huge bad value in a
 * request (quoted by a message, or a field name made of it) never comes back whole. */
export function capText(s: string, max = MAX_ERROR_TEXT): string {
    if (s.length <= max) return s;
    const tail = ` ... (cut: ${s.length} characters in all)`;
    return s.slice(0, Math.max(0, max - tail.length)) + tail;
}

/** A failed reply, every text of its error capped (the backstop at the wire for what validation quotes). */
function failure(id: number, error: { message: string; code?: string; field?: string }): Reply {
    return { id, ok: false, error: {
        message: capText(error.message),
        ...(error.code !== undefined ? { code: capText(error.code, 100) } : {}),
        ...(error.field !== undefined ? { field: capText(error.field, 200) } : {}),
    } };
}

declare const AGENT_VERSION: string | undefined;
/** The agent's version, and its content hash: the name of the folder it was installed in. */
export const agentVersion = typeof AGENT_VERSION === "string" ? AGENT_VERSION : "dev";
export const agentHash = require("path").basename(__dirname);

async function serve(): Promise<void> {
    const hello = { version: agentVersion, hash: agentHash, node: process.versions.node };
    process.stdout.write(JSON.stringify({ hello }) + "\n");
    const ctx = session();
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of rl) {
        if (!line.trim()) continue;
        void handle(line, ctx).then((reply) => { process.stdout.write(JSON.stringify(reply) + "\n"); });
    }
    // The input ended: nobody is left to read replies. Never stop inside the lock (a change half made);
    // anything else (a wait for the lock, a drain's wait, a read) just ends with the process.
    ctx.end();
    for (let held = ctx.inside(); held; held = ctx.inside()) await held;
    // (Checked and left in one tick: no run can take the lock in between.)
    ctx.close();
    process.exit(0);
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
    const report = await restoreAll(ctx);
    ctx.close();
    process.stdout.write(JSON.stringify(report) + "\n");
    return report.failed.length ? 1 : 0;
}

/** keepalived's notify of a change of VRRP state: kept for refresh; the sync daemons follow it when the
 * failover says so. */
async function vrrpState(args: string[]): Promise<number> {
    recordState(defaultStateDir, args);
    if (loadRecord(defaultStateDir).failover?.syncDaemons !== "follow") return 0;
    const ctx = session();
    try {
        await followSync(ctx, (line) => console.log(`${new Date().toISOString()} ${line}`));
    } finally { ctx.close(); }
    return 0;
}

/** Runs until SIGTERM or SIGINT; then stops once no change is half made. */
async function health(): Promise<void> {
    const ctx = session();
    const daemon = new HealthDaemon(ctx, { hash: agentHash });
    await daemon.start();
    const stop = (signal: string) => {
        console.log(`${new Date().toISOString()} health daemon ${process.pid}: ${signal}, stopping`);
        void daemon.stop().then(() => { ctx.close(); process.exit(0); });
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

if (require.main === module) {
    const [mode, arg] = process.argv.slice(2);
    if (Number(process.versions.node.split(".")[0]) < 18) {
        console.error(`the pulumi-lvs agent needs Node.js 18 or newer; this node is ${process.version}`);
        process.exit(92);
    }
    const exit = (code: number) => (process.exitCode = code);
    const crash = (e: unknown) => { console.error(e); process.exit(2); };
    if (mode === "serve") serve().catch(crash);
    else if (mode === "once") once(arg).then(exit, crash);
    else if (mode === "restore") restore().then(exit, crash);
    else if (mode === "health") health().catch(crash);
    else if (mode === "vrrp-state") vrrpState(process.argv.slice(3)).then(exit, crash);
    else {
        console.error("usage: agent serve | agent once [REQUEST] | agent restore | agent health | agent vrrp-state " +
            "INSTANCE NAME STATE PRIORITY (keepalived's notify)");
        process.exit(2);
    }
}
