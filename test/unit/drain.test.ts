// RealServer's drain setting: check and diff (no host is touched).
import { describe, expect, it } from "vitest";
import { realServer } from "../../provider/resources";

const connection = {
    host: "10.0.0.11", hostKey: "SHA256:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", privateKey: "k",
};
const service = { protocol: "tcp", address: "10.0.0.247", port: 80 };
const base = { connection, service, address: "10.1.0.21", port: 8247, forwarding: "nat" };
const failures = async (news: Record<string, unknown>) =>
    ((await realServer.check!({}, { ...base, ...news })).failures ?? []).map((f) => `${f.property}: ${f.reason}`);

describe("RealServer drain check", () => {
    it("accepts no drain, the default deadline, and whole seconds from 0 to 86400", async () => {
        for (const drain of [undefined, {}, { timeout: 0 }, { timeout: 60 }, { timeout: 86400 }])
            expect(await failures({ drain })).toEqual([]);
    });
    it("names the field, the value and the rule", async () => {
        expect(await failures({ drain: { timeout: -1 } })).toEqual([
            "drain.timeout: -1 is not a drain deadline: whole seconds from 0 to 86400"]);
        expect(await failures({ drain: { timeout: 86401 } })).toEqual([
            "drain.timeout: 86401 is not a drain deadline: whole seconds from 0 to 86400"]);
        expect(await failures({ drain: { timeout: 1.5 } })).toEqual([
            "drain.timeout: 1.5 is not a drain deadline: whole seconds from 0 to 86400"]);
        expect(await failures({ drain: { timeout: "60" } })).toEqual([
            'drain.timeout: "60" is not a drain deadline: whole seconds from 0 to 86400']);
        expect(await failures({ drain: { timeout: 60, timeOut: 5 } })).toEqual([
            `drain.timeOut: unknown drain setting "timeOut" (allowed: timeout)`]);
        expect(await failures({ drain: true })).toEqual([
            "drain: true is not a drain setting: an object, e.g. { timeout: 300 } (or {} for the default deadline)"]);
        expect(await failures({ drain: [60] })).toEqual([
            "drain: [60] is not a drain setting: an object, e.g. { timeout: 300 } (or {} for the default deadline)"]);
    });
    it("reports a bad drain beside the real server's own failures", async () => {
        expect(await failures({ weight: -1, drain: { timeout: -5 } })).toEqual([
            "weight: -1 is not a weight: an integer from 0 to 2147483647 (0 takes no new connections)",
            "drain.timeout: -5 is not a drain deadline: whole seconds from 0 to 86400",
        ]);
    });
});

describe("RealServer drain diff", () => {
    it("is not identity: setting, changing or removing it alone updates in place", async () => {
        for (const [a, b, kind] of [
            [undefined, { timeout: 60 }, "add"], [{ timeout: 60 }, { timeout: 30 }, "update"],
            [{ timeout: 60 }, undefined, "delete"], [{}, { timeout: 0 }, "update"],
        ])
            expect(await realServer.diff!("id", { ...base, drain: a }, { ...base, drain: b }))
                .toEqual({ changes: true, replaces: [], detailedDiff: { drain: kind } });
    });
    it("the default deadline spelled out is no change", async () => {
        expect((await realServer.diff!("id", { ...base, drain: {} },
            { ...base, drain: { timeout: 300 } })).changes).toBe(false);
        expect((await realServer.diff!("id", { ...base, drain: { timeout: 60 } },
            { ...base, drain: { timeout: 60 } })).changes).toBe(false);
    });
    it("a replacement creates the new real server before it deletes (so drains) the old one", async () => {
        expect(await realServer.diff!("id", { ...base, drain: { timeout: 60 } },
            { ...base, port: 8248, drain: { timeout: 60 } }))
            .toEqual({ changes: true, replaces: ["port"], detailedDiff: { port: "update-replace" } });
    });
});
