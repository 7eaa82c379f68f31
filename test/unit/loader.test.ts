// agent.js (provider/agent/loader.ts, built into lib/agent by npm run build) runs the agent's code through
// a V8 code cache beside it: the first run makes it, a cache this Node.js rejects is made again, and a
// cache that cannot be written leaves the agent running all the same.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";

const built = path.join(__dirname, "..", "..", "lib", "agent");
const cache = `code-${process.version}-${process.arch}.cache`;
const dirs: string[] = [];
afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** An installed agent, as the provider unpacks it on a node. */
function install(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-loader-"));
    dirs.push(dir);
    for (const f of ["agent.js", "code.js"]) fs.copyFileSync(path.join(built, f), path.join(dir, f));
    fs.copyFileSync(path.join(built, `netlink-${process.arch}.node`), path.join(dir, "netlink.node"));
    return dir;
}
/** `node agent.js` without a mode: the agent's own usage line, and exit code 2. */
function run(dir: string) {
    const r = spawnSync(process.execPath, [path.join(dir, "agent.js")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^usage: agent serve /);
}

describe("the agent's loader (is lib/ built? npm run build)", () => {
    it("runs the agent's code as the main module and leaves a code cache for the next start", () => {
        const dir = install();
        run(dir);
        const made = fs.readFileSync(path.join(dir, cache));
        expect(made.length).toBeGreaterThan(1000);
        run(dir);
        expect(fs.readFileSync(path.join(dir, cache))).toEqual(made);
        expect(fs.readdirSync(dir).sort()).toEqual(["agent.js", cache, "code.js", "netlink.node"]);
    });

    it("makes a cache this Node.js rejects again", () => {
        const dir = install();
        fs.writeFileSync(path.join(dir, cache), "not a code cache");
        run(dir);
        expect(fs.readFileSync(path.join(dir, cache), "utf8")).not.toBe("not a code cache");
    });

    it("runs all the same when the cache cannot be written, and leaves nothing half-written", () => {
        const dir = install();
        // A folder in the cache's place: it cannot be read as a cache, nor renamed over (as a read-only home).
        fs.mkdirSync(path.join(dir, cache));
        fs.writeFileSync(path.join(dir, cache, "x"), "");
        run(dir);
        expect(fs.readdirSync(dir).sort()).toEqual(["agent.js", cache, "code.js", "netlink.node"]);
        expect(fs.readdirSync(path.join(dir, cache))).toEqual(["x"]);
    });
});
