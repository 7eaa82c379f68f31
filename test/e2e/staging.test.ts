// The staging cluster (the root Pulumi.yaml, which runs examples/staging: lvs.Cluster and a WebServer on
// each real server) end to end through the real Pulumi CLI, in a stack of its own: preview touches
// nothing; up makes exactly the declared tables on director1 and director2, the VIPs on director1 only
// (the VRRP master) and on the real servers' lo, the sync daemons that follow the VRRP state (master on
// director1, backup on director2), and starts the web servers; the client's requests
// through both VIPs all succeed and reach every real server; the stack's outputs list the VIPs and real
// servers; a second up changes nothing; a web server killed by hand is quiesced by its checks, shows
// in refresh, and up restarts it; the state holds no key material; destroy leaves every host as it was.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, lab, sh } from "../lab";
import { labStack, Stack } from "../pulumi";
import { fetchFromClient } from "../traffic";

const root = path.join(__dirname, "..", "..");
const web = "10.0.0.251:80", site = "10.0.0.252:80";
const directors = ["director1", "director2"] as const;
const realServers = ["rs1", "rs2", "rs3"] as const;
const n = (i: number) => 21 + i;
const declared = [
    `-A -t ${web} -s rr`, ...realServers.map((_, i) => `-a -t ${web} -r 10.1.0.${n(i)}:8251 -m -w 1`),
    `-A -t ${site} -s wlc`, ...realServers.map((_, i) => `-a -t ${site} -r 10.0.0.${n(i)}:80 -g -w 1`),
].sort();
const files = "/var/tmp/pulumi-lvs-staging";
const arpSysctls = ["all", "lan0"].flatMap((i) => [`net/ipv4/conf/${i}/arp_ignore`, `net/ipv4/conf/${i}/arp_announce`]);
const directorSysctls = ["net/ipv4/ip_forward", "net/ipv4/vs/drop_entry", "net/ipv4/vs/amemthresh"];

const read = async (h: string, names: string[]) =>
    (await sh(h, names.map((s) => `cat /proc/sys/${s}`).join("; "))).trim().split("\n");
const ours = async (h: string) => (await sh(h, "ipvsadm -Sn")).split("\n")
    .filter((l) => [web, site].some((s) => l.includes(`-t ${s} `) || l.endsWith(`-t ${s}`))).sort();
const daemons = async (h: string) => (await sh(h, "ipvsadm -L --daemon")).split("\n").filter(Boolean).sort();
const vips = async (h: string, dev: string) =>
    ((await sh(h, `ip -o addr show dev ${dev}`)).match(/ 10\.0\.0\.25[12]\/\d+ /g) ?? []).map((s) => s.trim());
/** The web servers' command lines (the lab's hosts share one process table, so each host lists them all). */
const backends = async (h: string) => (await sh(h, `pgrep -af '^node ${files}/' || true`)).trim().split("\n")
    .filter(Boolean).map((l) => l.replace(/^\d+ /, "")).sort();
/** Everything the stack may change, on every host it touches. */
const scene = async () => ({
    ...Object.fromEntries(await Promise.all(directors.map(async (h) =>
        [h, { rules: await ours(h), daemons: await daemons(h), vips: await vips(h, "lan0"),
            sysctls: await read(h, directorSysctls) }]))),
    ...Object.fromEntries(await Promise.all(realServers.map(async (h) =>
        [h, { vips: await vips(h, "lo"), sysctls: await read(h, arpSysctls),
            files: (await sh(h, `ls ${files}/${h}.* 2>/dev/null || true`)).trim() }]))),
    backends: await backends("rs1"),
});

/** Waits until the health checks have every real server of both services in on both directors, or until
 * `ok` holds for director1's weights. */
async function weightsOn(ok: (lines: string[]) => boolean = (l) => l.every((x) => !x.endsWith(" -w 0"))) {
    const deadline = Date.now() + 60_000;
    for (;;) {
        const lines = (await Promise.all(directors.map(ours))).flat().filter((l) => l.startsWith("-a "));
        if (ok(lines)) return;
        if (Date.now() > deadline) throw new Error(`the real servers' weights: ${JSON.stringify(lines)}`);
        await new Promise((r) => setTimeout(r, 300));
    }
}

/** Which web server answers through each VIP: the NAT one on its back address, the DR one on the VIP. */
const answering: Record<string, string[]> = {
    [web]: realServers.map((h, i) => `${h} 10.1.0.${n(i)}:8251`),
    [site]: realServers.map((h) => `${h} ${site}`),
};

/** 20 requests from the client to each VIP: every one succeeds, and every real server answers some. */
async function traffic(): Promise<void> {
    // A real server that answered ARP for the DR VIP before its sysctls were set (in another test, or
    // while a host rebooted) may still be in the client's neighbour cache: start from a clean one.
    await sh("client", "ip neigh flush to 10.0.0.251; ip neigh flush to 10.0.0.252");
    for (const vip of [web, site]) {
        const { counts, failures } = await fetchFromClient(`http://${vip}/`, 20);
        expect(failures, vip).toEqual([]);
        expect(Object.keys(counts).sort(), vip).toEqual(answering[vip]);
        expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(20);
    }
}

let stack: Stack;
let before: Awaited<ReturnType<typeof scene>>;
beforeAll(async () => {
    // `npm run demo` deploys this same program (same VIPs, sync id, web servers): its stack goes first,
    // through Pulumi, so that each node's record of what pulumi-lvs applied (which a reboot restores)
    // stays true. Then the services by hand, in case a demo's state was lost.
    await new Promise<void>((resolve, reject) => execFile("bash", [path.join(root, "scripts", "demo.sh"), "down"],
        { maxBuffer: 64 << 20 },
        (err, stdout, stderr) => (err ? reject(new Error(`demo.sh down failed:\n${stdout}\n${stderr}`)) : resolve())));
    for (const h of directors) await sh(h, `ipvsadm -D -t ${web} 2>/dev/null; ipvsadm -D -t ${site} 2>/dev/null; true`);
    before = await scene();
    stack = await labStack(root);
});
afterAll(async () => {
    await stack?.dispose();
    await closeLab();
});

test("preview changes nothing on any host", async () => {
    const out = await stack.run("preview", "--diff");
    expect(out).toContain("+ 20 to create");
    expect(out).toMatch(/syncId\s*: 51/);
    expect(await scene()).toEqual(before);
});

test("up makes the declared tables on both directors, the sync daemons, the VIPs, " +
    "and starts the web servers", async () => {
    await stack.run("up", "--yes", "--skip-preview");
    // Each real server is out until its first check passes: the web servers start after the cluster.
    await weightsOn();
    for (const h of directors) expect(await ours(h), h).toEqual(declared);
    // Both keepalived start as backups; director1, of higher priority, takes the VIPs once none advertises,
    // and its notify switches its sync daemon from backup to master.
    const master = (l: string[]) => l.length === 1 && l[0].startsWith("master sync daemon (mcast=lan0, syncid=51, ");
    for (const deadline = Date.now() + 30_000;
        (await vips("director1", "lan0")).length < 2 || !master(await daemons("director1"));) {
        if (Date.now() > deadline) throw new Error(`director1 did not take the VIPs and the master sync daemon: ` +
            `${JSON.stringify(await vips("director1", "lan0"))}, ${JSON.stringify(await daemons("director1"))}`);
        await new Promise((r) => setTimeout(r, 300));
    }
    expect(await vips("director1", "lan0")).toEqual(["10.0.0.251/32", "10.0.0.252/32"]);
    expect(await vips("director2", "lan0")).toEqual([]);
    expect(await daemons("director2"))
        .toEqual([expect.stringMatching(/^backup sync daemon \(mcast=lan0, syncid=51, /)]);
    for (const h of directors) {
        // NAT needs ip_forward (on the backup too, for when it takes over); dropEntry auto reads 1 or 2.
        const [ipForward, dropEntry, amemthresh] = await read(h, directorSysctls);
        expect([ipForward, amemthresh], h).toEqual(["1", "2048"]);
        expect(["1", "2"]).toContain(dropEntry);
    }
    for (const h of realServers) {
        expect(await vips(h, "lo"), h).toEqual(["10.0.0.252/32"]);
        expect(await read(h, arpSysctls), h).toEqual(["1", "2", "1", "2"]);
    }
    expect(await backends("rs1"))
        .toEqual(realServers.map((h, i) =>
            `node ${files}/${h}.js ${h} 10.1.0.${n(i)}:8251 10.0.0.252:80 10.0.0.${n(i)}:80`));
});

test("the client's requests through both VIPs all succeed and reach every real server", async () => {
    await traffic();
});

test("the stack's outputs list the VIPs, the real servers and the URLs", async () => {
    expect(JSON.parse(await stack.run("stack", "output", "--json"))).toEqual({
        vips: ["10.0.0.251", "10.0.0.252"],
        realServers: {
            web: realServers.map((_, i) => `10.1.0.${n(i)}:8251`),
            site: realServers.map((_, i) => `10.0.0.${n(i)}:80`),
        },
        urls: { web: "http://10.0.0.251/", site: "http://10.0.0.252/" },
    });
});

test("a second up changes nothing", async () => {
    const out = await stack.run("up", "--yes", "--expect-no-changes");
    expect(out).toContain("20 unchanged");
});

test("a web server killed by hand is quiesced by its checks, shows in refresh, and up starts it again", async () => {
    const pid = (await sh("rs2", `cat ${files}/rs2.pid`)).trim();
    await sh("rs2", `kill ${pid}; for i in $(seq 50); do [ -e /proc/${pid} ] || break; sleep 0.1; done`);
    // Both of rs2's real servers, on both directors (4 lines), at weight 0 and no other.
    await weightsOn((l) => l.filter((x) => x.endsWith(" -w 0")).length === 4 &&
        l.filter((x) => x.endsWith(" -w 0")).every((x) => /-r 10\.[01]\.0\.22:/.test(x)));
    const refresh = await stack.run("refresh", "--yes", "--diff");
    expect(refresh).toMatch(new RegExp(`WebServer: \\(delete\\)\\s*\\[id=root@127\\.0\\.0\\.1:` +
        `${lab().hosts.rs2.port}${files}/rs2\\.js\\]`));
    expect(refresh).toContain("1 deleted");
    await expect(stack.run("preview", "--expect-no-changes")).rejects.toThrow(/no changes were expected/);
    const up = await stack.run("up", "--yes", "--skip-preview");
    expect(up).toContain("+ 1 created");
    expect((await sh("rs2", `cat ${files}/rs2.pid`)).trim()).not.toBe(pid);
    await weightsOn();
    await traffic();
    await stack.run("up", "--yes", "--expect-no-changes");
});

test("neither the state nor Pulumi's logs hold key material, and the state holds thin providers", async () => {
    const state = fs.readFileSync(stack.stateFile(), "utf8");
    const key = fs.readFileSync(lab().privateKeyPath, "utf8").split("\n")[1];
    expect(state).not.toContain(key);
    const logs = path.join(process.env.PULUMI_HOME!, "logs");
    for (const f of fs.readdirSync(logs).filter((f) => f.includes(`+${stack.name}-`)))
        expect(fs.readFileSync(path.join(logs, f), "utf8")).not.toContain(key);
    const resources = JSON.parse(state).checkpoint.latest.resources as Array<{ type: string;
        inputs?: { __provider?: string; connection?: Record<string, unknown> } }>;
    // No resource carries the key, not even encrypted: each names the credentials of the stack's config.
    const connected = resources.filter((r) => r.inputs?.connection);
    // The cluster's 15 (a Director, a DosProtection, two VirtualServices and two RealServers per director,
    // three RealServerNodes) and three WebServers.
    expect(connected.length).toBe(18);
    for (const r of connected) {
        expect(r.inputs!.connection!.credentials).toBe("lab");
        expect(Object.keys(r.inputs!.connection!)).not.toContain("privateKey");
    }
    // Pulumi's most verbose log names the key once per provider process: where the engine hands the stack's
    // configuration to it (Configure). No resource's inputs or outputs carry it there either.
    const verbose = (await stack.runLogged("preview", "-v=9", "--logtostderr", "--logflow")).split("\n");
    const keyLines = verbose.filter((l) => l.includes(key.slice(0, 40)));
    expect(verbose.length).toBeGreaterThan(1000);
    expect(keyLines.length).toBeGreaterThan(0);
    const configure = /Marshaling property for RPC\[Provider\[[^\]]*\]\.Configure\(\)\.inputs\]/;
    for (const l of keyLines) expect(l).toMatch(configure);
    const servers = resources.filter((r) => r.type.endsWith(":WebServer"));
    expect(servers).toHaveLength(3);
    for (const r of servers) {
        expect(r.inputs!.__provider!.length).toBeLessThan(4096);
        expect(r.inputs!.__provider).toContain('require("pulumi-lvs/examples/staging/web-server")');
    }
});

test("destroy leaves every host as it was", async () => {
    await stack.run("destroy", "--yes", "--skip-preview");
    expect(await scene()).toEqual(before);
    for (const h of directors) expect(await ours(h), h).toEqual([]);
    expect(await backends("rs1")).toEqual([]);
});
