// The agent's request handling (provider/agent/main.ts handle()), one line in, one reply out, with a
// fake context (no kernel: the point here is parsing, dispatch and how errors travel back).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { handle } from "../../provider/agent/main";
import type { Context } from "../../provider/agent/context";
import { AgentError, Reply } from "../../provider/model/protocol";

const accepted = "probe, state, apply, drain, zero, sysctls, addresses";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-protocol-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A context whose lock and IPVS handle are recorded fakes; `ipvs` is what the handle does. */
function fake(ipvs: Record<string, (...a: unknown[]) => Promise<unknown>> = {}) {
    const log: string[] = [];
    const ctx: Context = {
        ipvs: async () => { log.push("ipvs"); return ipvs as never; },
        exclusive: async (fn) => { log.push("lock"); try { return await fn(); } finally { log.push("unlock"); } },
        stateDir: fs.mkdtempSync(path.join(root, "state-")),
        agentFile: "/opt/agent.js",
    };
    return { ctx, log };
}

describe("lines that are not requests", () => {
    it.each([
        ["invalid JSON", "{"], ["an empty line", ""], ["a number", "42"], ["null", "null"], ["a string", '"probe"'],
        ["an array", '[{"id":1,"op":"probe"}]'], ["an object without op", '{"id":1}'],
        ["op not a string", '{"id":1,"op":7}'],
    ])("%s gets id -1 and says what a request is, touching nothing", async (_, line) => {
        const { ctx, log } = fake();
        const r = await handle(line, ctx);
        expect(r).toEqual({
            id: -1, ok: false,
            error: { message: 'not a request: expected one JSON object {"id", "op", "args"} per line' },
        });
        expect(log).toEqual([]);
    });
});

describe("operations", () => {
    it.each(["flush", "exec", "__proto__", "constructor", "toString", "hasOwnProperty", "PROBE", ""])(
        "refuses the unknown operation %j with its id, the field and the accepted ones", async (op) => {
            const { ctx, log } = fake();
            const r = await handle(JSON.stringify({ id: 9, op }), ctx);
            expect(r).toEqual({
                id: 9, ok: false,
                error: {
                    message: `unknown operation ${JSON.stringify(op)}: the agent accepts ${accepted}`, field: "op",
                },
            });
            expect(log).toEqual([]);
        });

    it("an id that is not a number is answered as -1", async () => {
        const r = await handle(JSON.stringify({ id: "7", op: "nope" }), fake().ctx);
        expect(r.id).toBe(-1);
    });

    it("dispatches a known operation and answers with its result under the lock", async () => {
        const zeroed: unknown[] = [];
        const { ctx, log } = fake({ zero: async (id) => { zeroed.push(id); return undefined; } });
        const r = await handle(JSON.stringify({
            id: 3, op: "zero", args: { service: { protocol: "tcp", address: "10.4.0.1", port: 80 } },
        }), ctx);
        expect(r).toEqual({
            id: 3, ok: true, result: { changed: true, actions: ["zeroed the counters of service tcp/10.4.0.1:80"] },
        });
        expect(zeroed).toEqual([{ family: "inet", protocol: "tcp", address: "10.4.0.1", port: 80 }]);
        expect(log).toEqual(["lock", "ipvs", "unlock"]);
    });
});

describe("errors travel back with their field and code", () => {
    it("a thrown AgentError carries message, field and code", async () => {
        const { ctx } = fake();
        ctx.exclusive = async () => { throw new AgentError("another run holds the lock", "changes", "EBUSY"); };
        const r: Reply = await handle(JSON.stringify({ id: 4, op: "apply", args: { changes: [] } }), ctx);
        expect(r).toEqual({
            id: 4, ok: false, error: { message: "another run holds the lock", field: "changes", code: "EBUSY" },
        });
    });

    it("a kernel error carries its errno name and no field", async () => {
        const { ctx } = fake({
            zero: async () => { throw Object.assign(new Error("No such process"), { code: "ESRCH" }); },
        });
        const r = await handle(JSON.stringify({ id: 5, op: "zero" }), ctx);
        expect(r).toEqual({ id: 5, ok: false, error: { message: "No such process", code: "ESRCH" } });
    });

    it("a bad request is refused naming the field, before the lock is taken", async () => {
        const { ctx, log } = fake();
        const r = await handle(JSON.stringify({
            id: 6, op: "apply",
            args: { changes: [{ service: { protocol: "tcp", address: "10.4.0.300", port: 80 } }] },
        }), ctx);
        expect(r.ok).toBe(false);
        expect(r.error?.field).toMatch(/^changes\[0\]\.service/);
        expect(r.error?.message).toContain('"10.4.0.300" is not an IPv4 or IPv6 address');
        expect(log).toEqual([]);
    });

    it("unknown arguments are named", async () => {
        const r = await handle(JSON.stringify({ id: 8, op: "apply", args: { changes: [], force: true } }), fake().ctx);
        expect(r).toMatchObject({ id: 8, ok: false, error: { field: "args.force" } });
    });
});
