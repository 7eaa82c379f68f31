// Traffic in the lab: web servers on real servers, requests from the client host.
import * as path from "path";
import { sh } from "./lab";

const dir = path.join(__dirname, "lab");

/** Starts a web server on `host` answering on each address:port (its answers name it `name`, the host's
 * name by default); returns a function that stops it. */
export async function webServer(host: string, listen: string[], name = host): Promise<() => Promise<void>> {
    const pidFile = `/tmp/web-${name}-${process.pid}-${Date.now()}.pid`;
    await sh(host, `setsid node ${dir}/web.js ${name} ${listen.join(" ")} >/dev/null 2>&1 < /dev/null & ` +
        `echo $! > ${pidFile}; sleep 1.5`);
    return async () => { await sh(host, `kill $(cat ${pidFile}) 2>/dev/null; rm -f ${pidFile}`); };
}

/** Sends `n` requests to `url` from the client host; how many each real server answered, and failures. */
export async function fetchFromClient(url: string, n: number):
    Promise<{ counts: Record<string, number>; failures: string[] }> {
    return JSON.parse(await sh("client", `node ${dir}/fetch.js ${url} ${n}`));
}

export interface LoadResult {
    ok: number;
    failures: Array<{ error: string; start: number; end: number }>;
    /** Answers by server ("rs1 10.1.0.21:8247"). */
    counts: Record<string, number>;
    /** Each answered request: who answered, when it started and ended (ms of the lab's clock, as vmNow()). */
    requests: Array<{ server: string; start: number; end: number }>;
}

/** The lab's clock (ms), which the load generator's times are in. */
export async function vmNow(): Promise<number> {
    return Number((await sh("client", "date +%s%3N")).trim());
}

/** A script of test/lab run in the background on the client host, told to stop by a file STOP and writing
 * its result to JSON: `node SCRIPT ARGS... STOP JSON REST...`. stop() touches STOP and waits up to
 * `waitSeconds` for the result; kill() ends it at once (for cleanup) and removes its files. */
async function background<T>(script: string, args: string[], rest: string[], waitSeconds: number):
    Promise<{ stop(): Promise<T>; kill(): Promise<void> }> {
    const base = `/tmp/${script.replace(/\.js$/, "")}-${process.pid}-${Date.now()}`;
    await sh("client", `setsid node ${dir}/${script} ${[...args, `${base}.stop`, `${base}.json`, ...rest].join(" ")} ` +
        `>${base}.log 2>&1 < /dev/null & echo $! > ${base}.pid`);
    const kill = async () => {
        await sh("client", `kill $(cat ${base}.pid) 2>/dev/null; ` +
            `rm -f ${base}.pid ${base}.stop ${base}.json ${base}.log`);
    };
    return {
        kill,
        stop: async () => {
            const out = await sh("client", `touch ${base}.stop; ` +
                `for i in $(seq ${waitSeconds * 4}); do [ -f ${base}.json ] && break; sleep 0.25; done; ` +
                `cat ${base}.json || { echo "${script} wrote no result:" >&2; cat ${base}.log >&2; exit 1; }`);
            await kill();
            return JSON.parse(out) as T;
        },
    };
}

/**
 * Starts `clients` concurrent clients on the client host, each requesting `url` in a loop (test/lab/load.js),
 * in the background. stop() lets each finish the request it is in (at most the per-request timeout) and
 * returns what they saw; kill() ends it at once (for cleanup) and removes its files.
 */
export function startLoad(url: string, clients: number, timeoutMs = 10_000):
    Promise<{ stop(): Promise<LoadResult>; kill(): Promise<void> }> {
    return background<LoadResult>("load.js", [url, String(clients)], ["600", String(timeoutMs)],
        Math.ceil(timeoutMs / 1000) + 10);
}

export interface HeldConnection {
    server?: string;
    /** Its local port on the client. */
    port?: number;
    answers: number;
    error?: string;
    errorAt?: number;
    /** The longest wait for an answer (ms), and when it ended (the lab's clock). */
    longestGapMs: number;
    gapEnd: number;
}

/**
 * Opens `connections` long-lived connections from the client host to `target` (HOST:PORT of a web.js),
 * each sending a keep-alive request for /keep every 250 ms on the same TCP connection (test/lab/hold.js),
 * in the background. stop() ends them and returns each one's story; kill() ends them at once and removes
 * their files.
 */
export function startHold(target: string, connections: number):
    Promise<{ stop(): Promise<HeldConnection[]>; kill(): Promise<void> }> {
    return background<HeldConnection[]>("hold.js", [target, String(connections)], [], 30);
}
