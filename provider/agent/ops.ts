// The agent's closed set of operations. Every write reconciles against the kernel: read, compare,
// apply only the difference, read back. A request with several changes applies all or none of them.
import * as ipvs from "./ipvs";
import type { IpvsHandle, RealServer, VirtualService, VirtualServiceId, Timeouts, Daemon, SyncState } from "./ipvs";
import * as host from "./host";
import * as model from "../model";
import { AgentError, Report } from "./protocol";

export interface Context {
    ipvs(): Promise<IpvsHandle>;
    /** Runs `fn` holding the node's lock, so agents never interleave half-applied changes. */
    exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

export type Change =
    | { service: model.ServiceSpec; adopt?: boolean }
    | { deleteService: model.ServiceKey }
    | { realServer: model.RealServerSpec; service: model.ServiceKey; adopt?: boolean }
    | { deleteRealServer: { address: string; port?: number }; service: model.ServiceKey }
    | { timeouts: Partial<Timeouts> }
    | { startDaemon: Daemon }
    | { stopDaemon: SyncState }
    | { sysctl: string; value: host.SysctlValue }
    | { address: string; interface: string; prefixLength?: number }
    | { deleteAddress: string; interface: string; prefixLength?: number }
    | { module: string };

// ------------------------------------------------------------------------------------------------
// Validation: every request is checked in full before anything on the node is touched.

function fail(field: string, reason: string): never {
    throw new AgentError(`${field}: ${reason}`, field);
}

function object(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(field, `${JSON.stringify(v)} is not an object`);
    return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], field: string): void {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${field}.${k}`, `unknown field (allowed: ${allowed.join(", ")})`);
}

function failures(fs: model.Failure[], field: string): void {
    if (fs.length) fail(`${field}.${fs[0].property}`, fs.map((f) => `${f.property}: ${f.reason}`).join("; "));
}

const serviceFields = ["protocol", "address", "port", "fwmark", "family", "scheduler", "schedulerFlags", "persistence", "onePacket"];
const keyFields = ["protocol", "address", "port", "fwmark", "family"];
const realServerFields = ["address", "port", "forwarding", "weight", "upperThreshold", "lowerThreshold", "tunnel"];

function serviceKey(v: unknown, field: string): VirtualServiceId {
    const o = object(v, field);
    onlyKeys(o, keyFields, field);
    const k = o as model.ServiceKey;
    failures(model.validateServiceKey(k), field);
    return model.serviceId(k);
}

function realServerKey(v: unknown, service: VirtualServiceId, field: string): ipvs.RealServerId {
    const o = object(v, field);
    onlyKeys(o, ["address", "port"], field);
    const r = model.normalizeRealServer({ address: String(o.address), port: o.port as number | undefined }, service);
    failures(model.validateRealServer({ address: o.address as string, port: o.port as number | undefined, forwarding: "nat" }, service), field);
    return r;
}

type Step =
    | { kind: "service"; want: VirtualService; adopt: boolean }
    | { kind: "deleteService"; id: VirtualServiceId }
    | { kind: "realServer"; service: VirtualServiceId; want: RealServer; adopt: boolean }
    | { kind: "deleteRealServer"; service: VirtualServiceId; id: ipvs.RealServerId }
    | { kind: "timeouts"; want: Partial<Timeouts> }
    | { kind: "startDaemon"; want: Daemon }
    | { kind: "stopDaemon"; state: SyncState }
    | { kind: "sysctl"; name: string; value: host.SysctlValue }
    | { kind: "address" | "deleteAddress"; address: string; iface: string; prefixLength: number }
    | { kind: "module"; name: string };

function step(v: unknown, field: string): Step {
    const c = object(v, field);
    const adopt = c.adopt === undefined ? false : c.adopt === true ? true : c.adopt === false ? false : fail(`${field}.adopt`, "must be a boolean");
    if ("service" in c && "realServer" in c) {
        onlyKeys(c, ["service", "realServer", "adopt"], field);
        const service = serviceKey(c.service, `${field}.service`);
        const r = object(c.realServer, `${field}.realServer`);
        onlyKeys(r, realServerFields, `${field}.realServer`);
        const spec = r as unknown as model.RealServerSpec;
        failures(model.validateRealServer(spec, service), `${field}.realServer`);
        return { kind: "realServer", service, want: model.normalizeRealServer(spec, service), adopt };
    }
    if ("service" in c && "deleteRealServer" in c) {
        onlyKeys(c, ["service", "deleteRealServer"], field);
        const service = serviceKey(c.service, `${field}.service`);
        return { kind: "deleteRealServer", service, id: realServerKey(c.deleteRealServer, service, `${field}.deleteRealServer`) };
    }
    if ("service" in c) {
        onlyKeys(c, ["service", "adopt"], field);
        const s = object(c.service, `${field}.service`);
        onlyKeys(s, serviceFields, `${field}.service`);
        failures(model.validateService(s as model.ServiceSpec), `${field}.service`);
        return { kind: "service", want: model.normalizeService(s as model.ServiceSpec), adopt };
    }
    if ("deleteService" in c) {
        onlyKeys(c, ["deleteService"], field);
        return { kind: "deleteService", id: serviceKey(c.deleteService, `${field}.deleteService`) };
    }
    if ("timeouts" in c) {
        onlyKeys(c, ["timeouts"], field);
        const t = object(c.timeouts, `${field}.timeouts`);
        onlyKeys(t, ["tcp", "tcpFin", "udp"], `${field}.timeouts`);
        for (const [k, v] of Object.entries(t))
            if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 0x7fffffff / 1000)
                fail(`${field}.timeouts.${k}`, `${JSON.stringify(v)} is not a timeout: whole seconds from 1 to ${Math.floor(0x7fffffff / 1000)}`);
        return { kind: "timeouts", want: t as Partial<Timeouts> };
    }
    if ("startDaemon" in c) {
        onlyKeys(c, ["startDaemon"], field);
        const d = object(c.startDaemon, `${field}.startDaemon`);
        onlyKeys(d, ["state", "mcastInterface", "syncId", "syncMaxlen", "mcastGroup", "mcastPort", "mcastTtl"], `${field}.startDaemon`);
        failures(model.validateDaemon(d as unknown as Daemon), `${field}.startDaemon`);
        return { kind: "startDaemon", want: d as unknown as Daemon };
    }
    if ("stopDaemon" in c) {
        onlyKeys(c, ["stopDaemon"], field);
        if (c.stopDaemon !== "master" && c.stopDaemon !== "backup") fail(`${field}.stopDaemon`, `${JSON.stringify(c.stopDaemon)} is not a sync daemon state: use "master" or "backup"`);
        return { kind: "stopDaemon", state: c.stopDaemon };
    }
    if ("sysctl" in c) {
        onlyKeys(c, ["sysctl", "value"], field);
        const name = String(c.sysctl);
        const problem = host.sysctlProblem(name, c.value);
        if (problem) fail(`${field}.sysctl`, problem);
        return { kind: "sysctl", name, value: c.value as host.SysctlValue };
    }
    if ("address" in c || "deleteAddress" in c) {
        const kind = "address" in c ? "address" : "deleteAddress";
        onlyKeys(c, [kind, "interface", "prefixLength"], field);
        const address = String(c[kind]);
        const family = model.familyOf(address);
        if (!family) fail(`${field}.${kind}`, `${JSON.stringify(c[kind])} is not an IPv4 or IPv6 address`);
        const ifaceProblem = host.interfaceNameProblem(c.interface);
        if (ifaceProblem) fail(`${field}.interface`, ifaceProblem);
        const max = family === "inet" ? 32 : 128;
        const prefixLength = c.prefixLength === undefined ? max : c.prefixLength;
        if (!Number.isInteger(prefixLength) || (prefixLength as number) < 1 || (prefixLength as number) > max)
            fail(`${field}.prefixLength`, `${JSON.stringify(c.prefixLength)} is not a prefix length for ${address}: 1 to ${max}`);
        return { kind, address: model.canonicalAddress(address), iface: c.interface as string, prefixLength: prefixLength as number };
    }
    if ("module" in c) {
        onlyKeys(c, ["module"], field);
        const problem = host.moduleProblem(c.module);
        if (problem) fail(`${field}.module`, problem);
        return { kind: "module", name: c.module as string };
    }
    return fail(field, `not a change: give one of service, deleteService, realServer (with service), deleteRealServer (with service), ` +
        `timeouts, startDaemon, stopDaemon, sysctl (with value), address or deleteAddress (with interface), module`);
}

// ------------------------------------------------------------------------------------------------
// Comparison: what differs between a declared object and the kernel's, in words.

function serviceDiff(want: VirtualService, live: VirtualService): string[] {
    const d: string[] = [];
    const cmp = (name: string, a: unknown, b: unknown) => { if (a !== b) d.push(`${name} ${String(b)} -> ${String(a)}`); };
    cmp("scheduler", want.scheduler, live.scheduler);
    cmp("scheduler flags", ipvs.schedFlagNames(want.scheduler, want.schedFlags).join(",") || "none",
        ipvs.schedFlagNames(live.scheduler, live.schedFlags).join(",") || "none");
    cmp("persistent", want.persistent, live.persistent);
    if (want.persistent) {
        cmp("persistence timeout", want.persistenceTimeout, live.persistenceTimeout);
        cmp("netmask", want.netmask, live.netmask);
    }
    cmp("persistence engine", want.persistenceEngine ?? "none", live.persistenceEngine ?? "none");
    cmp("one-packet", want.onePacket, live.onePacket);
    return d;
}

function realServerDiff(want: RealServer, live: RealServer): string[] {
    const d: string[] = [];
    const cmp = (name: string, a: unknown, b: unknown) => { if (a !== b) d.push(`${name} ${String(b)} -> ${String(a)}`); };
    cmp("forwarding", want.forwarding, live.forwarding);
    cmp("weight", want.weight, live.weight);
    cmp("upper threshold", want.upperThreshold, live.upperThreshold);
    cmp("lower threshold", want.lowerThreshold, live.lowerThreshold);
    if (want.forwarding === "tun") {
        cmp("tunnel type", want.tunnelType, live.tunnelType ?? "ipip");
        cmp("tunnel port", want.tunnelPort ?? 0, live.tunnelPort ?? 0);
        cmp("tunnel checksum", want.tunnelFlags ?? "nocsum", live.tunnelFlags ?? "nocsum");
    }
    return d;
}

// ------------------------------------------------------------------------------------------------
// The table as this request sees it: read once, kept current as changes are applied.

const keyOf = (id: VirtualServiceId) => model.serviceName(id);
const rsKey = (r: ipvs.RealServerId) => `${r.address}|${r.port}`;
const rsName = (service: VirtualServiceId, r: ipvs.RealServerId) =>
    `real server ${r.addressFamily === "inet6" ? `[${r.address}]` : r.address}:${r.port} of ${keyOf(service)}`;

class Table {
    private services?: Map<string, VirtualService>;
    private dests = new Map<string, Map<string, RealServer>>();
    constructor(private readonly h: IpvsHandle) {}

    async service(id: VirtualServiceId): Promise<VirtualService | undefined> {
        if (!this.services) this.services = new Map((await this.h.services()).map((s) => [keyOf(s), s]));
        return this.services.get(keyOf(id));
    }
    setService(id: VirtualServiceId, s: VirtualService | undefined): void {
        if (s) this.services!.set(keyOf(id), s); else { this.services!.delete(keyOf(id)); this.dests.delete(keyOf(id)); }
    }
    async realServers(id: VirtualServiceId): Promise<Map<string, RealServer>> {
        let m = this.dests.get(keyOf(id));
        if (!m) {
            m = new Map((await this.service(id)) ? (await this.h.destinations(id)).map((d) => [rsKey(d), d]) : []);
            this.dests.set(keyOf(id), m);
        }
        return m;
    }
}

function strip<T extends object>(o: T, fields: string[]): T {
    const c = { ...o } as Record<string, unknown>;
    for (const f of fields) delete c[f];
    return c as T;
}
const liveService = (s: VirtualService): VirtualService => strip(s, ["stats"]);
const liveRealServer = (r: RealServer): RealServer => strip(r, ["stats", "activeConns", "inactConns", "persistConns"]);

// ------------------------------------------------------------------------------------------------
// apply

export async function apply(args: unknown, ctx: Context): Promise<Report> {
    return ctx.exclusive(() => applyLocked(args, ctx));
}

async function applyLocked(args: unknown, ctx: Context): Promise<Report> {
    const a = object(args, "args");
    onlyKeys(a, ["changes"], "args");
    if (!Array.isArray(a.changes)) fail("changes", "must be a list of changes");
    const steps = a.changes.map((c, i) => step(c, `changes[${i}]`));
    const h = await ctx.ipvs();
    const table = new Table(h);
    const actions: string[] = [];
    const undo: Array<() => Promise<void>> = [];
    const verify: Array<() => Promise<void>> = [];
    try {
        for (const s of steps) await applyStep(s, h, table, actions, undo, verify);
        for (const v of verify) await v();
    } catch (e) {
        const undone: string[] = [];
        for (const u of undo.reverse()) {
            try { await u(); } catch (re) { undone.push(`could not undo: ${(re as Error).message}`); }
        }
        const note = undo.length ? ` (rolled back ${undo.length} change${undo.length > 1 ? "s" : ""} of this request${undone.length ? `; ${undone.join("; ")}` : ""})` : "";
        if (e instanceof AgentError) throw new AgentError(e.message + note, e.field, e.code);
        const err = e as ipvs.IpvsError;
        throw new AgentError(err.message + note, undefined, err.code);
    }
    return { changed: actions.length > 0, actions };
}

async function applyStep(s: Step, h: IpvsHandle, table: Table, actions: string[], undo: Array<() => Promise<void>>,
    verify: Array<() => Promise<void>>): Promise<void> {
    switch (s.kind) {
        case "service": {
            const live = await table.service(s.want);
            const name = `service ${keyOf(s.want)}`;
            if (!live) {
                await h.addService(s.want);
                undo.push(() => h.deleteService(s.want));
                actions.push(`added ${name}`);
            } else {
                const diff = serviceDiff(s.want, live);
                if (!diff.length) return;
                if (!s.adopt) throw new AgentError(`${name} already exists with other settings (${diff.join(", ")}); ` +
                    `set adopt to take it over and converge it, or remove it from the director`, "service", "EEXIST");
                await h.updateService(s.want);
                undo.push(() => h.updateService(liveService(live)));
                actions.push(`updated ${name}: ${diff.join(", ")}`);
            }
            table.setService(s.want, s.want);
            verify.push(async () => {
                const back = await h.service(s.want);
                const diff = back ? serviceDiff(s.want, back) : ["missing"];
                if (diff.length) throw new AgentError(`${name}: the kernel did not keep what was written (${diff.join(", ")}); it may be too old for a setting`, "service");
            });
            return;
        }
        case "deleteService": {
            const live = await table.service(s.id);
            if (!live) return;
            const dests = [...(await table.realServers(s.id)).values()];
            await h.deleteService(s.id);
            undo.push(async () => { await h.addService(liveService(live)); for (const d of dests) await h.addDestination(s.id, liveRealServer(d)); });
            actions.push(`deleted service ${keyOf(s.id)}${dests.length ? ` and its ${dests.length} real server${dests.length > 1 ? "s" : ""}` : ""}`);
            table.setService(s.id, undefined);
            return;
        }
        case "realServer": {
            if (!(await table.service(s.service))) throw new AgentError(`service ${keyOf(s.service)} does not exist on this director: create it first`, "service", "ESRCH");
            const m = await table.realServers(s.service);
            const live = m.get(rsKey(s.want));
            const name = rsName(s.service, s.want);
            if (!live) {
                await h.addDestination(s.service, s.want);
                undo.push(() => h.deleteDestination(s.service, s.want));
                actions.push(`added ${name}`);
            } else {
                const diff = realServerDiff(s.want, live);
                if (!diff.length) return;
                if (!s.adopt) throw new AgentError(`${name} already exists with other settings (${diff.join(", ")}); ` +
                    `set adopt to take it over and converge it, or remove it from the director`, "realServer", "EEXIST");
                await h.updateDestination(s.service, s.want);
                undo.push(() => h.updateDestination(s.service, liveRealServer(live)));
                actions.push(`updated ${name}: ${diff.join(", ")}`);
            }
            m.set(rsKey(s.want), s.want);
            verify.push(async () => {
                const back = (await h.destinations(s.service)).find((d) => rsKey(d) === rsKey(s.want));
                const diff = back ? realServerDiff(s.want, back) : ["missing"];
                if (diff.length) throw new AgentError(`${name}: the kernel did not keep what was written (${diff.join(", ")}); it may be too old for a setting`, "realServer");
            });
            return;
        }
        case "deleteRealServer": {
            if (!(await table.service(s.service))) return;
            const m = await table.realServers(s.service);
            const live = m.get(rsKey(s.id));
            if (!live) return;
            await h.deleteDestination(s.service, s.id);
            undo.push(() => h.addDestination(s.service, liveRealServer(live)));
            actions.push(`deleted ${rsName(s.service, s.id)}`);
            m.delete(rsKey(s.id));
            return;
        }
        case "timeouts": {
            const live = await h.timeouts();
            const diff = (Object.keys(s.want) as Array<keyof Timeouts>).filter((k) => s.want[k] !== live[k]);
            if (!diff.length) return;
            await h.setTimeouts(s.want);
            undo.push(() => h.setTimeouts(live));
            actions.push(`set timeouts ${diff.map((k) => `${k} ${live[k]} -> ${s.want[k]}`).join(", ")}`);
            return;
        }
        case "startDaemon": {
            const live = (await h.daemons()).find((d) => d.state === s.want.state);
            const diff = live ? model.daemonDiff(s.want, live) : [];
            if (live && !diff.length) return;
            if (live) {
                await h.stopDaemon(live.state);
                undo.push(() => h.startDaemon(live));
            }
            await h.startDaemon(s.want);
            undo.push(() => h.stopDaemon(s.want.state));
            actions.push(live ? `restarted ${s.want.state} sync daemon: ${diff.join(", ")}` : `started ${s.want.state} sync daemon on ${s.want.mcastInterface} syncid ${s.want.syncId}`);
            return;
        }
        case "stopDaemon": {
            const live = (await h.daemons()).find((d) => d.state === s.state);
            if (!live) return;
            await h.stopDaemon(s.state);
            undo.push(() => h.startDaemon(live));
            actions.push(`stopped ${s.state} sync daemon`);
            return;
        }
        case "sysctl": {
            const before = host.getSysctl(s.name);
            const text = (v: host.SysctlValue) => (Array.isArray(v) ? v.join(" ") : String(v));
            if (text(before) === text(s.value)) return;
            host.setSysctl(s.name, s.value);
            undo.push(async () => { host.setSysctl(s.name, before); });
            actions.push(`set ${s.name} ${text(before)} -> ${text(s.value)}`);
            return;
        }
        case "address":
        case "deleteAddress": {
            const present = (await host.listAddresses(s.iface))
                .some((a) => model.canonicalAddress(a.address) === s.address && a.prefixLength === s.prefixLength);
            const name = `${s.address}/${s.prefixLength} on ${s.iface}`;
            if (s.kind === "address") {
                const link = await host.getLink(s.iface);
                if (present && link.up) return;
                if (!present) {
                    await host.addAddress(s.iface, s.address, s.prefixLength);
                    undo.push(() => host.deleteAddress(s.iface, s.address, s.prefixLength));
                    actions.push(`added address ${name}`);
                } else {
                    await host.setLinkUp(s.iface);
                    actions.push(`set ${s.iface} up`);
                }
            } else if (present) {
                await host.deleteAddress(s.iface, s.address, s.prefixLength);
                undo.push(() => host.addAddress(s.iface, s.address, s.prefixLength));
                actions.push(`deleted address ${name}`);
            }
            return;
        }
        case "module": {
            const before = await host.loadModule(s.name);
            if (before !== "loaded" && before !== "builtin") actions.push(`loaded module ${s.name}`);
            return;
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Reads

export type ServiceState = VirtualService & { realServers: RealServer[] };

/** The table (or the services asked for: those missing are left out), the timeouts and the daemons. */
export async function state(args: unknown, ctx: Context): Promise<{ services: ServiceState[]; timeouts: Timeouts; daemons: Daemon[] }> {
    const a = object(args ?? {}, "args");
    onlyKeys(a, ["services"], "args");
    return ctx.exclusive(() => stateLocked(a, ctx));
}

async function stateLocked(a: Record<string, unknown>, ctx: Context): Promise<{ services: ServiceState[]; timeouts: Timeouts; daemons: Daemon[] }> {
    const h = await ctx.ipvs();
    let services = await h.services();
    if (a.services !== undefined) {
        if (!Array.isArray(a.services)) fail("services", "must be a list of services");
        const wanted = new Set(a.services.map((k, i) => keyOf(serviceKey(k, `services[${i}]`))));
        services = services.filter((s) => wanted.has(keyOf(s)));
    }
    const out: ServiceState[] = [];
    for (const s of services) out.push({ ...s, realServers: await h.destinations(s) });
    return { services: out, timeouts: await h.timeouts(), daemons: await h.daemons() };
}

/** Zeroes the counters of one service, or of all. */
export async function zero(args: unknown, ctx: Context): Promise<Report> {
    const a = object(args ?? {}, "args");
    onlyKeys(a, ["service"], "args");
    const id = a.service === undefined ? undefined : serviceKey(a.service, "service");
    await ctx.exclusive(async () => (await ctx.ipvs()).zero(id));
    return { changed: true, actions: [id ? `zeroed the counters of service ${keyOf(id)}` : "zeroed the counters of every service"] };
}

/** The values of sysctls from the closed table. */
export async function sysctls(args: unknown): Promise<Record<string, host.SysctlValue>> {
    const a = object(args ?? {}, "args");
    onlyKeys(a, ["names"], "args");
    if (!Array.isArray(a.names)) fail("names", "must be a list of sysctl names");
    const out: Record<string, host.SysctlValue> = {};
    for (const [i, n] of a.names.entries()) {
        try { host.resolveSysctl(String(n)); } catch (e) { fail(`names[${i}]`, (e as Error).message); }
        out[n] = host.getSysctl(n);
    }
    return out;
}

/** The addresses of one interface, or of all. */
export async function addresses(args: unknown): Promise<host.InterfaceAddress[]> {
    const a = object(args ?? {}, "args");
    onlyKeys(a, ["interface"], "args");
    if (a.interface !== undefined) { const p = host.interfaceNameProblem(a.interface); if (p) fail("interface", p); }
    return host.listAddresses(a.interface as string | undefined);
}

/** What this node is: the kernel, its IPVS, schedulers and features. */
export async function probe(): Promise<host.HostProbe> {
    return host.probe();
}

/**
 * Drains a real server and removes it: weight 0 (no new connections), then waits until its active
 * connections end or the deadline passes, then deletes it. The lock is held only while writing.
 */
export async function drain(args: unknown, ctx: Context): Promise<Report & { waitedSeconds: number; activeConnections: number }> {
    const a = object(args, "args");
    onlyKeys(a, ["service", "realServer", "timeoutSeconds"], "args");
    const service = serviceKey(a.service, "service");
    const id = realServerKey(a.realServer, service, "realServer");
    const timeout = a.timeoutSeconds ?? 300;
    if (!Number.isInteger(timeout) || (timeout as number) < 0 || (timeout as number) > 86400)
        fail("timeoutSeconds", `${JSON.stringify(timeout)} is not a drain deadline: whole seconds from 0 to 86400`);
    const h = await ctx.ipvs();
    const name = rsName(service, id);
    const find = async () => (await h.service(service)) ? (await h.destinations(service)).find((d) => rsKey(d) === rsKey(id)) : undefined;
    const actions: string[] = [];
    const first = await ctx.exclusive(async () => {
        const live = await find();
        if (live && live.weight !== 0) {
            await h.updateDestination(service, { ...liveRealServer(live), weight: 0 });
            actions.push(`set weight of ${name} ${live.weight} -> 0 (draining)`);
        }
        return live;
    });
    if (!first) return { changed: false, actions, waitedSeconds: 0, activeConnections: 0 };
    const start = Date.now();
    let active = first.activeConns ?? 0;
    while (active > 0 && Date.now() - start < (timeout as number) * 1000) {
        await new Promise((r) => setTimeout(r, 500));
        active = (await find())?.activeConns ?? 0;
    }
    const waitedSeconds = Math.round((Date.now() - start) / 100) / 10;
    await ctx.exclusive(async () => {
        if (await find()) {
            await h.deleteDestination(service, id);
            actions.push(`deleted ${name} after ${waitedSeconds} s with ${active} active connection${active === 1 ? "" : "s"} left`);
        }
    });
    return { changed: actions.length > 0, actions, waitedSeconds, activeConnections: active };
}
