// The node's record of what was last applied (provider/agent/desired.ts): files, not the kernel.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import * as desired from "../../provider/agent/desired";

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-desired-"));

describe("the desired state on the node's disk", () => {
    it("is empty where nothing was applied, and reads back what was saved, with the restore unit beside it", () => {
        const d = dir();
        const empty = desired.load(d);
        expect(empty).toEqual({ version: 1, services: {}, daemons: {}, sysctls: {}, holders: {}, addresses: {}, modules: [], found: {} });
        desired.save(path.join(d, "state"), { ...empty, sysctls: { "net.ipv4.ip_forward": 1 }, found: { "net.ipv4.ip_forward": 0 } }, "/opt/a/agent.js");
        expect(desired.load(path.join(d, "state")).found).toEqual({ "net.ipv4.ip_forward": 0 });
        expect(fs.readdirSync(path.join(d, "state")).sort()).toEqual(["desired.json", desired.unitName]);
        expect(fs.statSync(path.join(d, "state", "desired.json")).mode & 0o777).toBe(0o600);
        expect(fs.readFileSync(path.join(d, "state", desired.unitName), "utf8")).toContain(`ExecStart=${process.execPath} /opt/a/agent.js restore\n`);
    });

    it("refuses a file it cannot read as a desired state, naming the file and what to do", () => {
        const d = dir();
        fs.writeFileSync(path.join(d, "desired.json"), "{not json");
        expect(() => desired.load(d)).toThrow(new RegExp(`^${d}/desired.json is not a desired state this agent reads \\(.*\\); move it away`));
        fs.writeFileSync(path.join(d, "desired.json"), '{"version":2}');
        expect(() => desired.load(d)).toThrow(/\(version 2, this agent reads 1\)/);
    });

    it("the unit runs once after the network is up, and stays active", () => {
        expect(desired.restoreUnit("/usr/bin/node", "/root/.pulumi-lvs/agent/abc/agent.js").split("\n")).toEqual(expect.arrayContaining([
            "After=network-online.target", "Type=oneshot", "RemainAfterExit=yes", "ExecStart=/usr/bin/node /root/.pulumi-lvs/agent/abc/agent.js restore", "WantedBy=multi-user.target"]));
    });
});
