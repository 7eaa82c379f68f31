// The health daemon on a director whose CPU does not keep up with its checks: its checks come late, and
// healthy real servers stay up. The checks are a stand-in (this file's own runCheck) that costs CPU in the
// daemon's event loop as a real one does (three callbacks of 2 ms each: connect, response, end) and fails
// when its answer comes after its timeout, as a real check's timer would; the kernel is a fake.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it, vi } from "vitest";
import * as model from "../../provider/model";

vi.mock("../../provider/agent/health/probes", () => ({
    runCheck: async (check: model.HealthCheck) => {
        const started = Date.now();
        const step = () => new Promise<void>((resolve) => setImmediate(() => {
            const until = Date.now() + 2;
            while (Date.now() < until) { /* the CPU of one callback of a check */ }
            resolve();
        }));
        for (let i = 0; i < 3; i++) await step();
        const took = Date.now() - started;
        return took > check.timeout * 1000 ? { ok: false, detail: `timed out after ${check.timeout} s` }
            : { ok: true, detail: "HTTP 200" };
    },
    runCommand: async () => ({ code: 0, detail: "exit 0" }),
}));

describe("the health daemon on a CPU that cannot keep up", () => {
    it("runs fewer checks at once, so they come late and healthy servers stay up", async () => {
        const { HealthDaemon } = await import("../../provider/agent/health/daemon");
        // 400 endpoints every second at 6 ms of CPU each: 2.4 s of CPU a second.
        const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-daemon-"));
        const services: Record<string, unknown> = {};
        const live = new Map<string, model.RealServer[]>();
        for (let i = 0; i < 400; i++) {
            const service = model.normalizeService({ protocol: "tcp", address: `10.9.${i >> 7}.${(i & 127) + 1}`,
                port: 80 });
            const healthCheck = model.normalizeHealthCheck({ type: "http", interval: 1, timeout: 0.5,
                initialState: "up" });
            const declared: model.RealServer = { address: "10.1.0.21", port: 9000 + i, addressFamily: "inet",
                forwarding: "nat", weight: 5, upperThreshold: 0, lowerThreshold: 0 };
            services[model.serviceName(service)] = { service, realServers: { [`10.1.0.21|${9000 + i}`]: declared },
                health: { healthCheck } };
            live.set(model.serviceName(service), [declared]);
        }
        fs.writeFileSync(path.join(stateDir, "desired.json"), JSON.stringify({ version: 2, services, daemons: {},
            sysctls: {}, holders: {}, addresses: {}, modules: [], found: {} }));
        const kernel = {
            destinations: async (s: model.VirtualService) => live.get(model.serviceName(s)) ?? [],
            writeAll: async (ws: unknown[]) => ws.map(() => undefined),
        };
        const ctx = { stateDir, agentFile: "/opt/agent.js", exclusive: <T>(fn: () => Promise<T>) => fn(),
            ipvs: async () => kernel };
        const lines: string[] = [];
        const daemon = new HealthDaemon(ctx as never, { log: (l) => lines.push(l) });
        try {
            await daemon.start();
            await new Promise((r) => setTimeout(r, 8000));
            const health = JSON.parse(fs.readFileSync(path.join(stateDir, "health.json"), "utf8"));
            const downs = lines.filter((l) => / check of .* down: /.test(l));
            expect(downs.length, lines.slice(0, 20).join("\n")).toBe(0);
            expect(lines.filter((l) => l.startsWith("checks are coming late: ")), lines.join("\n")).toHaveLength(1);
            // Late, yet every endpoint has been checked and passed.
            const endpoints = Object.values(health.endpoints) as Array<{ up: boolean; last: string }>;
            expect(endpoints.length).toBe(400);
            expect(endpoints.filter((e) => !e.up || e.last !== "HTTP 200")).toEqual([]);
        } finally {
            await daemon.stop();
            fs.rmSync(stateDir, { recursive: true, force: true });
        }
    }, 30_000);
});
