// npm run bench -- health: the health daemon on director1 checking 1,000 real servers (100 services x 10,
// each real server its own endpoint: rs1's ports 9000-9999, one web server process answering them all)
// every second, over http (GET /.testpage, body matched) and then over tcp; against the same daemon
// with 10 endpoints, in the same run. Prints the daemon's CPU share of one core and its memory over a
// 30-second window, and the checks the real servers received in it (each check is one TCP connection:
// rs1's TCP passive opens); asserts nothing. Then the same daemon (HealthDaemon, its probes and timers)
// on this machine's own CPU, which the lab's emulated ones are not: a child process in a network
// namespace of its own checking 1,000 ports of web.js on 127.0.0.1 over http every second, where the
// kernel side is a stand-in that holds every real server as declared (every check passes, so after its
// start the daemon writes nothing to IPVS; its checks, state and timers are what is measured).
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { HealthDaemon } from "../provider/agent/health/daemon";
import { loadHealth } from "../provider/agent/health/state";
import * as model from "../provider/model";
// (The lab's modules, ssh2 among them, are loaded by main only: the native child's memory is the daemon's.)
const lab = () => ({ ...require("../provider/client") as typeof import("../provider/client"),
    ...require("../test/lab") as typeof import("../test/lab") });

const host = "director1";
const windowSeconds = Number(process.env.WINDOW ?? 30);
const web = path.join(__dirname, "..", "..", "test", "lab", "web.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const services = (n: number) => Array.from({ length: n },
    (_, i) => ({ protocol: "tcp" as const, address: `10.4.${i >> 8}.${(i & 255) + 1}`, port: 80 }));
const ports = (i: number, per: number) => Array.from({ length: per }, (_, j) => 9000 + i * per + j);

async function run(label: string, nServices: number, per: number, type: "http" | "tcp") {
    const { agentFor, labConnection, sh } = lab();
    const agent = await agentFor(labConnection(host));
    const healthCheck = type === "http"
        ? { type, request: "/.testpage", receive: "test page", interval: 1, timeout: 1 }
        : { type, interval: 1, timeout: 1 };
    const svcs = services(nServices);
    const changes = svcs.flatMap((s, i) => [{ service: s, health: { healthCheck } },
        ...ports(i, per).map((port) =>
            ({ service: s, realServer: { address: "10.1.0.21", port, forwarding: "nat" as const } }))]);
    await agent.request("apply", { changes });
    const total = nServices * per;
    // Every real server in (its first check passed), and the daemon's pid.
    const deadline = Date.now() + 120_000;
    let up = 0;
    for (;;) {
        const st = await agent.request("state", { services: svcs });
        up = st.health.filter((h) => h.state === "up").length;
        if (up === total || Date.now() > deadline) break;
        await sleep(1000);
    }
    const pid = JSON.parse(await sh(host, "cat /var/lib/pulumi-lvs/health.json")).daemon.pid as number;
    const sample = async () => {
        const [stat, status, uptime] = (await sh(host,
            `cat /proc/${pid}/stat; grep VmRSS /proc/${pid}/status; cat /proc/uptime`)).trim().split("\n");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return { ticks: Number(f[11]) + Number(f[12]), rssKiB: Number(/(\d+)/.exec(status)![1]),
            at: Number(uptime.split(" ")[0]) };
    };
    // Connections rs1 accepted (its network namespace's TCP counters): the checks that reached it.
    const opens = async () => {
        const tcp = (await sh("rs1", "grep '^Tcp:' /proc/net/snmp")).trim().split("\n").map((l) => l.split(/\s+/));
        return Number(tcp[1][tcp[0].indexOf("PassiveOpens")]);
    };
    const [a, o1] = [await sample(), await opens()];
    await sleep(windowSeconds * 1000);
    const [b, o2] = [await sample(), await opens()];
    const cpu = (b.ticks - a.ticks) / 100 / (b.at - a.at);
    const rate = (o2 - o1) / (b.at - a.at);
    await agent.request("apply", { changes: svcs.map((s) => ({ deleteService: s })) });
    console.log(`${label}: ${total} real servers (${nServices} x ${per}), ${up} up; ${type} checks every 1 s; ` +
        `daemon CPU ${(cpu * 100).toFixed(1)}% of one core over ${(b.at - a.at).toFixed(0)} s, ` +
        `RSS ${(b.rssKiB / 1024).toFixed(1)} MiB; checks received ${rate.toFixed(0)}/s (of ${total}/s declared)`);
    return { cpu, rss: b.rssKiB, rate };
}

/** Connections accepted in this network namespace so far (its TCP PassiveOpens). */
function passiveOpens(): number {
    const tcp = fs.readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) => l.startsWith("Tcp:"))
        .map((l) => l.split(/\s+/));
    return Number(tcp[1][tcp[0].indexOf("PassiveOpens")]);
}

/** The child (`health.js native`, in its own network namespace): web.js on 127.0.0.1:20000-20999, the
 * daemon checking them (100 services x 10), and after a 10-second start a window measured; prints one
 * line of JSON. */
async function nativeChild(): Promise<void> {
    const listen = Array.from({ length: 1000 }, (_, i) => `127.0.0.1:${20000 + i}`);
    const server = spawn(process.execPath, [web, "native", ...listen], { stdio: "ignore" });
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-bench-"));
    const healthCheck = model.normalizeHealthCheck({ type: "http", request: "/.testpage", receive: "test page",
        interval: 1, timeout: 1, initialState: "up" });
    const live = new Map<string, model.RealServer[]>();
    const records: Record<string, unknown> = {};
    for (const [i, s] of services(100).entries()) {
        const service = model.normalizeService(s);
        const realServers: Record<string, model.RealServer> = {};
        for (const port of ports(i, 10).map((p) => p + 11000))
            realServers[`127.0.0.1|${port}`] = { address: "127.0.0.1", port, addressFamily: "inet", forwarding: "nat",
                weight: 1, upperThreshold: 0, lowerThreshold: 0 };
        records[model.serviceName(service)] = { service, realServers, health: { healthCheck } };
        live.set(model.serviceName(service), Object.values(realServers));
    }
    fs.writeFileSync(path.join(stateDir, "desired.json"), JSON.stringify({ version: 2, services: records, daemons: {},
        sysctls: {}, holders: {}, addresses: {}, modules: [], found: {} }));
    let writes = 0;
    const ctx = {
        stateDir, agentFile: "/opt/agent.js", exclusive: <T>(fn: () => Promise<T>) => fn(),
        ipvs: async () => ({
            destinations: async (s: model.VirtualService) => live.get(model.serviceName(s)) ?? [],
            writeAll: async (ws: unknown[]) => { writes += ws.length; return ws.map(() => undefined); },
        }),
    };
    await sleep(2000);
    let changes = 0;
    const log = (line: string) => { if (/ check of .* (up|down): /.test(line)) changes++; };
    const daemon = new HealthDaemon(ctx as never, { log });
    await daemon.start();
    await sleep(10_000);
    const [c1, o1, t1, w1, n1] = [process.cpuUsage(), passiveOpens(), Date.now(), writes, changes];
    await sleep(windowSeconds * 1000);
    const [c2, o2, t2, w2, n2] = [process.cpuUsage(c1), passiveOpens(), Date.now(), writes, changes];
    await sleep(6000); // the details' next write
    const up = Object.values(loadHealth(stateDir).endpoints).filter((e) => e.up).length;
    await daemon.stop();
    server.kill();
    fs.rmSync(stateDir, { recursive: true, force: true });
    const seconds = (t2 - t1) / 1000;
    const { rss, heapUsed: heap } = process.memoryUsage();
    console.log(JSON.stringify({ up, writes: w2 - w1, changes: n2 - n1, seconds, rss, heap, rate: (o2 - o1) / seconds,
        cpu: (c2.user + c2.system) / 1e6 / seconds, user: c2.user / 1e6 / seconds }));
}

/** The daemon on this machine's CPU (nativeChild, under unshare -n). */
function native(): { cpu: number; user: number; rss: number; heap: number; rate: number } {
    const child = spawnSync("unshare", ["-n", "sh", "-c", 'ip link set lo up && exec "$0" "$1" native',
        process.execPath, __filename], { encoding: "utf8" });
    if (child.status !== 0) throw new Error(`the native run failed: ${child.stderr || child.error}`);
    const r = JSON.parse(child.stdout.trim().split("\n").pop()!);
    console.log(`native (this machine's CPU, ${os.cpus()[0]?.model ?? "?"}; the kernel a stand-in): 1000 real ` +
        `servers (100 x 10), ${r.up} up; http checks every 1 s; daemon CPU ${(r.cpu * 100).toFixed(1)}% of one ` +
        `core (${(r.user * 100).toFixed(1)}% in user space, the rest the kernel's TCP) over ` +
        `${r.seconds.toFixed(0)} s, RSS ${(r.rss / 1048576).toFixed(1)} MiB (JavaScript heap ` +
        `${(r.heap / 1048576).toFixed(1)} MiB); checks received ${r.rate.toFixed(0)}/s (of 1000/s declared); ` +
        `changes of state in the window ${r.changes}, IPVS writes ${r.writes}`);
    return r;
}

async function main(): Promise<void> {
    const { closeAgents, closeLab, sh } = lab();
    const listen = Array.from({ length: 1000 }, (_, i) => `10.1.0.21:${9000 + i}`).join(" ");
    await sh("rs1", `setsid node ${web} bench ${listen} >/dev/null 2>&1 < /dev/null & echo $! > /tmp/bench-web.pid; ` +
        "sleep 3");
    try {
        const base = await run("baseline", 1, 10, "http");
        const http = await run("http", 100, 10, "http");
        const tcp = await run("tcp", 100, 10, "tcp");
        console.log(`ratio 1,000 http / 10 http: CPU ${(http.cpu / Math.max(base.cpu, 1e-6)).toFixed(1)}x, ` +
            `RSS ${(http.rss / base.rss).toFixed(2)}x; 1,000 tcp / 1,000 http: ` +
            `CPU ${(tcp.cpu / http.cpu).toFixed(2)}x`);
        const nat = native();
        console.log(`ratio lab / native, 1,000 http: CPU ${(http.cpu / Math.max(nat.cpu, 1e-6)).toFixed(1)}x, ` +
            `checks received ${(http.rate / Math.max(nat.rate, 1e-6)).toFixed(2)}x`);
        console.log("goal (real hardware): under 5% of one core and 50 MB for 1,000 checks a second: " +
            `${nat.cpu < 0.05 && nat.rss < 50e6 ? "met" : "NOT met"} on this machine's CPU (the native line); ` +
            "the lab's CPUs are emulated (TCG), so its figures are an upper bound");
    } finally {
        await sh("rs1", "kill $(cat /tmp/bench-web.pid) 2>/dev/null; rm -f /tmp/bench-web.pid");
        await closeAgents();
        await closeLab();
    }
}

(process.argv[2] === "native" ? nativeChild() : main())
    .catch((e) => { console.error(e); process.exit(1); });
