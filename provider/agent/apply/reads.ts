// The operations that only read the node (and zero, which only resets counters): the table, sysctls,
// addresses and the probe. Table reads take the lock, so a read never sees a request half applied.
import * as fs from "fs";
import { interfaceNameProblem } from "../../model/interface";
import type { HostProbe, InterfaceAddress, Report, Result, ServiceState } from "../../model/protocol";
import type { SysctlValue } from "../../model/sysctls";
import type { Context } from "../context";
import * as desired from "../desired";
import { failoverState } from "../failover";
import { listAddresses } from "../host/addresses";
import { probe as probeHost } from "../host/probe";
import { getSysctl, resolveSysctl } from "../host/sysctls";
import { serviceHealthReport } from "../health/converge";
import { loadHealth } from "../health/state";
import { together } from "../together";
import { keyOf } from "./table";
import { fail, object, onlyKeys, serviceKey } from "./validate";

/** The table (or the services asked for: those missing are left out), the timeouts and the daemons.
 * Requests for it that wait for the lock together are answered from one read. */
export async function state(args: unknown, ctx: Context): Promise<Result<"state">> {
    const a = object(args ?? {}, "args");
    onlyKeys(a, ["services"], "args");
    let wanted: Set<string> | undefined;
    if (a.services !== undefined) {
        if (!Array.isArray(a.services)) fail("services", "must be a list of services");
        wanted = new Set(a.services.map((k, i) => keyOf(serviceKey(k, `services[${i}]`))));
    }
    return together(ctx, "state", wanted, (asks) => stateLocked(asks, ctx));
}

/** One read for every request (each the services it asks for, undefined for all), one answer each. */
async function stateLocked(asks: Array<Set<string> | undefined>, ctx: Context): Promise<Array<Result<"state">>> {
    const h = await ctx.ipvs();
    const union = asks.some((w) => !w) ? undefined : new Set(asks.flatMap((w) => [...w!]));
    const read: ServiceState[] = [];
    for (const s of await h.services())
        if (!union || union.has(keyOf(s))) read.push({ ...s, realServers: await h.destinations(s) });
    const record = desired.load(ctx.stateDir), health = loadHealth(ctx.stateDir);
    const shared = { timeouts: await h.timeouts(), daemons: await h.daemons(),
        ...(health.daemon ? { healthDaemon: { ...health.daemon, running: running(health.daemon.pid) } } : {}),
        ...(record.failover ? { failover: await failoverState(ctx.stateDir, record.failover) } : {}) };
    return asks.map((wanted) => {
        const services = wanted ? read.filter((s) => wanted.has(keyOf(s))) : read;
        const asked = wanted && new Set(services.map(keyOf));
        const reports = Object.entries(record.services).filter(([k]) => !asked || asked.has(k))
            .flatMap(([k, s]) => serviceHealthReport(k, s, health));
        return { services, ...shared, health: reports };
    });
}

/** Whether a process of that pid runs the agent's health mode. */
function running(pid: number): boolean {
    try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return cmd.some((w) => w.endsWith("agent.js")) && cmd.includes("health");
    } catch { return false; }
}

/** Zeroes the counters of one service, or of all. */
export async function zero(args: unknown, ctx: Context): Promise<Report> {
    const a = object(args ?? {}, "args");
    onlyKeys(a, ["service"], "args");
    const id = a.service === undefined ? undefined : serviceKey(a.service, "service");
    await ctx.exclusive(async () => (await ctx.ipvs()).zero(id));
    return {
        changed: true,
        actions: [id ? `zeroed the counters of service ${keyOf(id)}` : "zeroed the counters of every service"],
    };
}

/** The values of sysctls from the closed table. */
export async function sysctls(args: unknown): Promise<Record<string, SysctlValue>> {
    const a = object(args ?? {}, "args");
    onlyKeys(a, ["names"], "args");
    if (!Array.isArray(a.names)) fail("names", "must be a list of sysctl names");
    const out: Record<string, SysctlValue> = {};
    for (const [i, n] of a.names.entries()) {
        try { resolveSysctl(String(n)); } catch (e) { fail(`names[${i}]`, (e as Error).message); }
        out[n] = getSysctl(n);
    }
    return out;
}

/** The addresses of one interface, or of all. */
export async function addresses(args: unknown): Promise<InterfaceAddress[]> {
    const a = object(args ?? {}, "args");
    onlyKeys(a, ["interface"], "args");
    if (a.interface !== undefined) { const p = interfaceNameProblem(a.interface); if (p) fail("interface", p); }
    return listAddresses(a.interface as string | undefined);
}

/** What this node is: the kernel, its IPVS, schedulers and features; and, when the node's record of what
 * pulumi-lvs applied cannot be read, why (refresh reports it). */
export async function probe(ctx: Pick<Context, "stateDir">): Promise<HostProbe & { recordProblem?: string }> {
    const recordProblem = desired.problem(ctx.stateDir);
    return { ...(await probeHost()), ...(recordProblem ? { recordProblem } : {}) };
}
