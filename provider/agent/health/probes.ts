// The health checkers the health daemon runs: one check of one endpoint (tcp, http, https, udp, dns or
// exec) within its timeout, its result in an operator's words, and the notify commands. Node's own
// modules only. Each check holds one timer and frees its socket, child and timer when it ends, however
// it ends: the daemon runs thousands of checks a minute for days.
import { spawn } from "child_process";
import * as dgram from "dgram";
import * as dns from "dns";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import type { HealthCheck } from "../../model";
import { statusRanges } from "../../model";

/** The outcome of one check: whether it passed, and what was seen ("HTTP 200", "connection refused"). */
export interface ProbeResult {
    ok: boolean;
    detail: string;
}

/** An address and port. */
type Target = { address: string; port: number };
/** How a command ended: its exit code (null when it has none), and that in words. */
type Exit = { code: number | null; detail: string };

/** The PATH of exec checks and of notify commands that do not give their own. */
export const COMMAND_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";
/** The most of an http body that `receive` is matched against; the rest is not read. */
export const BODY_LIMIT = 1024 * 1024;

const words: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    ETIMEDOUT: "connection timed out",
};

/** An error in words: a known errno's words, else a system error's code, else its message (and code:
 * "self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)"). */
function errorText(e: unknown): string {
    const err = e as NodeJS.ErrnoException | undefined;
    const code = typeof err?.code === "string" ? err.code : undefined;
    if (code && words[code]) return words[code];
    if (code && err?.syscall) return code;
    const message = err instanceof Error ? err.message : String(e);
    return clip(code && !message.includes(code) ? `${message} (${code})` : message);
}

const clip = (s: string, max = 160) => (s.length > max ? `${s.slice(0, max - 3)}...` : s);
const bracketed = (address: string) => (net.isIPv6(address) ? `[${address}]` : address);

/** What a running check has: its end (the first call wins), and the release of what it holds. */
interface Run<T> {
    /** Ends the check with `r`; later calls do nothing. */
    finish(r: T): void;
    /** Registers what frees a socket or a child; it runs once, when the check ends (at once if it has). */
    hold(release: () => void): void;
    /** The result when the time runs out. */
    onTimeout: () => T;
}

/** Runs `start` under one timer of `ms`: the first of its finish, a throw or the timer ends it, and what
 * it holds is then freed. Never rejects. */
function bounded<T>(ms: number, onTimeout: () => T, failed: (detail: string) => T,
    start: (run: Run<T>) => void): Promise<T> {
    return new Promise((resolve) => {
        const releases: Array<() => void> = [];
        let done = false;
        let timer: NodeJS.Timeout | undefined;
        const free = (release: () => void) => {
            try { release(); } catch { /* already closed */ }
        };
        const run: Run<T> = {
            finish(r) {
                if (done) return;
                done = true;
                clearTimeout(timer);
                for (const release of releases.splice(0)) free(release);
                resolve(r);
            },
            hold(release) {
                if (done) free(release);
                else releases.push(release);
            },
            onTimeout,
        };
        timer = setTimeout(() => run.finish(run.onTimeout()), ms);
        try {
            start(run);
        } catch (e) {
            run.finish(failed(errorText(e)));
        }
    });
}

/** tcp: a connect, then a close. */
function tcp(run: Run<ProbeResult>, t: Target): void {
    const socket = net.connect({ host: t.address, port: t.port });
    run.hold(() => socket.destroy());
    socket.on("error", (e) => run.finish({ ok: false, detail: errorText(e) }));
    socket.on("connect", () => run.finish({ ok: true, detail: "connected" }));
}

/** The Host header: the virtual host as given, else the address (IPv6 in brackets) and the port unless
 * it is the scheme's own. */
function hostHeader(c: HealthCheck, t: Target, standardPort: number): string {
    if (c.virtualHost !== undefined) return c.virtualHost;
    return t.port === standardPort ? bracketed(t.address) : `${bracketed(t.address)}:${t.port}`;
}

/** The TLS server name: sni, else the virtual host without a port; "" (no SNI) for an IP address. */
function serverName(c: HealthCheck): string {
    let name = c.sni ?? c.virtualHost ?? "";
    if (c.sni === undefined) {
        const m = /^\[(.+)\](?::\d+)?$/.exec(name) ?? /^([^:]+):\d+$/.exec(name);
        if (m) name = m[1];
    }
    return net.isIP(name) ? "" : name;
}

/** http / https: one request; the status must be in statusCodes and, with receive, the body (its first
 * MiB) must match. No redirect is followed. */
function web(run: Run<ProbeResult>, c: HealthCheck, t: Target): void {
    const secure = c.type === "https";
    const codes = c.statusCodes ?? "200-299";
    const ranges = statusRanges(codes);
    const pattern = c.receive !== undefined ? new RegExp(c.receive) : undefined;
    const options: https.RequestOptions = {
        host: t.address, port: t.port, method: c.method ?? "GET", path: c.request ?? "/", agent: false,
        headers: { Host: hostHeader(c, t, secure ? 443 : 80), Connection: "close" },
    };
    // An explicit "" keeps Node from taking the server name from the Host header.
    if (secure) Object.assign(options, { servername: serverName(c), rejectUnauthorized: c.verifyTls === true });
    const req = (secure ? https : http).request(options);
    run.hold(() => req.destroy());
    req.on("error", (e) => run.finish({ ok: false, detail: errorText(e) }));
    req.on("response", (res: http.IncomingMessage) => {
        run.hold(() => res.destroy());
        res.on("error", () => { /* the close below says it */ });
        const status = res.statusCode ?? 0;
        if (!ranges.some(([a, b]) => status >= a && status <= b))
            return run.finish({ ok: false, detail: `HTTP ${status} (expected ${codes})` });
        if (!pattern) return run.finish({ ok: true, detail: `HTTP ${status}` });
        const chunks: Buffer[] = [];
        let size = 0;
        const judge = () => {
            const body = Buffer.concat(chunks).toString("utf8");
            run.finish(pattern.test(body) ? { ok: true, detail: `HTTP ${status}` }
                : { ok: false, detail: `HTTP ${status}, body did not match /${c.receive}/` });
        };
        res.on("data", (chunk: Buffer) => {
            if (size >= BODY_LIMIT) return;
            const part = chunk.subarray(0, BODY_LIMIT - size);
            chunks.push(part);
            size += part.length;
            if (size >= BODY_LIMIT) judge();
        });
        res.on("end", judge);
        res.on("close", () => run.finish({ ok: false, detail: `HTTP ${status}, connection closed in the body` }));
    });
    req.end();
}

/** udp: a datagram to the target. With receive, a reply is needed and must match. Without, a reply
 * passes at once, a port unreachable fails, and silence passes when the timeout comes: such a check
 * always takes its whole timeout against a silent server. */
function udp(run: Run<ProbeResult>, c: HealthCheck, t: Target): void {
    const pattern = c.receive !== undefined ? new RegExp(c.receive) : undefined;
    const socket = dgram.createSocket(net.isIPv6(t.address) ? "udp6" : "udp4");
    run.hold(() => socket.close());
    run.onTimeout = () => (pattern ? { ok: false, detail: `no reply after ${c.timeout} s` }
        : { ok: true, detail: "no reply, no port unreachable" });
    socket.on("error", (e: NodeJS.ErrnoException) => run.finish({ ok: false,
        detail: e.code === "ECONNREFUSED" ? "port unreachable" : errorText(e) }));
    socket.on("message", (m: Buffer) => {
        const text = m.toString("utf8");
        run.finish(!pattern ? { ok: true, detail: "reply received" }
            : pattern.test(text) ? { ok: true, detail: "reply matched" }
                : { ok: false, detail: `reply did not match /${c.receive}/: ${JSON.stringify(clip(text, 60))}` });
    });
    socket.connect(t.port, t.address, () => {
        try {
            socket.send(Buffer.from(c.request ?? "", "utf8"), (e: NodeJS.ErrnoException | null) => {
                if (e) run.finish({ ok: false, detail: e.code === "ECONNREFUSED" ? "port unreachable" : errorText(e) });
            });
        } catch (e) {
            run.finish({ ok: false, detail: errorText(e) });
        }
    });
}

const dnsWords: Record<string, string> = {
    ENODATA: "no answer (ENODATA)",
    ENOTFOUND: "no such name (NXDOMAIN)",
    ESERVFAIL: "server failure (SERVFAIL)",
    EREFUSED: "query refused (REFUSED)",
    ECONNREFUSED: "port unreachable (ECONNREFUSED)",
};

/** An answer as text: a name or address as it is, TXT strings joined, a record (MX, SOA, SRV) as JSON. */
const answerText = (a: unknown): string =>
    (typeof a === "string" ? a : Array.isArray(a) ? a.join("") : JSON.stringify(a));

/** dns: one query of request for queryType, asked of the target; at least one answer, and with receive
 * one that matches. */
function dnsCheck(run: Run<ProbeResult>, c: HealthCheck, t: Target, ms: number): void {
    const pattern = c.receive !== undefined ? new RegExp(c.receive) : undefined;
    const resolver = new dns.promises.Resolver({ timeout: ms, tries: 1 });
    run.hold(() => resolver.cancel());
    resolver.setServers([`${bracketed(t.address)}:${t.port}`]);
    resolver.resolve(c.request ?? "", c.queryType ?? "A").then((answers: unknown) => {
        const texts = (Array.isArray(answers) ? answers : [answers]).map(answerText);
        const n = texts.length;
        if (n === 0) return run.finish({ ok: false, detail: "no answer" });
        if (pattern && !texts.some((x) => pattern.test(x))) {
            const seen = clip(texts.join(", "), 80);
            return run.finish({ ok: false, detail: `answers did not match /${c.receive}/: ${seen}` });
        }
        run.finish({ ok: true, detail: `${n} answer${n === 1 ? "" : "s"}` });
    }, (e: NodeJS.ErrnoException) => {
        const code = typeof e?.code === "string" ? e.code : "";
        run.finish({ ok: false, detail: code === "ETIMEOUT" ? `timed out after ${c.timeout} s`
            : dnsWords[code] ?? (code ? `no answer (${code})` : errorText(e)) });
    });
}

/** A command (argv, no shell) under one timer, in a process group of its own: when the time runs out
 * the whole group is killed (SIGKILL), so a script's own children do not outlive it. */
function runChild(argv: string[], env: Record<string, string>, ms: number): Promise<Exit> {
    return bounded<Exit>(ms, () => ({ code: null, detail: "killed after timeout" }),
        (detail) => ({ code: null, detail }), (run) => {
            const child = spawn(argv[0], argv.slice(1), { env, stdio: "ignore", detached: true });
            run.hold(() => {
                if (child.pid === undefined) return;
                try { process.kill(-child.pid, "SIGKILL"); } catch { /* the group is gone */ }
            });
            child.on("error", (e) => run.finish({ code: null, detail: clip(e.message) }));
            child.on("exit", (code, signal) =>
                run.finish({ code, detail: code !== null ? `exit ${code}` : `killed by ${signal}` }));
        });
}

/** Runs one check of `check` against `target` (the address and port it connects to); `rs` is the real
 * server's own address and port, an exec check's last two arguments. Never throws or rejects: a failure
 * is ok: false with a detail in words. The check's timeout (seconds) bounds the whole check: past it the
 * check fails with "timed out after N s" (an exec check: "killed after timeout"; a udp check without
 * receive passes then, having had no port unreachable). Details: tcp "connected", "connection refused";
 * http / https "HTTP 200", "HTTP 503 (expected 200-299)", "HTTP 200, body did not match /re/"; udp
 * "reply matched", "reply received", "no reply, no port unreachable", "port unreachable"; dns "2 answers",
 * "no answer (ENODATA)", "no such name (NXDOMAIN)", "answers did not match /re/: ..."; exec "exit 0",
 * "exit 3". */
export function runCheck(check: HealthCheck, target: Target, rs: Target): Promise<ProbeResult> {
    const ms = Math.max(1, Math.round(check.timeout * 1000));
    if (check.type === "exec") {
        const argv = [...(check.command ?? []), rs.address, String(rs.port)];
        return runChild(argv, {
            PATH: COMMAND_PATH,
            LVS_RS_ADDRESS: rs.address, LVS_RS_PORT: String(rs.port),
            LVS_CHECK_ADDRESS: target.address, LVS_CHECK_PORT: String(target.port),
        }, ms).then((e) => ({ ok: e.code === 0, detail: e.detail }));
    }
    return bounded<ProbeResult>(ms, () => ({ ok: false, detail: `timed out after ${check.timeout} s` }),
        (detail) => ({ ok: false, detail }), (run) => {
            switch (check.type) {
                case "tcp": return tcp(run, target);
                case "http": case "https": return web(run, check, target);
                case "udp": return udp(run, check, target);
                case "dns": return dnsCheck(run, check, target, ms);
                default: return run.finish({ ok: false, detail: `no such check type ${JSON.stringify(check.type)}` });
            }
        });
}

/** Runs a notify command (argv, no shell) with `extra` arguments after its own, for at most `timeoutMs`
 * (then SIGKILL). `env` is its environment, with PATH the fixed one unless it gives its own. Never
 * rejects: the exit code, or null and why ("exit 1", "killed after timeout", "spawn /x ENOENT"). */
export function runCommand(argv: string[], extra: string[], env: Record<string, string>, timeoutMs: number):
    Promise<{ code: number | null; detail: string }> {
    return runChild([...argv, ...extra], { PATH: COMMAND_PATH, ...env }, Math.max(1, timeoutMs));
}
