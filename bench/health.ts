// npm run bench -- health: the health daemon on director1 checking 1,000 real servers (100 services x 10,
// each real server its own endpoint: rs1's ports 9000-9999, one web server process answering them all)
// every second, over http (GET /.testpage, body matched) and then over tcp; against the same daemon
// with 10 endpoints, in the same run. Prints the daemon's CPU share of one core and its memory over a
// 30-second window, and the checks the real servers received in it (each check is one TCP connection:
// rs1's TCP passive opens); asserts nothing.
import { agentFor, closeAgents } from "../provider/client";
import { closeLab, labConnection, sh } from "../test/lab";
import * as path from "path";

const host = "director1";
const windowSeconds = Number(process.env.WINDOW ?? 30);
const web = path.join(__dirname, "..", "..", "test", "lab", "web.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const services = (n: number) => Array.from({ length: n },
    (_, i) => ({ protocol: "tcp" as const, address: `10.4.${i >> 8}.${(i & 255) + 1}`, port: 80 }));
const ports = (i: number, per: number) => Array.from({ length: per }, (_, j) => 9000 + i * per + j);

async function run(label: string, nServices: number, per: number, type: "http" | "tcp") {
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

async function main(): Promise<void> {
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
        console.log("goal (real hardware): under 5% of one core and 50 MB for 1,000 checks a second; " +
            "the lab's CPUs are emulated (TCG), so its figures are an upper bound");
    } finally {
        await sh("rs1", "kill $(cat /tmp/bench-web.pid) 2>/dev/null; rm -f /tmp/bench-web.pid");
        await closeAgents();
        await closeLab();
    }
}

main().catch((e) => { console.error(e); process.exit(1); });
