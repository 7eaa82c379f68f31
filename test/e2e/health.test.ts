// Health checks end to end (test/health through the real Pulumi CLI, the health daemon on both directors
// of a pair, traffic from the client host). A web server stopped during a request loop is quiesced within
// interval x failures + timeout, and requests that start after that all succeed; started again, it gets
// its weight back after its successes; with every real server down the sorry server answers. Both
// directors check on their own; refresh shows no drift in either state; the daemon killed with -9 comes
// back and the table is as its health says; a rebooted director restores its table as its health says;
// an https, a dns, a udp and an exec check pass against real servers, and the exec check's service removes
// a failed server and runs its notify command; changing a check is an update in place, and a new build of
// the agent (an upgrade) restarts the daemon on it; destroy stops the daemon and removes its unit. The
// figures measured are printed at the end. Owns VIPs 10.0.0.226 and 10.0.0.227 on both directors and
// ports 8226, 8227, 8443 and 5353 on the real servers.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, rebootHost, sh } from "../lab";
import { labStack, Stack } from "../pulumi";
import { fetchFromClient, startLoad, vmNow, webServer } from "../traffic";

const web = "10.0.0.226:80", alt = "10.0.0.226:8080", ops = "10.0.0.227:8081", echo = "10.0.0.227:8082";
const rs1 = "10.1.0.21:8226", rs2 = "10.1.0.22:8226", sorry = "10.1.0.23:8227";
const directors = ["director1", "director2"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = path.join(__dirname, "..", "lab");
const program = path.join(__dirname, "..", "health");
/** Where ops's notify command logs on each director (stack config notifyLog). */
const notifyLog = "/var/lib/pulumi-lvs/hc-notify.log";

/** The weight of each real server of a service on a director ("absent" when it is not in the table). */
async function weights(director: string, service: string, protocol = "t"): Promise<Record<string, number>> {
    const lines = (await sh(director, "ipvsadm -Sn")).split("\n")
        .filter((l) => l.startsWith(`-a -${protocol} ${service} `));
    return Object.fromEntries(lines.map((l) => [/-r (\S+)/.exec(l)![1], Number(/-w (\d+)/.exec(l)![1])]));
}

/** Waits until `ok` holds for the weights of `service` on `director`; the lab's clock (ms) when it did. */
async function until(director: string, service: string, ok: (w: Record<string, number>) => boolean,
    timeoutMs = 30_000, protocol = "t"): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const w = await weights(director, service, protocol);
        if (ok(w)) return vmNow();
        if (Date.now() > deadline)
            throw new Error(`${director} ${service}: weights ${JSON.stringify(w)} after ${timeoutMs / 1000} s`);
        await sleep(150);
    }
}

const health = async (director: string) => JSON.parse(await sh(director, "cat /var/lib/pulumi-lvs/health.json"));
/** The web servers of the real servers that are running now, by host. */
const running = new Set<string>();
/** Stops a real server's web server; the lab's clock (ms) when it was gone. */
const stopWeb = async (host: "rs1" | "rs2") => {
    const out = await sh(host, `pkill -f 'web[.]js ${host}-8226 ' ; date +%s%3N`);
    running.delete(host);
    return Number(out.trim());
};
const startWeb = async (host: "rs1" | "rs2") => {
    if (running.has(host)) return;
    const address = host === "rs1" ? rs1 : rs2;
    stops.push(await webServer(host, [address, `udp://${address}`], `${host}-8226`));
    running.add(host);
};
/** Each test starts with both web servers up and both real servers in on director1 (a test that failed
 * halfway may have left one down). */
const bothUp = async () => {
    await startWeb("rs1");
    await startWeb("rs2");
    await until("director1", web, (w) => w[rs1] === 1 && w[rs2] === 1);
};
/** When the daemon decided that the endpoint at `address` changed state (the lab's clock, ms). */
const decided = async (director: string, address: string) => {
    const { endpoints } = await health(director);
    const [, e] = Object.entries(endpoints).find(([k]) => `${JSON.parse(k).connectAddress}:${JSON.parse(k).connectPort}`
        === address && JSON.parse(k).type === "http") as [string, { since: string }];
    return Date.parse(e.since);
};

let stack: Stack;
const stops: Array<() => Promise<void>> = [];
const figures: string[] = [];

beforeAll(async () => {
    stack = await labStack(program);
    await stack.config("notifyLog", notifyLog);
    for (const d of directors)
        await sh(d, `for s in ${web} ${alt} 10.0.0.227:443 ${ops}; do ipvsadm -D -t $s 2>/dev/null; done; ` +
            `for s in 10.0.0.227:53 ${echo}; do ipvsadm -D -u $s 2>/dev/null; done; rm -f ${notifyLog}`);
    await startWeb("rs1");
    await startWeb("rs2");
    stops.push(await webServer("rs3", [sorry], "sorry"));
    stops.push(await webServer("rs2", ["https://10.1.0.22:8443"], "rs2-tls"));
    await sh("rs1", `setsid node ${dir}/dns.js 10.1.0.21:5353 www.lab=10.0.0.21 >/dev/null 2>&1 < /dev/null &`);
    stops.push(async () => { await sh("rs1", "pkill -f 'dns[.]js 10.1.0.21:5353' ; true"); });
});

afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await stack?.dispose();
    for (const d of directors) await sh(d, `rm -f ${notifyLog}`).catch(() => undefined);
    fs.rmSync(path.join(program, "node_modules"), { recursive: true, force: true });
    if (nextBuild) fs.rmSync(nextBuild, { recursive: true, force: true });
    await closeLab();
    if (figures.length) console.log(`health figures:\n  ${figures.join("\n  ")}`);
});

test("up installs the health daemon on both directors; the checks (http, https, dns, exec, udp) bring " +
    "every real server in, one probe per endpoint", async () => {
    await stack.run("up", "--yes", "--skip-preview");
    for (const d of directors) {
        await until(d, web, (w) => w[rs1] === 1 && w[rs2] === 1);
        await until(d, "10.0.0.227:443", (w) => w["10.1.0.22:8443"] === 1);
        await until(d, "10.0.0.227:53", (w) => w["10.1.0.21:5353"] === 1, 30_000, "u");
        await until(d, echo, (w) => w[rs2] === 1, 30_000, "u");
        await until(d, ops, (w) => w[rs1] === 1 && w[rs2] === 1);
        const h = await health(d);
        // rs1 and rs2's http checks are shared by web and alt: 7 endpoints for 9 checked real servers.
        expect(Object.keys(h.endpoints)).toHaveLength(7);
        expect(Object.values(h.endpoints).every((e: any) => e.up), JSON.stringify(h.endpoints)).toBe(true);
        // The sorry server is out while the real servers are healthy.
        expect(await weights(d, web)).not.toHaveProperty(sorry);
        expect((await sh(d, "cat /var/lib/pulumi-lvs/pulumi-lvs-health.service"))).toContain(" health");
    }
    const { counts, failures } = await fetchFromClient(`http://${web}/`, 10);
    expect(failures).toEqual([]);
    expect(Object.keys(counts).sort()).toEqual([`rs1-8226 ${rs1}`, `rs2-8226 ${rs2}`]);
});

test("a web server stopped under load is quiesced within interval x failures + timeout on both directors; " +
    "requests after that all succeed; started again it comes back after its successes", async () => {
    await bothUp();
    const load = await startLoad(`http://${web}/`, 2, 3000);
    stops.push(load.kill);
    await sleep(2000);
    const t0 = await stopWeb("rs1");
    const [q1, q2] = await Promise.all(directors.map((d) => until(d, web, (w) => w[rs1] === 0)));
    await Promise.all(directors.map((d) => until(d, ops, (w) => !(rs1 in w) && w[rs2] === 1)));
    const [d1, d2] = await Promise.all(directors.map((d) => decided(d, rs1)));
    // The daemon's decision: interval 1 s x 2 failures (a refused connection fails at once; a hung one
    // after the 2 s timeout), and what the emulated CPUs add.
    const detect = (d1 - t0) / 1000, detect2 = (d2 - t0) / 1000;
    expect(detect).toBeLessThan(1 * 2 + 2);
    expect(detect2).toBeLessThan(1 * 2 + 2);
    await sleep(3000);
    await startWeb("rs1");
    // From the moment it listens (node starts slowly on the lab's emulated CPUs).
    const t2 = Number((await sh("rs1", "bash -c 'until (exec 3<>/dev/tcp/10.1.0.21/8226) 2>/dev/null; " +
        "do sleep 0.05; done; date +%s%3N'")).trim());
    const back = await until("director1", web, (w) => w[rs1] === 1);
    await until("director2", web, (w) => w[rs1] === 1);
    // ops's exec check removed rs1 (onFailure remove) and puts it back, and its notify command said so.
    for (const d of directors) {
        await until(d, ops, (w) => w[rs1] === 1 && w[rs2] === 1);
        const said = (await sh(d, `cat ${notifyLog}`)).trim().split("\n");
        expect(said.filter((l) => l.endsWith(` ${rs1}`)).slice(-2), d).toEqual([`down ${rs1}`, `up ${rs1}`]);
    }
    const recover = (await decided("director1", rs1) - t2) / 1000;
    await sleep(2000);
    const r = await load.stop();
    const before = r.failures.filter((f) => f.start < q1);
    const after = r.failures.filter((f) => f.start >= q1);
    figures.push(`detection (stop to the daemon's decision): ${detect.toFixed(2)} s on director1, ` +
        `${detect2.toFixed(2)} s on director2; in the table (polled over SSH) after ${((q1 - t0) / 1000).toFixed(2)} ` +
        `s and ${((q2 - t0) / 1000).toFixed(2)} s (interval 1 s, failureCount 2, timeout 2 s); recovery (from ` +
        `listening again to the decision) ${recover.toFixed(2)} s, in the table after ` +
        `${((back - t2) / 1000).toFixed(2)} s ` +
        `(successCount 2); ${r.ok} requests ok, ${before.length} failed before the quiesce, ${after.length} after`);
    expect(after, JSON.stringify(after)).toEqual([]);
    expect(recover).toBeLessThan(1 * 2 + 2 + 2);
    expect(r.counts[`rs1-8226 ${rs1}`]).toBeGreaterThan(0);
});

test("refresh shows no drift while a check holds a real server down, nor once it is back", async () => {
    await bothUp();
    await stopWeb("rs1");
    await until("director1", web, (w) => w[rs1] === 0);
    const down = await stack.run("refresh", "--yes", "--diff");
    expect(down).not.toMatch(/weight/);
    await stack.run("preview", "--expect-no-changes");
    // up leaves it down: it does not put traffic back on a server its check holds down.
    await stack.run("up", "--yes", "--skip-preview");
    expect((await weights("director1", web))[rs1]).toBe(0);
    await startWeb("rs1");
    await until("director1", web, (w) => w[rs1] === 1);
    const up = await stack.run("refresh", "--yes", "--diff");
    expect(up).not.toMatch(/weight/);
    await stack.run("preview", "--expect-no-changes");
});

test("with every real server down the sorry server answers, and leaves when they are back", async () => {
    await bothUp();
    await stopWeb("rs1");
    await stopWeb("rs2");
    await until("director1", web, (w) => w[rs1] === 0 && w[rs2] === 0 && w[sorry] === 1);
    const { counts } = await fetchFromClient(`http://${web}/`, 6);
    expect(counts).toEqual({ [`sorry ${sorry}`]: 6 });
    await startWeb("rs1");
    await startWeb("rs2");
    await until("director1", web, (w) => w[rs1] === 1 && w[rs2] === 1 && !(sorry in w));
});

test("the daemon killed with -9 comes back and the table is as its health says", async () => {
    await bothUp();
    const { daemon } = await health("director1");
    await sh("director1", `kill -9 ${daemon.pid}`);
    // While it is down, rs2 fails: the daemon that comes back finds it and quiesces it.
    const t0 = await stopWeb("rs2");
    await until("director1", web, (w) => w[rs2] === 0 && w[rs1] === 1);
    await until("director1", echo, (w) => w[rs2] === 0, 30_000, "u");
    const again = await health("director1");
    expect(again.daemon.pid).not.toBe(daemon.pid);
    figures.push(`kill -9: a new daemon started ${((Date.parse(again.daemon.startedAt) - t0) / 1000).toFixed(2)} s ` +
        `after rs2's web server stopped (the lab's supervisor waits 1 s, as RestartSec=1)`);
    await startWeb("rs2");
    await until("director1", web, (w) => w[rs1] === 1 && w[rs2] === 1);
    await until("director1", echo, (w) => w[rs2] === 1, 30_000, "u");
    expect(await weights("director1", alt)).toEqual({ [rs1]: 1, [rs2]: 1 });
});

/** A next build of pulumi-lvs, as an upgrade brings: this checkout's lib/ with one more line in the agent
 * (so another content hash), its package.json, and its node_modules. */
let nextBuild: string | undefined;
function buildNext(): string {
    const root = path.join(__dirname, "..", "..");
    const next = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-next-"));
    fs.cpSync(path.join(root, "lib"), path.join(next, "lib"), { recursive: true });
    fs.appendFileSync(path.join(next, "lib", "agent", "agent.js"), "\n// the next build\n");
    fs.copyFileSync(path.join(root, "package.json"), path.join(next, "package.json"));
    fs.symlinkSync(path.join(root, "node_modules"), path.join(next, "node_modules"));
    return next;
}
/** The health daemon's command line on a director, from its pid in health.json ("" once that process has
 * ended: health.json names the new daemon only once it has started). */
const daemonCommand = async (director: string) => {
    const { daemon } = await health(director);
    const cmd = await sh(director, `tr '\\0' ' ' < /proc/${daemon.pid}/cmdline 2>/dev/null; true`);
    return { pid: daemon.pid as number, cmd: cmd.trim() };
};

test("changing a check is an update in place; a real server removed takes its checks with it; with a new " +
    "build of the agent, the daemons restart on it", async () => {
    await bothUp();
    const before = await Promise.all(directors.map(daemonCommand));
    // The upgrade: the program now finds the next build (as after npm install of a new version).
    nextBuild = buildNext();
    fs.mkdirSync(path.join(program, "node_modules"), { recursive: true });
    fs.symlinkSync(nextBuild, path.join(program, "node_modules", "pulumi-lvs"));
    await stack.config("interval", "2");
    await stack.config("altRealServers", JSON.stringify(["10.1.0.21"]));
    const out = await stack.run("up", "--yes", "--skip-preview");
    expect(out).not.toMatch(/replace/);
    for (const [i, d] of directors.entries()) {
        const unit = await sh(d, "sed -n 's/^ExecStart=//p' /var/lib/pulumi-lvs/pulumi-lvs-health.service");
        expect(unit.trim(), d).not.toBe(before[i].cmd);
        const deadline = Date.now() + 20_000;
        let now = await daemonCommand(d);
        while ((now.pid === before[i].pid || !now.cmd) && Date.now() < deadline) {
            await sleep(500);
            now = await daemonCommand(d);
        }
        expect(now.cmd, d).toBe(unit.trim());
    }
    // The new check starts from the real servers' last state: no server lost its weight.
    expect(await weights("director1", web)).toEqual({ [rs1]: 1, [rs2]: 1 });
    expect(await weights("director1", alt)).toEqual({ [rs1]: 1 });
    const h = await health("director1");
    // The daemon restarted on the new agent records each endpoint once it has checked it.
    let later = await health("director1");
    for (const deadline = Date.now() + 30_000; Object.keys(later.endpoints).length < 7 && Date.now() < deadline;) {
        await sleep(500);
        later = await health("director1");
    }
    expect(Object.keys(later.endpoints)).toHaveLength(7);
    const http = Object.keys(later.endpoints).map((k) => JSON.parse(k)).filter((k) => k.type === "http");
    expect(http.map((k) => k.interval)).toEqual([2, 2]);
    expect(Object.keys(h.servers).length).toBeGreaterThan(0);
});

test("a rebooted director restores its table as its health says, and its daemon comes back", async () => {
    await bothUp();
    await stopWeb("rs2");
    await until("director1", web, (w) => w[rs2] === 0);
    const { daemon } = await health("director1");
    await rebootHost("director1");
    // The restore (before sshd) put rs2 back at weight 0: its check held it down when the host went.
    expect(await weights("director1", web)).toEqual({ [rs1]: 1, [rs2]: 0 });
    const deadline = Date.now() + 20_000;
    let h = await health("director1");
    while (h.daemon.pid === daemon.pid && Date.now() < deadline) { await sleep(500); h = await health("director1"); }
    expect(h.daemon.pid).not.toBe(daemon.pid);
    await startWeb("rs2");
    await until("director1", web, (w) => w[rs2] === 1);
});

test("destroy removes the services and stops and removes the health daemon", async () => {
    const pids = await Promise.all(directors.map(async (d) => (await health(d)).daemon.pid));
    await stack.run("destroy", "--yes", "--skip-preview");
    await sleep(1500);
    for (const [i, d] of directors.entries()) {
        expect(await sh(d, "ipvsadm -Sn")).not.toMatch(/10\.0\.0\.22[67]/);
        expect(await sh(d, "ls /var/lib/pulumi-lvs")).not.toContain("pulumi-lvs-health.service");
        expect(await sh(d, `test -e /proc/${pids[i]} && echo running || echo gone`)).toBe("gone\n");
    }
});
