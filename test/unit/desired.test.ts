// The node's record of what was last applied (provider/agent/desired.ts): files, not the kernel.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import * as desired from "../../provider/agent/desired";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-desired-"));
const dir = () => fs.mkdtempSync(path.join(root, "d-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("the desired state on the node's disk", () => {
    it("is empty where nothing was applied, and reads back what was saved, with the restore unit beside it", () => {
        const d = dir();
        const empty = desired.load(d);
        expect(empty).toEqual({
            version: 2, services: {}, daemons: {}, sysctls: {}, holders: {}, addresses: {}, modules: [], found: {},
        });
        desired.save(path.join(d, "state"), {
            ...empty, sysctls: { "net.ipv4.ip_forward": 1 }, found: { "net.ipv4.ip_forward": 0 },
        }, "/opt/a/agent.js");
        expect(desired.load(path.join(d, "state")).found).toEqual({ "net.ipv4.ip_forward": 0 });
        expect(fs.readdirSync(path.join(d, "state")).sort()).toEqual(["desired.json", desired.unitName]);
        expect(fs.statSync(path.join(d, "state", "desired.json")).mode & 0o777).toBe(0o600);
        expect(fs.readFileSync(path.join(d, "state", desired.unitName), "utf8"))
            .toContain(`ExecStart=${process.execPath} /opt/a/agent.js restore\n`);
    });

    it("writes the health daemon's unit beside the restore unit while a check is recorded, names the agent " +
        "that wrote it (a new build is a new unit), and removes it with the last check", () => {
        const d = dir();
        const unit = path.join(d, desired.healthUnitName);
        const checked = {
            ...desired.load(d),
            services: { a: { service: {} as never, realServers: { "10.1.0.1|80": {} as never },
                checks: { "10.1.0.1|80": { type: "tcp" } as never } } },
        };
        desired.save(d, checked, "/opt/a/agent.js");
        expect(fs.readFileSync(unit, "utf8")).toContain(`ExecStart=${process.execPath} /opt/a/agent.js health\n`);
        desired.save(d, checked, "/opt/b/agent.js");
        expect(fs.readFileSync(unit, "utf8")).toContain(`ExecStart=${process.execPath} /opt/b/agent.js health\n`);
        desired.save(d, { ...checked, services: {} }, "/opt/b/agent.js");
        expect(fs.existsSync(unit)).toBe(false);
        expect(fs.existsSync(path.join(d, desired.unitName))).toBe(true);
    });

    it("refuses a file it cannot read as a desired state, naming the file and what to do", () => {
        const d = dir();
        fs.writeFileSync(path.join(d, "desired.json"), "{not json");
        expect(() => desired.load(d)).toThrow(new RegExp(`^${d}/desired.json is not a record of what pulumi-lvs ` +
            `applied that this agent reads \\(.*\\)\\. Do not delete it`));
        expect(desired.problem(d)).toMatch(/is not a record of what pulumi-lvs applied/);
        fs.writeFileSync(path.join(d, "desired.json"), '{"version":3}');
        expect(() => desired.load(d)).toThrow(/\(version 3, this agent reads 1 and 2\)/);
        fs.writeFileSync(path.join(d, "desired.json"), '{"version":2,"services":[]}');
        expect(() => desired.load(d)).toThrow(/\(services is not an object\)/);
    });

    it("keeps the last good record beside the current one, and names it when the current one is damaged", () => {
        const d = dir();
        const one = { ...desired.load(d), sysctls: { "net.ipv4.ip_forward": 1 }, found: { "net.ipv4.ip_forward": 0 } };
        desired.save(d, one, "/a.js");
        expect(fs.existsSync(path.join(d, "desired.prev.json"))).toBe(false);
        desired.save(d, { ...one, pending: true, modules: ["ipip"] }, "/a.js");  // a change in flight
        desired.save(d, { ...one, modules: ["ipip"] }, "/a.js");                 // confirmed
        // The previous good record is the one before the change (not the pending one).
        expect(JSON.parse(fs.readFileSync(path.join(d, "desired.prev.json"), "utf8"))).toEqual(one);
        fs.writeFileSync(path.join(d, "desired.json"), "{torn");
        expect(() => desired.load(d)).toThrow(new RegExp(`the record before the last change is ` +
            `${d}/desired.prev.json: check it and move it to ${d}/desired.json`));
        // A damaged record is never what is kept as the previous good one.
        desired.save(d, one, "/a.js");
        expect(JSON.parse(fs.readFileSync(path.join(d, "desired.prev.json"), "utf8"))).toEqual(one);
    });

    it("reads a record of version 1: its sysctl holders renamed, every other object held by the unnamed holder", () => {
        const d = dir();
        const svc = { family: "inet", protocol: "tcp", address: "10.0.0.1", port: 80, scheduler: "wlc" };
        fs.writeFileSync(path.join(d, "desired.json"), JSON.stringify({
            version: 1,
            services: {
                "tcp/10.0.0.1:80": { service: svc, realServers: { "10.1.0.1|80": { address: "10.1.0.1", port: 80 } } },
            },
            daemons: { master: { state: "master", mcastInterface: "lan0", syncId: 1 } },
            sysctls: { "net.ipv4.ip_forward": 1, "net.ipv4.vs.drop_entry": 1 },
            holders: { "net.ipv4.ip_forward": ["director/abc"] },
            addresses: { "10.0.0.1/32%lan0": { address: "10.0.0.1", iface: "lan0", prefixLength: 32 } },
            modules: ["ipip"], found: { "net.ipv4.ip_forward": 0 }, timeouts: { tcp: 900 },
        }));
        const r = desired.load(d);
        expect(r.version).toBe(2);
        const u = [desired.unnamedHolder];
        expect(r.holders).toEqual({
            "sysctl net.ipv4.ip_forward": ["director/abc"], "sysctl net.ipv4.vs.drop_entry": u,
            "service tcp/10.0.0.1:80": u, "real server 10.1.0.1|80 of tcp/10.0.0.1:80": u,
            "address 10.0.0.1/32%lan0": u, "master sync daemon": u, "timeouts": u, "module ipip": u,
        });
        expect(r.found).toEqual({ "net.ipv4.ip_forward": 0 });
    });

    it("while a change is in flight, names every object of the record before and after it", () => {
        const before = {
            ...desired.load(dir()),
            services: { a: { service: { s: 1 } as never, realServers: { r1: {} as never, r2: {} as never } } },
            addresses: { x: { address: "10.0.0.1", iface: "lo", prefixLength: 32 } },
            holders: { "service a": ["h1"], "address x": ["h1"] },
        };
        const next = {
            ...before,
            services: { a: { service: { s: 2 } as never, realServers: { r1: {} as never, r3: {} as never } } },
            addresses: {}, holders: { "service a": ["h2"] },
        };
        const f = desired.inFlight(before, next);
        expect(f.pending).toBe(true);
        expect(Object.keys(f.services.a.realServers).sort()).toEqual(["r1", "r2", "r3"]);
        expect(f.services.a.service).toEqual({ s: 2 });
        expect(f.addresses).toEqual(before.addresses);
        expect(f.holders).toEqual({ "service a": ["h2"], "address x": ["h1"] });
    });

    it("the unit runs once after the network is up, and stays active", () => {
        expect(desired.restoreUnit("/usr/bin/node", "/root/.pulumi-lvs/agent/abc/agent.js").split("\n"))
            .toEqual(expect.arrayContaining([
                "After=network-online.target", "Type=oneshot", "RemainAfterExit=yes",
                "ExecStart=/usr/bin/node /root/.pulumi-lvs/agent/abc/agent.js restore",
                "WantedBy=multi-user.target"]));
    });
});
