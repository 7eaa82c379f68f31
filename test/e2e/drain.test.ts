// Graceful drain end to end (test/drain through the real Pulumi CLI), under traffic: six clients on the
// client host keep requesting a slow page (2 s each) through 10.0.0.247:80 while an up removes a real
// server. With drain, the delete puts its weight to 0, waits for the requests in flight on it, then
// removes it: no request fails. The control removes another real server under the same load without
// drain: the requests in flight on it fail. Both run with director1's net.ipv4.vs.expire_nodest_conn at
// 1 (connections of a removed real server are expired at once: what operators set to fail over fast),
// which the test sets and puts back itself.
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, sh } from "../lab";
import { labStack, Stack } from "../pulumi";
import { fetchFromClient, LoadResult, startLoad, vmNow, webServer } from "../traffic";

const vip = "10.0.0.247:80";
const rs = { rs1: "10.1.0.21", rs2: "10.1.0.22", rs3: "10.1.0.23" };
const server = (name: keyof typeof rs) => `${name} ${rs[name]}:8247`;
const line = (address: string) => `-a -t ${vip} -r ${address}:8247 -m -w 1`;
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n")
    .filter((l) => l.includes(`-t ${vip} `)).sort();
const expireNodestConn = "/proc/sys/net/ipv4/vs/expire_nodest_conn";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stack: Stack;
let savedExpire: string | undefined;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
    stack = await labStack(path.join(__dirname, "..", "drain"));
    await sh("director1", `ipvsadm -D -t ${vip} 2>/dev/null; true`);
    stops.push(await webServer("rs1", [`${rs.rs1}:8247`]), await webServer("rs2", [`${rs.rs2}:8247`]),
        await webServer("rs3", [`${rs.rs3}:8247`]));
    savedExpire = (await sh("director1", `cat ${expireNodestConn}`)).trim();
    await sh("director1", `echo 1 > ${expireNodestConn}`);
});

afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await stack?.dispose();
    if (savedExpire !== undefined) await sh("director1", `echo ${savedExpire} > ${expireNodestConn}`);
    await closeLab();
});

/** Runs an up under load: `before` ms of load, the up, `after` ms of load; and what the load saw. */
async function upUnderLoad(realServers: Array<{ address: string; drain?: boolean }>) {
    const load = await startLoad(`http://${vip}/slow/2000`, 6);
    stops.push(load.kill);
    await sleep(6000);
    await stack.config("realServers", JSON.stringify(realServers));
    const t0 = await vmNow();
    const started = Date.now();
    const out = await stack.run("up", "--yes", "--skip-preview");
    const seconds = (Date.now() - started) / 1000;
    const t1 = await vmNow();
    await sleep(4000);
    const result: LoadResult = await load.stop();
    const of = (name: keyof typeof rs) => result.requests.filter((r) => r.server === server(name));
    return { out, seconds, t0, t1, result, of };
}

const summary = (r: LoadResult) => JSON.stringify({ ok: r.ok, failures: r.failures.length, counts: r.counts });

test("up makes the service with three NAT real servers, balanced round robin", async () => {
    await stack.run("up", "--yes", "--skip-preview");
    expect(await ours()).toEqual([`-A -t ${vip} -s rr`, line(rs.rs1), line(rs.rs2), line(rs.rs3)].sort());
    const { counts, failures } = await fetchFromClient(`http://${vip}/`, 6);
    expect(failures).toEqual([]);
    expect(counts).toEqual({ [server("rs1")]: 2, [server("rs2")]: 2, [server("rs3")]: 2 });
});

test("removing a real server with drain under load: the up waits for its requests in flight, " +
    "and none fails", async () => {
    const { out, seconds, t0, t1, result, of } = await upUnderLoad([{ address: rs.rs1, drain: true },
        { address: rs.rs2, drain: true }]);
    const drained = stack.trace().filter((l) => l.includes(" drained ") && l.includes(`${rs.rs3}:8247`));
    console.log(`drain: up took ${seconds.toFixed(1)} s; ${drained.join(" | ")}; load ${summary(result)}`);
    expect(out).toContain("1 deleted");
    expect(await ours()).toEqual([`-A -t ${vip} -s rr`, line(rs.rs1), line(rs.rs2)].sort());
    // The delete drained: it waited for active connections (so some were in flight), and none was left.
    expect(drained).toHaveLength(1);
    const [, waited, left] = /waited ([\d.]+) s of 60 s, (\d+) active connections left/.exec(drained[0]) ?? [];
    expect(Number(waited)).toBeGreaterThan(0);
    expect(Number(waited)).toBeLessThan(10);
    expect(Number(left)).toBe(0);
    expect(result.failures).toEqual([]);
    // rs3 served before the up, finished requests during it, and took none after.
    expect(of("rs3").filter((r) => r.start < t0).length).toBeGreaterThan(0);
    expect(of("rs3").filter((r) => r.end > t0).length).toBeGreaterThan(0);
    expect(of("rs3").filter((r) => r.start > t1)).toEqual([]);
    for (const name of ["rs1", "rs2"] as const) expect(of(name).filter((r) => r.start > t1).length).toBeGreaterThan(0);
});

test("dropping drain from a real server alone updates the state, not the kernel", async () => {
    const before = await ours();
    await stack.config("realServers",
        JSON.stringify([{ address: rs.rs1, drain: true }, { address: rs.rs2, drain: false }]));
    const out = await stack.run("up", "--yes", "--skip-preview");
    expect(out).toContain("1 updated");
    expect(await ours()).toEqual(before);
});

test("control: removing a real server without drain under the same load fails its requests in flight", async () => {
    const { seconds, t0, t1, result, of } = await upUnderLoad([{ address: rs.rs1, drain: true }]);
    console.log(`no drain: up took ${seconds.toFixed(1)} s; load ${summary(result)}; ` +
        `failures ${JSON.stringify(result.failures)}`);
    expect(stack.trace().filter((l) => l.includes(" drained ") && l.includes(`${rs.rs2}:8247`))).toEqual([]);
    expect(await ours()).toEqual([`-A -t ${vip} -s rr`, line(rs.rs1)].sort());
    expect(of("rs2").filter((r) => r.start < t0).length).toBeGreaterThan(0);
    expect(of("rs2").filter((r) => r.start > t1)).toEqual([]);
    expect(result.failures.length).toBeGreaterThan(0);
    // Only requests that were in flight when rs2 went: they started before the up ended, and hang.
    for (const f of result.failures) {
        expect(f.start).toBeLessThan(t1);
        expect(f.error).toMatch(/^timeout after 10000 ms$|ECONNRESET/);
    }
});
