// Health checks as pure logic: the check's rules (at preview, through the providers' check), its
// defaults, the kernel's form of a real server by its health, quorum with hysteresis, one endpoint for
// the real servers that share a check, the writes the health daemon makes for a service, and the daemon
// itself against a fake kernel (a real server it checks over TCP on this machine).
import { describe, expect, it } from "vitest";
import * as model from "../../provider/model";
import { convergeService, quorumOf } from "../../provider/agent/health/converge";
import type { HealthState } from "../../provider/agent/health/state";
import type { ServiceRecord } from "../../provider/agent/desired";
import { realServer, virtualService } from "../../provider/resources";

const connection = {
    host: "10.0.0.11", hostKey: "SHA256:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", privateKey: "k",
};
const service = { protocol: "tcp", address: "10.0.0.226", port: 80 };
const failures = async (healthCheck: unknown, extra: Record<string, unknown> = {}) =>
    ((await realServer.check!({}, { connection, service, address: "10.1.0.21", port: 8226, forwarding: "nat",
        healthCheck, ...extra })).failures ?? []).map((f) => `${f.property}: ${f.reason}`);

describe("a health check's rules", () => {
    it("accepts each type with its own fields", async () => {
        for (const c of [
            { type: "tcp" }, { type: "tcp", interval: 0.5, timeout: 0.2, failureCount: 3, successCount: 2 },
            { type: "http", request: "/.testpage", receive: "test page", virtualHost: "www",
                statusCodes: "200,301-302" },
            { type: "https", sni: "lab-rs", verifyTls: true, method: "HEAD" },
            { type: "udp", request: "ping", receive: "^pong$" }, { type: "dns", request: "www.lab", queryType: "AAAA" },
            { type: "exec", command: ["/usr/local/bin/check", "--quick"], onFailure: "remove", initialState: "up" },
            { type: "tcp", connectAddress: "10.0.0.226", connectPort: 80, notify: ["/usr/bin/logger", "lvs"] },
        ]) expect(await failures(c), JSON.stringify(c)).toEqual([]);
    });
    it("names the field, the value and the rule", async () => {
        expect(await failures({ type: "ping" })).toEqual([
            'healthCheck.type: "ping" is not a check type: use "tcp", "http", "https", "udp", "dns" or "exec"']);
        expect(await failures({ interval: 10 })).toEqual([
            'healthCheck.type: a health check needs its type: "tcp", "http", "https", "udp", "dns" or "exec"']);
        expect(await failures({ type: "tcp", interval: 0 })).toEqual([
            "healthCheck.interval: 0 is not a check interval: seconds from 0.1 to 3600"]);
        expect(await failures({ type: "tcp", failureCount: 1.5 })).toEqual([
            "healthCheck.failureCount: 1.5 is not a count of checks: an integer from 1 to 100"]);
        expect(await failures({ type: "tcp", request: "/" })).toEqual([
            'healthCheck.request: a tcp check has no request (it is for "http", "https", "udp" or "dns" checks)']);
        expect(await failures({ type: "http", recieve: "x" })).toEqual([
            'healthCheck.recieve: unknown health check setting "recieve" (allowed: type, interval, timeout, ' +
            "failureCount, successCount, connectAddress, connectPort, initialState, onFailure, notify, method, " +
            "request, receive, virtualHost, statusCodes, sni, verifyTls, queryType, command)"]);
        expect(await failures({ type: "http", receive: "(" })).toEqual([
            'healthCheck.receive: "(" is not a regular expression: Invalid regular expression: /(/: ' +
            "Unterminated group"]);
        expect(await failures({ type: "http", statusCodes: "200-199" })).toEqual([
            'healthCheck.statusCodes: "200-199" is not a list of HTTP statuses: e.g. "200-299" or "200,301-302" ' +
            "(from 100 to 599)"]);
        expect(await failures({ type: "http", request: "testpage" })).toEqual([
            'healthCheck.request: "testpage" is not a path: it starts with "/"']);
        expect(await failures({ type: "dns" })).toEqual([
            'healthCheck.request: a dns check needs the name it asks for, e.g. "www.example.com"']);
        expect(await failures({ type: "exec", command: ["check-db"] })).toEqual([
            'healthCheck.command: ["check-db"] is not a check command: a list of 1 to 64 words, the first an ' +
            'absolute path (e.g. ["/usr/local/bin/check-db", "--quick"]); no shell runs it']);
        expect(await failures({ type: "tcp", onFailure: "drop" })).toEqual([
            'healthCheck.onFailure: "drop" is not a failure action: use "quiesce" or "remove"']);
        expect(await failures({ type: "tcp", connectAddress: "rs1" })).toEqual([
            'healthCheck.connectAddress: "rs1" is not an IPv4 or IPv6 address']);
        expect(await failures("http")).toEqual([
            'healthCheck: "http" is not a health check: an object, e.g. { type: "http", request: "/.testpage", ' +
            'receive: "test page" }']);
    });
    it("needs a connectPort for a real server of a fwmark service (it has no port), but not for exec", async () => {
        const fw = { service: { fwmark: 7 }, port: undefined, forwarding: "dr" };
        expect(await failures({ type: "tcp" }, fw)).toEqual([
            'healthCheck.connectPort: a real server of a fwmark service has no port of its own: a "tcp" check ' +
            "needs connectPort"]);
        expect(await failures({ type: "tcp", connectPort: 80 }, fw)).toEqual([]);
        expect(await failures({ type: "exec", command: ["/bin/true"] }, fw)).toEqual([]);
    });
    it("a service's default check, sorry server and quorum", async () => {
        const f = async (extra: Record<string, unknown>) =>
            ((await virtualService.check!({}, { connection, ...service, ...extra })).failures ?? [])
                .map((x) => `${x.property}: ${x.reason}`);
        expect(await f({ healthCheck: { type: "tcp" }, sorryServer: { address: "10.1.0.23", port: 8227,
            forwarding: "nat" }, quorum: 3, hysteresis: 1 })).toEqual([]);
        expect(await f({ quorum: 0 })).toEqual([
            "quorum: 0 is not a quorum: the least total weight of healthy real servers, an integer from 1 to " +
            "2147483647"]);
        expect(await f({ quorum: 2, hysteresis: 2 })).toEqual([
            "hysteresis: 2 is not a hysteresis for quorum 2: an integer from 0 to 1"]);
        expect(await f({ sorryServer: { address: "10.1.0.23", port: 8227 } })).toEqual([
            'sorryServer.port: with forwarding "dr" a real server listens on the service\'s port 80, not 8227; ' +
            'leave port out or use "nat"']);
        expect(await f({ sorryServer: { adress: "10.1.0.23" } })).toEqual([
            'sorryServer.adress: unknown sorry server setting "adress" (allowed: address, port, forwarding, weight)',
            "sorryServer.address: undefined is not an IPv4 or IPv6 address"]);
    });
});

const check = (c: Partial<model.HealthCheckSpec> = {}) => model.normalizeHealthCheck({ type: "http", ...c });
const rs = (address: string, weight = 5): model.RealServer =>
    ({ address, port: 8226, addressFamily: "inet", forwarding: "nat", weight, upperThreshold: 0, lowerThreshold: 0 });
const svc = model.normalizeService({ protocol: "tcp", address: "10.0.0.226", port: 80 });
const key = model.serviceName(svc);

describe("a check's defaults and its effect on the kernel", () => {
    it("fills in each type's defaults, and only its type's", () => {
        expect(check()).toEqual({ type: "http", interval: 10, timeout: 5, failureCount: 1, successCount: 1,
            initialState: "down", onFailure: "quiesce", method: "GET", request: "/", statusCodes: "200-299" });
        expect(model.normalizeHealthCheck({ type: "tcp", connectAddress: "fd00:0::1" })).toEqual({ type: "tcp",
            interval: 10, timeout: 5, failureCount: 1, successCount: 1, initialState: "down", onFailure: "quiesce",
            connectAddress: "fd00::1" });
    });
    it("quiesces (weight 0) or removes a server its check holds down; drain wins", () => {
        const r = rs("10.1.0.21");
        expect(model.effectiveRealServer(r, check(), true)).toEqual(r);
        expect(model.effectiveRealServer(r, check(), false)).toEqual({ ...r, weight: 0 });
        expect(model.effectiveRealServer(r, check({ onFailure: "remove" }), false)).toBeUndefined();
        expect(model.effectiveRealServer(r, undefined, false)).toEqual(r);
        expect(model.effectiveRealServer(r, check(), true, true)).toEqual({ ...r, weight: 0 });
    });
    it("has its quorum with hysteresis: lost below quorum - hysteresis, back at quorum + hysteresis", () => {
        const q = { quorum: 5, hysteresis: 2 };
        expect(model.hasQuorum(q, 5, undefined)).toBe(true);
        expect(model.hasQuorum(q, 4, undefined)).toBe(false);
        expect(model.hasQuorum(q, 3, true)).toBe(true);
        expect(model.hasQuorum(q, 2, true)).toBe(false);
        expect(model.hasQuorum(q, 6, false)).toBe(false);
        expect(model.hasQuorum(q, 7, false)).toBe(true);
    });
    it("one endpoint for the same check of the same address and port, whatever it does on a failure", () => {
        const a = model.endpointKey(check(), rs("10.1.0.21"));
        expect(model.endpointKey(check({ onFailure: "remove", notify: ["/bin/true"] }), rs("10.1.0.21", 1))).toBe(a);
        expect(model.endpointKey(check({ interval: 2 }), rs("10.1.0.21"))).not.toBe(a);
        expect(model.endpointKey(check(), rs("10.1.0.22"))).not.toBe(a);
        expect(model.endpointKey(check({ connectAddress: "10.1.0.22" }), rs("10.1.0.21")))
            .toBe(model.endpointKey(check(), rs("10.1.0.22")));
    });
});

describe("what the health daemon writes for a service", () => {
    const a = rs("10.1.0.21"), b = rs("10.1.0.22");
    const sorry = { ...rs("10.1.0.23", 1), port: 8227 };
    const record = (over: Partial<ServiceRecord> = {}): ServiceRecord => ({
        service: svc, realServers: { "10.1.0.21|8226": a, "10.1.0.22|8226": b },
        health: { healthCheck: check(), sorryServer: sorry, quorum: 1, hysteresis: 0 }, ...over,
    });
    const state = (upA: boolean, upB: boolean): HealthState => ({
        version: 1, servers: {}, quorum: {},
        endpoints: { [model.endpointKey(check(), a)]: { up: upA, since: "t" }, [model.endpointKey(check(), b)]: {
            up: upB, since: "t" } },
    });
    const live = (...xs: model.RealServer[]) => new Map(xs.map((x) => [`${x.address}|${x.port}`, x]));
    it("sets the weight of a server that went down to 0 and of one that came back to its declared weight", () => {
        const out = convergeService(key, record(), state(false, true), live(a, { ...b, weight: 0 }));
        expect(out.actions).toEqual([
            "set weight of real server 10.1.0.21:8226 of tcp/10.0.0.226:80 5 -> 0",
            "set weight of real server 10.1.0.22:8226 of tcp/10.0.0.226:80 0 -> 5"]);
    });
    it("adds the sorry server when the quorum is lost, removes it when it is back", () => {
        const h = state(false, false);
        h.quorum[key] = quorumOf(key, record(), h);
        expect(h.quorum[key]).toBe(false);
        expect(convergeService(key, record(), h, live({ ...a, weight: 0 }, { ...b, weight: 0 })).actions).toEqual([
            "added sorry server 10.1.0.23:8227 of tcp/10.0.0.226:80: too few healthy real servers"]);
        const back = state(true, false);
        back.quorum[key] = quorumOf(key, record(), { ...back, quorum: { [key]: false } });
        expect(convergeService(key, record(), back, live(a, { ...b, weight: 0 }, sorry)).actions).toEqual([
            "removed sorry server 10.1.0.23:8227 of tcp/10.0.0.226:80: the quorum is back"]);
    });
    it("removes a failed server with onFailure remove and adds it back; leaves unchecked ones to apply", () => {
        const remove = check({ onFailure: "remove" });
        const r = record({ health: { quorum: 1, hysteresis: 0 }, checks: { "10.1.0.21|8226": remove } });
        const h: HealthState = { version: 1, servers: {}, quorum: {},
            endpoints: { [model.endpointKey(remove, a)]: { up: false, since: "t" } } };
        expect(convergeService(key, r, h, live(a, { ...b, weight: 9 })).actions).toEqual([
            "removed real server 10.1.0.21:8226 of tcp/10.0.0.226:80"]);
        h.endpoints[model.endpointKey(remove, a)].up = true;
        expect(convergeService(key, r, h, live({ ...b, weight: 9 })).actions).toEqual([
            "added real server 10.1.0.21:8226 of tcp/10.0.0.226:80 with weight 5"]);
    });
    it("keeps a draining server at weight 0, and counts it out of the quorum", () => {
        const r = record({ draining: ["10.1.0.22|8226"] });
        const h = state(true, true);
        expect(convergeService(key, r, h, live(a, b)).actions).toEqual([
            "set weight of real server 10.1.0.22:8226 of tcp/10.0.0.226:80 5 -> 0"]);
        const q = record({ draining: ["10.1.0.22|8226"], health: { quorum: 6, hysteresis: 0 } });
        expect(quorumOf(key, q, h)).toBe(false);
    });
    it("a server whose check changed starts from its last state, not its initial one", () => {
        const h: HealthState = { version: 1, endpoints: {}, quorum: {}, servers: { [`${key} 10.1.0.21|8226`]: true } };
        expect(convergeService(key, record(), h, live(a, { ...b, weight: 0 })).actions).toEqual([]);
    });
});

describe("the health daemon, against a fake kernel", () => {
    it("cuts its cap of checks in flight while its event loop is busy, and grows it back when it is not", async () => {
        const { nextCap } = await import("../../provider/agent/health/daemon");
        expect([nextCap(200, 0.95), nextCap(200, 1), nextCap(20, 0.99), nextCap(16, 1)]).toEqual([133, 133, 16, 16]);
        expect([nextCap(16, 0), nextCap(100, 0.79), nextCap(196, 0.1), nextCap(200, 0)]).toEqual([24, 108, 200, 200]);
        expect([nextCap(100, 0.8), nextCap(100, 0.94)]).toEqual([100, 100]);
    });
    it("retries a change it could not apply within 5 s, not at the next change of state", async () => {
        const net = await import("net");
        const fs = await import("fs");
        const os = await import("os");
        const path = await import("path");
        const { HealthDaemon } = await import("../../provider/agent/health/daemon");
        // A real server that answers: its tcp check passes at once.
        const server = net.createServer((s) => s.end()).listen(0, "127.0.0.1");
        await new Promise((r) => server.once("listening", r));
        const port = (server.address() as { port: number }).port;
        const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-daemon-"));
        const declared = { ...rs("127.0.0.1"), port };
        fs.writeFileSync(path.join(stateDir, "desired.json"), JSON.stringify({
            version: 2, services: { [key]: { service: svc, realServers: { [`127.0.0.1|${port}`]: declared },
                health: { healthCheck: model.normalizeHealthCheck({ type: "tcp", interval: 1, timeout: 1 }) } } },
            daemons: {}, sysctls: {}, holders: {}, addresses: {}, modules: [], found: {},
        }));
        // The kernel has it at weight 0 (down until proven). The daemon's first write (at its start) goes
        // through; the second (the check passed) fails, as a busy node's netlink socket may.
        const live = [{ ...declared, weight: 0 }];
        const lines: string[] = [], written: string[] = [];
        let calls = 0;
        const kernel = {
            destinations: async () => live,
            writeAll: async (ws: Array<{ op: string }>) => {
                written.push(...ws.map((w) => w.op));
                return ws.map(() => undefined);
            },
        };
        const ctx = {
            stateDir, agentFile: "/opt/agent.js", exclusive: <T>(fn: () => Promise<T>) => fn(),
            ipvs: async () => {
                if (++calls === 2) throw new Error("list destinations: ENOBUFS");
                return kernel;
            },
        };
        const daemon = new HealthDaemon(ctx as never, { log: (l) => lines.push(l), pollMs: 100 });
        const back = `set weight of real server 127.0.0.1:${port} of tcp/10.0.0.226:80 0 -> 5`;
        try {
            await daemon.start();
            // The check passes within a second; its write fails; nothing changes after that.
            const deadline = Date.now() + 15_000;
            while (!lines.includes(back) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
            expect(lines, lines.join("\n")).toContain(back);
            expect(written).toEqual([expect.stringMatching(/^update destination 127\.0\.0\.1:/)]);
            expect(lines.filter((l) => l.startsWith("could not apply health changes"))).toEqual([
                "could not apply health changes (trying again within 5 s): list destinations: ENOBUFS"]);
        } finally {
            await daemon.stop();
            server.close();
            fs.rmSync(stateDir, { recursive: true, force: true });
        }
    }, 20_000);
});
