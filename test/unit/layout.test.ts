// The layout's rules, read from the sources: which side may import what, how long a file and a line may
// be. The shared tree (provider/model) imports neither side; the agent imports no provider module; the
// providers reach the agent only through the shared tree and the bundle; user programs load no node code.
import { describe, expect, it } from "vitest";
import { spawnSync } from "child_process";
import { builtinModules } from "module";
import * as fs from "fs";
import * as path from "path";

const repo = path.join(__dirname, "..", "..");
const rel = (f: string) => path.relative(repo, f);

function files(dir: string, ext = /\.(ts|js|sh)$/): string[] {
    const out: string[] = [];
    for (const e of fs.readdirSync(path.join(repo, dir), { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.name === "node_modules" || e.name.startsWith(".")) continue;
        if (e.isDirectory()) out.push(...files(p, ext));
        else if (ext.test(e.name)) out.push(p);
    }
    return out;
}

/** What a source file imports: each module path, and whether only types are taken from it. */
function importsOf(file: string): Array<{ spec: string; typeOnly: boolean }> {
    const text = fs.readFileSync(path.join(repo, file), "utf8");
    const out: Array<{ spec: string; typeOnly: boolean }> = [];
    const statement = /^\s*(import|export)\s+(type\s+)?[^;]*?\bfrom\s+"([^"]+)"/gms;
    for (const m of text.matchAll(statement)) out.push({ spec: m[3], typeOnly: Boolean(m[2]) });
    for (const m of text.matchAll(/^\s*import\s+"([^"]+)"/gm)) out.push({ spec: m[1], typeOnly: false });
    for (const m of text.matchAll(/\brequire\("([^"]+)"\)|\bimport\("([^"]+)"\)/g))
        out.push({ spec: m[1] ?? m[2], typeOnly: false });
    return out;
}

/** The repository path a relative import goes to ("provider/model/address"), or the package's name. */
function target(file: string, spec: string): string {
    if (!spec.startsWith(".")) return spec;
    return rel(path.resolve(repo, path.dirname(file), spec));
}

/** Whether a target is the folder `dir` or inside it. */
const inside = (t: string, dir: string) => t === dir || t.startsWith(`${dir}/`);
const builtin = (spec: string) => builtinModules.includes(spec.replace(/^node:/, ""));
const sources = (dir: string) => files(dir, /\.ts$/);

describe("who imports what", () => {
    it("the shared tree (provider/model) imports only itself (and net's address parsing)", () => {
        const bad = sources("provider/model").flatMap((f) => importsOf(f).map((i) => ({ f, t: target(f, i.spec) })))
            .filter(({ t }) => !inside(t, "provider/model") && t !== "net");
        expect(bad.map(({ f, t }) => `${f} -> ${t}`)).toEqual([]);
    });

    it("the agent imports only the agent, the shared tree, Node's built-ins and netlink", () => {
        const bad = sources("provider/agent").flatMap((f) => importsOf(f).map((i) => ({ f, t: target(f, i.spec) })))
            .filter(({ t }) => !inside(t, "provider/agent") && !inside(t, "provider/model") && !builtin(t)
                && t !== "netlink");
        expect(bad.map(({ f, t }) => `${f} -> ${t}`)).toEqual([]);
    });

    it("the providers import no agent module (they reach the agent through the shared tree and the bundle)", () => {
        const providers = sources("provider")
            .filter((f) => !inside(f, "provider/agent") && !inside(f, "provider/model"));
        expect(providers.length).toBeGreaterThan(5);
        const bad = providers.flatMap((f) => importsOf(f).map((i) => ({ f, t: target(f, i.spec) })))
            .filter(({ t }) => inside(t, "provider/agent"));
        expect(bad.map(({ f, t }) => `${f} -> ${t}`)).toEqual([]);
    });

    it("the SDK takes values only from itself, the shared tree and @pulumi/pulumi; types from anywhere", () => {
        const bad = sources("sdk").flatMap((f) => importsOf(f).filter((i) => !i.typeOnly)
                .map((i) => ({ f, t: target(f, i.spec) })))
            .filter(({ t }) => !inside(t, "sdk") && !inside(t, "provider/model") && t !== "@pulumi/pulumi"
                && t !== "crypto"
                // the serialized provider's stub, which runs in Pulumi's provider process, not in the program
                && t !== "pulumi-lvs/lib/provider/resources");
        expect(bad.map(({ f, t }) => `${f} -> ${t}`)).toEqual([]);
    });

    it("a program that loads the SDK loads no provider or agent code (is lib/ built? npm run build)", () => {
        const script = `require(${JSON.stringify(path.join(repo, "lib", "sdk", "index.js"))});` +
            `console.log(JSON.stringify(Object.keys(require.cache)))`;
        const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 60_000 });
        expect(r.status, r.stderr).toBe(0);
        const loaded = (JSON.parse(r.stdout) as string[]).map(rel).filter((f) => f.startsWith("lib/"));
        expect(loaded.some((f) => f.startsWith("lib/sdk/"))).toBe(true);
        expect(loaded.filter((f) => !f.startsWith("lib/sdk/") && !f.startsWith("lib/provider/model/"))).toEqual([]);
    });
});

describe("sizes", () => {
    it("no source file in sdk/ or provider/ is longer than about 400 lines", () => {
        const long = [...sources("sdk"), ...sources("provider")]
            .map((f) => ({ f, n: fs.readFileSync(path.join(repo, f), "utf8").split("\n").length }))
            .filter(({ n }) => n > 420);
        expect(long.map(({ f, n }) => `${f}: ${n} lines`)).toEqual([]);
    });

    it("no line of the sources, tests, examples, scripts or lab is longer than 120 characters", () => {
        const all = ["sdk", "provider", "bench", "scripts", "examples", "lab", "test"]
            .flatMap((d) => files(d, /\.(ts|js|sh)$/));
        expect(all.length).toBeGreaterThan(50);
        const long = all.flatMap((f) => fs.readFileSync(path.join(repo, f), "utf8").split("\n")
            .flatMap((line, i) => (line.length > 120 ? [`${f}:${i + 1}: ${line.length} characters`] : [])));
        expect(long).toEqual([]);
    });
});
