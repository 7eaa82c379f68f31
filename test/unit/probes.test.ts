// The health checkers against real servers on this host: tcp, http and https (a test-only self-signed
// certificate), udp (an echo server, a silent one, a closed port), dns (a tiny server written here) and
// exec (/bin/sh scripts), each passing and failing, within their timeouts and without leaking handles.
import * as dgram from "dgram";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckSpec, normalizeHealthCheck } from "../../provider/model/health";
import { ProbeResult, runCheck, runCommand } from "../../provider/agent/health/probes";

const tls = path.join(__dirname, "..", "fixtures", "tls");
const local = "127.0.0.1";
const rs = { address: "10.1.0.21", port: 8247 };
const check = (spec: HealthCheckSpec) => normalizeHealthCheck({ timeout: 1, ...spec });
const probe = (spec: HealthCheckSpec, port: number, address = local) =>
    runCheck(check(spec), { address, port }, rs);
/** A probe and how long it took (ms). */
const timed = async (spec: HealthCheckSpec, port: number, address = local) => {
    const started = Date.now();
    const r = await probe(spec, port, address);
    return { ...r, ms: Date.now() - started };
};
const ok = (detail: string): ProbeResult => ({ ok: true, detail });
const fail = (detail: string): ProbeResult => ({ ok: false, detail });

const listen = (s: net.Server, host: string) => new Promise<number>((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, host, () => resolve((s.address() as net.AddressInfo).port));
});
const bind = (s: dgram.Socket, host: string) => new Promise<number>((resolve, reject) => {
    s.once("error", reject);
    s.bind(0, host, () => resolve(s.address().port));
});
/** A port that nothing listens on (tcp and udp): one the kernel gave, then closed. */
async function closedPort(host = local): Promise<number> {
    const s = net.createServer();
    const port = await listen(s, host);
    await new Promise((r) => s.close(r));
    return port;
}
async function closedUdpPort(type: "udp4" | "udp6" = "udp4", host = local): Promise<number> {
    const s = dgram.createSocket(type);
    const port = await bind(s, host);
    await new Promise<void>((r) => s.close(() => r()));
    return port;
}

// What the http and https servers saw.
interface Seen { method?: string; url?: string; host?: string; servername?: string | false | null }
const seen: Seen[] = [];
const last = () => seen[seen.length - 1];
const page = "<html>this is the test page</html>";
const chunk = Buffer.alloc(64 * 1024, "x");

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    seen.push({ method: req.method, url: req.url, host: req.headers.host,
        servername: (req.socket as import("tls").TLSSocket).servername });
    if (req.url === "/") res.end(page);
    else if (req.url === "/down") { res.statusCode = 503; res.end("down"); }
    else if (req.url === "/moved") { res.statusCode = 301; res.setHeader("Location", "/"); res.end(); }
    else if (req.url === "/endless") {
        // x without end (past the 1 MiB a check reads), until the client goes.
        const pump = () => {
            while (!res.destroyed && res.write(chunk)) { /* until the buffer is full */ }
            if (!res.destroyed) res.once("drain", pump);
        };
        pump();
    } else if (req.url === "/slow") { /* never answers */ } else { res.statusCode = 404; res.end(); }
}

// The dns server: an A record for www.lab (10.0.0.21), NXDOMAIN for any other name.
function dnsReply(q: Buffer): Buffer {
    let i = 12;
    const labels: string[] = [];
    while (q[i] !== 0) {
        labels.push(q.subarray(i + 1, i + 1 + q[i]).toString("ascii"));
        i += q[i] + 1;
    }
    const qtype = q.readUInt16BE(i + 1);
    const question = q.subarray(12, i + 5);
    const known = labels.join(".").toLowerCase() === "www.lab";
    const withAnswer = known && qtype === 1;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(q.readUInt16BE(0), 0);
    // QR and AA, the query's RD, rcode 0 or 3 (NXDOMAIN).
    header.writeUInt16BE(0x8400 | (q.readUInt16BE(2) & 0x0100) | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(withAnswer ? 1 : 0, 6);
    // The name as a pointer to the question's (offset 12), type A, class IN, TTL 60, 4 bytes of address.
    const a = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 21]);
    return Buffer.concat(withAnswer ? [header, question, a] : [header, question]);
}

const closers: Array<() => void> = [];
const ports = { tcp: 0, http: 0, https: 0, echo: 0, silent: 0, dns: 0, tcp6: 0, http6: 0, echo6: 0, dns6: 0 };
let ipv6 = false;
const udpSeen: string[] = [];
let tmp = "";

function tcpServer(): net.Server {
    const s = net.createServer((c) => { c.on("error", () => undefined); c.resume(); });
    closers.push(() => s.close());
    return s;
}
function httpServer(secure: boolean): http.Server {
    const s = secure ? https.createServer({ cert: fs.readFileSync(path.join(tls, "lab-rs.crt")),
        key: fs.readFileSync(path.join(tls, "lab-rs.key")) }, answer) : http.createServer(answer);
    s.on("tlsClientError", () => undefined);
    closers.push(() => { s.closeAllConnections(); s.close(); });
    return s;
}
function udpServer(type: "udp4" | "udp6", reply?: (m: Buffer) => Buffer): dgram.Socket {
    const s = dgram.createSocket(type);
    s.on("message", (m, from) => {
        udpSeen.push(m.toString("utf8"));
        if (reply) s.send(reply(m), from.port, from.address);
    });
    closers.push(() => s.close());
    return s;
}

beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "probes-"));
    ports.tcp = await listen(tcpServer(), local);
    ports.http = await listen(httpServer(false), local);
    ports.https = await listen(httpServer(true), local);
    ports.echo = await bind(udpServer("udp4", () => Buffer.from("pong")), local);
    ports.silent = await bind(udpServer("udp4"), local);
    ports.dns = await bind(udpServer("udp4", dnsReply), local);
    try {
        ports.tcp6 = await listen(tcpServer(), "::1");
        ipv6 = true;
    } catch { /* no IPv6 loopback here: its tests skip */ }
    if (ipv6) {
        ports.http6 = await listen(httpServer(false), "::1");
        ports.echo6 = await bind(udpServer("udp6", () => Buffer.from("pong")), "::1");
        ports.dns6 = await bind(udpServer("udp6", dnsReply), "::1");
    }
});
afterAll(() => {
    for (const close of closers) close();
    fs.rmSync(tmp, { recursive: true, force: true });
});

describe("tcp checks", () => {
    it("pass on an open port, fail on a closed one", async () => {
        expect(await probe({ type: "tcp" }, ports.tcp)).toEqual(ok("connected"));
        expect(await probe({ type: "tcp" }, await closedPort())).toEqual(fail("connection refused"));
    });
    it("connect over IPv6", async (ctx) => {
        if (!ipv6) ctx.skip();
        expect(await probe({ type: "tcp" }, ports.tcp6, "::1")).toEqual(ok("connected"));
        expect(await probe({ type: "tcp" }, await closedPort("::1"), "::1")).toEqual(fail("connection refused"));
    });
});

describe("http checks", () => {
    it("pass on a status in range, fail out of it", async () => {
        expect(await probe({ type: "http" }, ports.http)).toEqual(ok("HTTP 200"));
        expect(await probe({ type: "http", request: "/down" }, ports.http))
            .toEqual(fail("HTTP 503 (expected 200-299)"));
        expect(await probe({ type: "http", request: "/moved", statusCodes: "200" }, ports.http))
            .toEqual(fail("HTTP 301 (expected 200)"));
    });
    it("take a list of statuses, and follow no redirect", async () => {
        const before = seen.length;
        expect(await probe({ type: "http", request: "/moved", statusCodes: "200,301-302" }, ports.http))
            .toEqual(ok("HTTP 301"));
        expect(seen.slice(before).map((s) => s.url)).toEqual(["/moved"]);
    });
    it("match the body with receive", async () => {
        expect(await probe({ type: "http", receive: "test page" }, ports.http)).toEqual(ok("HTTP 200"));
        expect(await probe({ type: "http", receive: "^<html>this" }, ports.http)).toEqual(ok("HTTP 200"));
        expect(await probe({ type: "http", receive: "other page" }, ports.http))
            .toEqual(fail("HTTP 200, body did not match /other page/"));
    });
    it("read at most 1 MiB of the body", async () => {
        const miss = await timed({ type: "http", request: "/endless", receive: "y", timeout: 5 }, ports.http);
        expect(miss).toMatchObject(fail("HTTP 200, body did not match /y/"));
        expect(miss.ms).toBeLessThan(4000);
        expect(await probe({ type: "http", request: "/endless", receive: "^x+$" }, ports.http)).toEqual(ok("HTTP 200"));
    });
    it("send the Host header: the address and port, or the virtual host", async () => {
        await probe({ type: "http" }, ports.http);
        expect(last()).toMatchObject({ method: "GET", url: "/", host: `127.0.0.1:${ports.http}` });
        await probe({ type: "http", virtualHost: "www.lab", request: "/.testpage" }, ports.http);
        expect(last()).toMatchObject({ url: "/.testpage", host: "www.lab" });
    });
    it("ask with HEAD", async () => {
        expect(await probe({ type: "http", method: "HEAD" }, ports.http)).toEqual(ok("HTTP 200"));
        expect(last()).toMatchObject({ method: "HEAD", url: "/" });
        expect(await probe({ type: "http", method: "HEAD", request: "/down" }, ports.http))
            .toEqual(fail("HTTP 503 (expected 200-299)"));
    });
    it("fail on a closed port and at the timeout", async () => {
        expect(await probe({ type: "http" }, await closedPort())).toEqual(fail("connection refused"));
        const slow = await timed({ type: "http", request: "/slow", timeout: 0.3 }, ports.http);
        expect(slow).toMatchObject(fail("timed out after 0.3 s"));
        expect(slow.ms).toBeGreaterThanOrEqual(290);
        expect(slow.ms).toBeLessThan(1300);
    });
    it("put an IPv6 address in brackets in the Host header", async (ctx) => {
        if (!ipv6) ctx.skip();
        expect(await probe({ type: "http" }, ports.http6, "::1")).toEqual(ok("HTTP 200"));
        expect(last().host).toBe(`[::1]:${ports.http6}`);
    });
});

describe("https checks", () => {
    it("pass on a self-signed certificate unless verifyTls", async () => {
        expect(await probe({ type: "https" }, ports.https)).toEqual(ok("HTTP 200"));
        expect(await probe({ type: "https", receive: "test page" }, ports.https)).toEqual(ok("HTTP 200"));
        const verified = await probe({ type: "https", verifyTls: true }, ports.https);
        expect(verified.ok).toBe(false);
        expect(verified.detail).toMatch(/self-signed certificate/);
        expect(await probe({ type: "https", request: "/down" }, ports.https))
            .toEqual(fail("HTTP 503 (expected 200-299)"));
    });
    it("send SNI: sni, else the virtual host, never an address", async () => {
        await probe({ type: "https" }, ports.https);
        expect(last()).toMatchObject({ host: `127.0.0.1:${ports.https}`, servername: false });
        await probe({ type: "https", sni: "lab-rs" }, ports.https);
        expect(last()).toMatchObject({ host: `127.0.0.1:${ports.https}`, servername: "lab-rs" });
        await probe({ type: "https", virtualHost: "www.lab" }, ports.https);
        expect(last()).toMatchObject({ host: "www.lab", servername: "www.lab" });
        await probe({ type: "https", virtualHost: "www.lab:8443", sni: "lab-rs" }, ports.https);
        expect(last()).toMatchObject({ host: "www.lab:8443", servername: "lab-rs" });
        await probe({ type: "https", virtualHost: "www.lab:8443" }, ports.https);
        expect(last()).toMatchObject({ host: "www.lab:8443", servername: "www.lab" });
        await probe({ type: "https", virtualHost: "10.0.0.21" }, ports.https);
        expect(last()).toMatchObject({ host: "10.0.0.21", servername: false });
    });
    it("fail on a closed port", async () => {
        expect(await probe({ type: "https" }, await closedPort())).toEqual(fail("connection refused"));
    });
});

describe("udp checks", () => {
    it("need a reply that matches receive", async () => {
        const before = udpSeen.length;
        expect(await probe({ type: "udp", request: "ping", receive: "^pong$" }, ports.echo))
            .toEqual(ok("reply matched"));
        expect(udpSeen.slice(before)).toEqual(["ping"]);
        expect(await probe({ type: "udp", request: "ping", receive: "nope" }, ports.echo))
            .toEqual(fail('reply did not match /nope/: "pong"'));
    });
    it("send an empty datagram by default and pass at the first reply", async () => {
        const before = udpSeen.length;
        const r = await timed({ type: "udp" }, ports.echo);
        expect(r).toMatchObject(ok("reply received"));
        expect(r.ms).toBeLessThan(500);
        expect(udpSeen.slice(before)).toEqual([""]);
    });
    it("fail on port unreachable", async () => {
        const port = await closedUdpPort();
        expect(await probe({ type: "udp", receive: "pong" }, port)).toEqual(fail("port unreachable"));
        const r = await timed({ type: "udp", timeout: 2 }, port);
        expect(r).toMatchObject(fail("port unreachable"));
        expect(r.ms).toBeLessThan(1000);
    });
    it("without receive, pass on silence at the timeout; with it, fail", async () => {
        const quiet = await timed({ type: "udp", timeout: 0.3 }, ports.silent);
        expect(quiet).toMatchObject(ok("no reply, no port unreachable"));
        expect(quiet.ms).toBeGreaterThanOrEqual(290);
        expect(quiet.ms).toBeLessThan(1000);
        expect(await probe({ type: "udp", receive: "pong", timeout: 0.3 }, ports.silent))
            .toEqual(fail("no reply after 0.3 s"));
    });
    it("go over IPv6", async (ctx) => {
        if (!ipv6) ctx.skip();
        expect(await probe({ type: "udp", receive: "pong" }, ports.echo6, "::1")).toEqual(ok("reply matched"));
        expect(await probe({ type: "udp", receive: "pong" }, await closedUdpPort("udp6", "::1"), "::1"))
            .toEqual(fail("port unreachable"));
    });
});

describe("dns checks", () => {
    it("pass on an answer, and one that matches receive", async () => {
        expect(await probe({ type: "dns", request: "www.lab" }, ports.dns)).toEqual(ok("1 answer"));
        expect(await probe({ type: "dns", request: "www.lab", receive: "10\\.0\\.0\\.21" }, ports.dns))
            .toEqual(ok("1 answer"));
    });
    it("fail on answers that do not match, no answer and an unknown name", async () => {
        expect(await probe({ type: "dns", request: "www.lab", receive: "10\\.9" }, ports.dns))
            .toEqual(fail("answers did not match /10\\.9/: 10.0.0.21"));
        expect(await probe({ type: "dns", request: "www.lab", queryType: "AAAA" }, ports.dns))
            .toEqual(fail("no answer (ENODATA)"));
        expect(await probe({ type: "dns", request: "nothing.lab" }, ports.dns))
            .toEqual(fail("no such name (NXDOMAIN)"));
    });
    it("fail on a silent server at the timeout", async () => {
        const r = await timed({ type: "dns", request: "www.lab", timeout: 0.3 }, ports.silent);
        expect(r).toMatchObject(fail("timed out after 0.3 s"));
        expect(r.ms).toBeLessThan(1300);
        const closed = await probe({ type: "dns", request: "www.lab", timeout: 0.3 }, await closedUdpPort());
        expect(closed.ok).toBe(false);
    });
    it("ask over IPv6", async (ctx) => {
        if (!ipv6) ctx.skip();
        expect(await probe({ type: "dns", request: "www.lab", receive: "^10\\.0\\.0\\.21$" }, ports.dns6, "::1"))
            .toEqual(ok("1 answer"));
    });
});

describe("exec checks", () => {
    const sh = (script: string, ...rest: string[]) => ["/bin/sh", "-c", script, "x", ...rest];
    it("pass on exit 0, fail on another", async () => {
        expect(await probe({ type: "exec", command: sh("exit 0") }, 0)).toEqual(ok("exit 0"));
        expect(await probe({ type: "exec", command: sh("exit 3") }, 0)).toEqual(fail("exit 3"));
        expect(await probe({ type: "exec", command: sh("kill -TERM $$") }, 0)).toEqual(fail("killed by SIGTERM"));
        expect(await probe({ type: "exec", command: ["/nonexistent/check"] }, 0))
            .toEqual(fail("spawn /nonexistent/check ENOENT"));
    });
    it("kill a command past the timeout", async () => {
        const r = await timed({ type: "exec", command: sh("exec sleep 5"), timeout: 0.3 }, 0);
        expect(r).toMatchObject(fail("killed after timeout"));
        expect(r.ms).toBeLessThan(1300);
    });
    it("give the real server's address and port as the last two arguments, and in the environment", async () => {
        const file = path.join(tmp, "args");
        const script = 'printf "%s|%s|%s|%s|%s|%s|%s" "$1" "$2" "$3" ' +
            '"$LVS_RS_ADDRESS" "$LVS_RS_PORT" "$LVS_CHECK_ADDRESS:$LVS_CHECK_PORT" "$PATH" > "$0"';
        const command = ["/bin/sh", "-c", script, file, "--quick"];
        expect(await runCheck(check({ type: "exec", command }), { address: "10.0.0.99", port: 9000 }, rs))
            .toEqual(ok("exit 0"));
        expect(fs.readFileSync(file, "utf8"))
            .toBe("--quick|10.1.0.21|8247|10.1.0.21|8247|10.0.0.99:9000|/usr/sbin:/usr/bin:/sbin:/bin");
    });
});

describe("notify commands", () => {
    it("run with the extra arguments and the environment, and give the exit code", async () => {
        const file = path.join(tmp, "notify");
        const r = await runCommand(["/bin/sh", "-c", 'printf "%s %s %s %s" "$1" "$2" "$3" "$WHO" > "$0"; exit 4', file],
            ["down", "10.1.0.21", "8247"], { WHO: "lvs" }, 2000);
        expect(r).toEqual({ code: 4, detail: "exit 4" });
        expect(fs.readFileSync(file, "utf8")).toBe("down 10.1.0.21 8247 lvs");
    });
    it("are killed past their time, and report what does not run", async () => {
        const started = Date.now();
        expect(await runCommand(["/bin/sh", "-c", "exec sleep 5"], [], {}, 300)).toEqual({ code: null,
            detail: "killed after timeout" });
        expect(Date.now() - started).toBeLessThan(1300);
        expect(await runCommand(["/nonexistent/notify"], ["up"], {}, 1000)).toEqual({ code: null,
            detail: "spawn /nonexistent/notify ENOENT" });
    });
});

describe("resources", () => {
    const handles = () => process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap").sort();
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** The handles once they stop changing (what earlier tests closed is gone). */
    async function steady(): Promise<string[]> {
        let was = handles();
        for (let i = 0; i < 20; i++) {
            await pause(50);
            const now = handles();
            if (now.join() === was.join()) return now;
            was = now;
        }
        return was;
    }
    /** The handles once the checks' own have gone (the servers' ends of a connection close a little later). */
    async function settled(want: string[]): Promise<string[]> {
        let now = handles();
        for (let i = 0; i < 50 && now.join() !== want.join(); i++) {
            await pause(20);
            now = handles();
        }
        return now;
    }
    it("are all freed after 200 tcp checks in a row", async () => {
        const closed = await closedPort();
        const before = await steady();
        for (let i = 0; i < 200; i++) {
            const r = await probe({ type: "tcp" }, i % 4 === 3 ? closed : ports.tcp);
            expect(r.ok).toBe(i % 4 !== 3);
        }
        expect(await settled(before)).toEqual(before);
    });
    it("are all freed after checks of every type, passed, failed and timed out", async () => {
        const closed = await closedPort();
        const closedUdp = await closedUdpPort();
        const before = await steady();
        for (let i = 0; i < 10; i++) {
            await Promise.all([
                probe({ type: "http", receive: "test page" }, ports.http),
                probe({ type: "http", request: "/endless", receive: "y" }, ports.http),
                probe({ type: "http", request: "/slow", timeout: 0.1 }, ports.http),
                probe({ type: "http" }, closed),
                probe({ type: "https", sni: "lab-rs" }, ports.https),
                probe({ type: "https", verifyTls: true }, ports.https),
                probe({ type: "udp", receive: "pong" }, ports.echo),
                probe({ type: "udp", timeout: 0.1 }, ports.silent),
                probe({ type: "udp" }, closedUdp),
                probe({ type: "dns", request: "www.lab" }, ports.dns),
                probe({ type: "dns", request: "nothing.lab" }, ports.dns),
                probe({ type: "dns", request: "www.lab", timeout: 0.1 }, ports.silent),
                probe({ type: "exec", command: ["/bin/sh", "-c", "exit 1"] }, 0),
                probe({ type: "exec", command: ["/bin/sh", "-c", "exec sleep 5"], timeout: 0.1 }, 0),
            ]);
        }
        expect(await settled(before)).toEqual(before);
    });
});
