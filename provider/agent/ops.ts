// The agent's closed set of operations. Every write reconciles against the kernel: read, compare,
// apply only the difference, read back. A request with several changes applies all or none of them.
import * as ipvs from "./ipvs";
import type { IpvsHandle, RealServer, VirtualService, VirtualServiceId, Timeouts, Daemon, SyncState } from "./ipvs";
import * as host from "./host";
import * as model from "../model";
import * as desired from "./desired";
import type { Desired } from "./desired";
import { AgentError, Report } from "../model/protocol";
import type { ServiceState } from "../model/protocol";

export interface Context {
    ipvs(): Promise<IpvsHandle>;
    /** Runs `fn` holding the node's lock, so agents never interleave half-applied changes. */
    exclusive<T>(fn: () => Promise<T>): Promise<T>;
    /** Where the node keeps what was last applied (desired.ts), and the agent file its restore unit runs. */
    stateDir: string;
    agentFile: string;
}

export type { Change } from "../model/protocol";

// ------------------------------------------------------------------------------------------------
// Validation: every request is checked in full before anything on the node is touched.

function fail(field: string, reason: string): never {
    throw new AgentError(`${field}: ${reason}`, field);
}

function object(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(field, `${model.show(v)} is not an object`);
    return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], field: string): void {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${field}.${k}`, `unknown field (allowed: ${allowed.join(", ")})`);
}

function failures(fs: model.Failure[], field: string): void {
    if (fs.length) fail(`${field}.${fs[0].property}`, fs.map((f) => `${f.property}: ${f.reason}`).join("; "));
}

const keyFields: string[] = [...model.serviceKeyFields];
const serviceFields: string[] = [...keyFields, ...model.serviceSettingFields];
const realServerFields: string[] = ["address", "port", ...model.realServerSettingFields];
const daemonFields: string[] = ["state", ...model.syncFieldNames.map((f) => model.syncDaemonAttributes[f].kernel)];

function serviceKey(v: unknown, field: string): VirtualServiceId {
    const o = object(v, field);
    onlyKeys(o, keyFields, field);
    const k = o as model.ServiceKey;
    failures(model.validateServiceKey(k), field);
    return model.serviceId(k);
}

/** A real server named for a delete or a drain: its address and port (any family and forwarding: the
 * kernel finds it by those). */
function realServerKey(v: unknown, service: VirtualServiceId, field: string): ipvs.RealServerId {
    const o = object(v, field);
    onlyKeys(o, ["address", "port"], field);
    if (typeof o.address !== "string" || !model.familyOf(o.address)) fail(`${field}.address`, `${model.show(o.address)} is not an IPv4 or IPv6 address`);
    if (o.port !== undefined && !(Number.isInteger(o.port) && (o.port as number) >= 0 && (o.port as number) <= 65535))
        fail(`${field}.port`, `${model.show(o.port)} is not a port: an integer from 0 to 65535`);
    return model.normalizeRealServer({ address: o.address, port: o.port as number | undefined }, service);
}

/** Who declares an object (a resource's own name): it stays while any holder is left. */
function holder(v: unknown, field: string): string {
    if (v === undefined) return desired.unnamedHolder;
    if (typeof v !== "string" || !/^[\w./:-]{1,200}$/.test(v)) fail(field, `${model.show(v)} is not a holder: 1 to 200 letters, digits and . / : _ -`);
    return v;
}

type Step = { holder?: string } & (
    | { kind: "service"; want: VirtualService; adopt: boolean }
    | { kind: "deleteService"; id: VirtualServiceId }
    | { kind: "realServer"; service: VirtualServiceId; want: RealServer; adopt: boolean }
    | { kind: "deleteRealServer"; service: VirtualServiceId; id: ipvs.RealServerId }
    | { kind: "timeouts"; want: Partial<Timeouts> }
    | { kind: "startDaemon"; want: Daemon }
    | { kind: "stopDaemon"; state: SyncState }
    | { kind: "sysctl"; name: string; value: host.SysctlValue }
    | { kind: "restore"; name: string }
    | { kind: "address" | "deleteAddress"; address: string; iface: string; prefixLength: number }
    | { kind: "module" | "deleteModule"; name: string }
    | { kind: "renameHolder"; from: string; to: string });

function step(v: unknown, field: string): Step {
    const c = object(v, field);
    const h = holder(c.holder, `${field}.holder`);
    const { holder: _, ...rest } = c;
    return { ...changeStep(rest, field), holder: h };
}

function changeStep(c: Record<string, unknown>, field: string): Step {
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
        const bad = model.validateTimeouts(t);
        if (bad.length) fail(`${field}.${bad[0].property}`, bad[0].reason);
        return { kind: "timeouts", want: t as Partial<Timeouts> };
    }
    if ("startDaemon" in c) {
        onlyKeys(c, ["startDaemon"], field);
        const d = object(c.startDaemon, `${field}.startDaemon`);
        onlyKeys(d, daemonFields, `${field}.startDaemon`);
        failures(model.validateDaemon(d as unknown as Daemon), `${field}.startDaemon`);
        return { kind: "startDaemon", want: d as unknown as Daemon };
    }
    if ("stopDaemon" in c) {
        onlyKeys(c, ["stopDaemon"], field);
        if (c.stopDaemon !== "master" && c.stopDaemon !== "backup") fail(`${field}.stopDaemon`, `${model.show(c.stopDaemon)} is not a sync daemon state: use "master" or "backup"`);
        return { kind: "stopDaemon", state: c.stopDaemon };
    }
    if ("sysctl" in c) {
        onlyKeys(c, ["sysctl", "value"], field);
        const name = String(c.sysctl);
        const problem = host.sysctlProblem(name, c.value);
        if (problem) fail(`${field}.sysctl`, problem);
        return { kind: "sysctl", name, value: c.value as host.SysctlValue };
    }
    if ("restore" in c) {
        onlyKeys(c, ["restore"], field);
        const name = String(c.restore);
        if (name !== "timeouts") try { host.resolveSysctl(name); } catch (e) { fail(`${field}.restore`, (e as Error).message); }
        return { kind: "restore", name };
    }
    if ("address" in c || "deleteAddress" in c) {
        const kind = "address" in c ? "address" : "deleteAddress";
        onlyKeys(c, [kind, "interface", "prefixLength"], field);
        const bad = model.validateHostAddress({ address: c[kind], interface: c.interface, prefixLength: c.prefixLength }, field);
        if (bad.length) fail(bad[0].property.replace(/\.address$/, `.${kind}`), bad[0].reason);
        const address = c[kind] as string;
        const prefixLength = (c.prefixLength as number | undefined) ?? (model.familyOf(address) === "inet" ? 32 : 128);
        return { kind, address: model.canonicalAddress(address), iface: c.interface as string, prefixLength };
    }
    if ("renameHolder" in c) { // a resource renamed with aliases: its holds go to its new name
        onlyKeys(c, ["renameHolder", "to"], field);
        return { kind: "renameHolder", from: holder(c.renameHolder, `${field}.renameHolder`), to: holder(c.to, `${field}.to`) };
    }
    if ("module" in c || "deleteModule" in c) {
        const kind = "module" in c ? "module" : "deleteModule";
        onlyKeys(c, [kind], field);
        const problem = host.moduleProblem(c[kind]);
        if (problem) fail(`${field}.${kind}`, problem);
        return { kind, name: c[kind] as string };
    }
    return fail(field, `not a change: give one of service, deleteService, realServer (with service), deleteRealServer (with service), ` +
        `timeouts, startDaemon, stopDaemon, sysctl (with value), restore (a sysctl or "timeouts": back to what was found before ` +
        `the first change), address or deleteAddress (with interface), module or deleteModule (drops the hold; a module is never unloaded), renameHolder (with to); ` +
        `each may name its holder`);
}

// ------------------------------------------------------------------------------------------------
// Comparison: what differs between a declared object and the kernel's, in words.

const { serviceDiff, realServerDiff } = model;

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
    /** Records what the plan leaves: a new service starts with no real servers. */
    setService(id: VirtualServiceId, s: VirtualService | undefined): void {
        const key = keyOf(id);
        if (s && !this.services!.has(key)) this.dests.set(key, new Map());
        if (s) this.services!.set(key, s); else { this.services!.delete(key); this.dests.delete(key); }
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
// apply: plan from one read of the table, write the difference in one pipelined batch, read back once.

type Undo = ipvs.IpvsWrite | (() => Promise<void>);
/** One write of the plan: to the table (batched) or to the host, how to undo it (made only when
 * needed), what to report. */
interface Planned {
    ipvs?: ipvs.IpvsWrite;
    host?: () => Promise<void>;
    undo: () => Undo[];
    action?: string;
}
/** What must read back after writing: every declared service (one dump), and the real servers that
 * carry what an older kernel silently drops (tunnel type, port, checksum; a family other than the
 * service's): weight, method and thresholds are understood by every kernel with IPVS netlink. */
class Expected {
    services = new Map<string, VirtualService>();
    realServers = new Map<string, { service: VirtualServiceId; want: Map<string, RealServer> }>();
}

export async function apply(args: unknown, ctx: Context): Promise<Report> {
    const a = object(args, "args");
    onlyKeys(a, ["changes"], "args");
    if (!Array.isArray(a.changes)) fail("changes", "must be a list of changes");
    return applySteps(a.changes.map((c, i) => step(c, `changes[${i}]`)), ctx);
}

/**
 * Plans, writes, reads back and records the steps on the node's disk, all or nothing. The record goes
 * ahead of the kernel: before the first write it names every object of the record before and after
 * the change (marked pending), and once the kernel has the change it is the record after it; on a
 * failure, the record before. An agent killed anywhere in between leaves nothing in the kernel that the
 * record does not name.
 */
async function applySteps(steps: Step[], ctx: Context, restoring = false): Promise<Report> {
    return ctx.exclusive(async () => {
        const h = await ctx.ipvs();
        const before = desired.load(ctx.stateDir);
        // What the request leaves is a confirmed record (before may be one an agent killed mid-change left pending).
        const { pending: _, ...confirmed } = structuredClone(before);
        const p: Planner = { h, table: new Table(h), plan: [], expected: new Expected(), next: confirmed, restoring, warnings: [], kept: [] };
        const record = (d: Desired) => {
            try { desired.save(ctx.stateDir, d, ctx.agentFile); return undefined; } catch (e) {
                return new AgentError(`could not record what was applied in ${ctx.stateDir}, which a reboot restores from: ${(e as Error).message}`, "state");
            }
        };
        // Modules first (never undone): a sysctl of the interface a module makes (tunl0) is planned after.
        // A step refused while planning (a holder with other settings, say) is a failure like any other:
        // the record goes back to what it was.
        const planAll = async (these: Step[]) => {
            try { for (const s of these) await planStep(s, p); return undefined; } catch (e) { return e as Error; }
        };
        const loaded: Planned[] = [];
        let failure = await planAll(steps.filter((s) => s.kind === "module"));
        const ahead = () => (JSON.stringify(p.next) !== JSON.stringify(before) ? record(desired.inFlight(before, p.next)) : undefined);
        if (!failure && p.plan.length) failure = ahead();
        if (!failure) failure = await execute(h, p.plan.splice(0), loaded);
        if (!failure) failure = await planAll(steps.filter((s) => s.kind !== "module"));
        const done: Planned[] = [...loaded];
        if (!failure) failure = ahead();
        if (!failure) failure = await execute(h, p.plan, done);
        if (!failure) failure = await readBack(h, p.expected).then(() => undefined, (e) => e as Error);
        if (!failure && JSON.stringify(p.next) !== JSON.stringify(before)) failure = record(p.next);
        if (failure) {
            const notes = await rollback(h, done);
            // The record goes back with the kernel (if it was written ahead); if even that fails, the
            // pending record still names everything.
            try { if (desired.load(ctx.stateDir).pending) record(before); } catch { record(before); }
            const note = done.length ? ` (rolled back ${done.length} change${done.length > 1 ? "s" : ""} of this request${notes.length ? `; ${notes.join("; ")}` : ""})` : "";
            const code = (failure as { code?: string }).code;
            throw new AgentError(failure.message + note, (failure as AgentError).field, code);
        }
        const actions = done.flatMap((p) => (p.action ? [p.action] : []));
        return { changed: actions.length > 0, actions, ...(p.warnings.length ? { warnings: p.warnings } : {}), ...(p.kept.length ? { kept: p.kept } : {}) };
    });
}

/** Runs the plan in order, table writes in pipelined batches; returns the first failure, if any.
 * Every write that succeeded (even after a failed one in the same batch) is in `done`. */
async function execute(h: IpvsHandle, plan: Planned[], done: Planned[]): Promise<Error | undefined> {
    let failure: Error | undefined;
    for (let i = 0; i < plan.length && !failure;) {
        if (plan[i].ipvs) {
            let j = i;
            while (j < plan.length && plan[j].ipvs) j++;
            const batch = plan.slice(i, j);
            const results = await h.writeAll(batch.map((p) => p.ipvs!));
            results.forEach((r, k) => (r ? (failure ??= r) : done.push(batch[k])));
            i = j;
        } else {
            try { await plan[i].host!(); done.push(plan[i]); } catch (e) { failure = e as Error; }
            i++;
        }
    }
    return failure;
}

/** Undoes what was done, newest first; says what could not be undone. */
async function rollback(h: IpvsHandle, done: Planned[]): Promise<string[]> {
    const undo = done.reverse().flatMap((p) => p.undo());
    const notes: string[] = [];
    for (let i = 0; i < undo.length;) {
        const u = undo[i];
        if (typeof u === "function") {
            await u().catch((e) => notes.push(`could not undo: ${(e as Error).message}`));
            i++;
            continue;
        }
        let j = i;
        while (j < undo.length && typeof undo[j] !== "function") j++;
        const results = await h.writeAll(undo.slice(i, j) as ipvs.IpvsWrite[]);
        for (const r of results) if (r) notes.push(`could not undo: ${r.message}`);
        i = j;
    }
    return notes;
}

/** Reads back every declared object once (one dump of services, one of each service's real servers). */
async function readBack(h: IpvsHandle, expected: Expected): Promise<void> {
    if (!expected.services.size && !expected.realServers.size) return;
    const live = new Map((await h.services()).map((s) => [keyOf(s), s]));
    for (const [key, want] of expected.services) {
        const back = live.get(key);
        const diff = back ? serviceDiff(want, back) : ["missing"];
        if (diff.length) throw new AgentError(`service ${key}: the kernel did not keep what was written (${diff.join(", ")}); it may be too old for a setting`, "service");
    }
    for (const [key, { service, want }] of expected.realServers) {
        if (!live.has(key)) continue;
        const backs = new Map((await h.destinations(service)).map((d) => [rsKey(d), d]));
        for (const [k, w] of want) {
            const back = backs.get(k);
            const diff = back ? realServerDiff(w, back) : ["missing"];
            if (diff.length) throw new AgentError(`${rsName(service, w)}: the kernel did not keep what was written (${diff.join(", ")}); it may be too old for a setting`, "realServer");
        }
    }
}

function expectRealServer(expected: Expected, service: VirtualServiceId, want: RealServer): void {
    const droppable = want.forwarding === "tun" && (want.tunnelType !== "ipip" || want.tunnelPort || want.tunnelFlags) ||
        want.addressFamily !== service.family;
    if (!droppable) return;
    const key = keyOf(service);
    let e = expected.realServers.get(key);
    if (!e) expected.realServers.set(key, (e = { service, want: new Map() }));
    e.want.set(rsKey(want), want);
}

/** A request being planned: the table as earlier steps leave it, the writes so far, what to read back,
 * what the node will have applied once they are written (recorded on its disk), and what to tell the
 * caller besides the changes. At boot (`restoring`) the record's holders are left as they are. */
interface Planner {
    h: IpvsHandle;
    table: Table;
    plan: Planned[];
    expected: Expected;
    next: Desired;
    restoring: boolean;
    warnings: string[];
    kept: string[];
}

function planTimeouts(want: Partial<Timeouts>, live: Timeouts, plan: Planned[]): void {
    const diff = (Object.keys(want) as Array<keyof Timeouts>).filter((k) => want[k] !== live[k]);
    if (diff.length) plan.push({ ipvs: ipvs.writes.setTimeouts(want), undo: () => [ipvs.writes.setTimeouts(live)],
        action: `set timeouts ${diff.map((k) => `${k} ${live[k]} -> ${want[k]}`).join(", ")}` });
}

const { sysctlText } = model;

function planSysctl(name: string, live: host.SysctlValue, value: host.SysctlValue, plan: Planned[]): void {
    if (sysctlText(live) !== sysctlText(value)) plan.push({ host: async () => { host.setSysctl(name, value); }, undo: () => [async () => { host.setSysctl(name, live); }],
        action: `set ${name} ${sysctlText(live)} -> ${sysctlText(value)}` });
}

/** What differs between two declarations of one object, in words ("weight 1 -> 2"), by field. */
function fieldsDiff(theirs: Record<string, unknown> | undefined, ours: Record<string, unknown>): string[] {
    if (!theirs) return [];
    const keys = [...new Set([...Object.keys(theirs), ...Object.keys(ours)])].sort();
    return keys.filter((k) => JSON.stringify(theirs[k]) !== JSON.stringify(ours[k]))
        .map((k) => `${k} ${theirs[k] === undefined ? "unset" : JSON.stringify(theirs[k])} -> ${ours[k] === undefined ? "unset" : JSON.stringify(ours[k])}`);
}

/**
 * Takes `holder`'s hold of the object `name`: refused (naming them) when other holders declared it with
 * other settings (`diff`: theirs -> ours, empty when they agree). Returns who else holds it, and whether
 * the record had it at all (an object in the kernel that the record lacks was made by someone else).
 */
function hold(p: Planner, name: string, holder: string | undefined, diff: string[], field: string): { others: string[]; recorded: boolean } {
    const holders = p.next.holders[name] ?? [];
    const others = holders.filter((h) => h !== holder);
    if (p.restoring || holder === undefined) return { others, recorded: holders.length > 0 };
    if (others.length && diff.length)
        throw new AgentError(`${name} is held by ${others.join(", ")}, which declared it with other settings (${diff.join(", ")} here); ` +
            `two resources cannot declare one object differently: give them the same settings, or remove one of them`, field, "EBUSY");
    p.next.holders[name] = [...others, holder];
    return { others, recorded: holders.length > 0 };
}

/** Drops `holder`'s hold of `name`: true when no holder is left, so the object goes. */
function release(p: Planner, name: string, holder: string | undefined): boolean {
    if (p.restoring || holder === undefined) return true;
    const others = (p.next.holders[name] ?? []).filter((h) => h !== holder);
    if (others.length) {
        p.next.holders[name] = others;
        p.kept.push(`kept ${name}: still held by ${others.join(", ")}`);
        return false;
    }
    delete p.next.holders[name];
    return true;
}

const O = desired.objectName;
const { daemonSettings, realServerSettings } = model;
const serviceSettings = (v: VirtualService): Record<string, unknown> => ({ ...v });

/** Decides the writes of one step from what the table holds (as earlier steps of the plan leave it). */
async function planStep(s: Step, p: Planner): Promise<void> {
    const { h, table, plan, expected, next } = p;
    const W = ipvs.writes;
    switch (s.kind) {
        case "service": {
            const key = keyOf(s.want);
            const name = `service ${key}`;
            const { others, recorded } = hold(p, O.service(key), s.holder,
                fieldsDiff(next.services[key] && serviceSettings(next.services[key].service), serviceSettings(s.want)), "service");
            const live = await table.service(s.want);
            next.services[key] = { service: s.want, realServers: next.services[key]?.realServers ?? {} };
            if (!live) {
                plan.push({ ipvs: W.addService(s.want), undo: () => [W.deleteService(s.want)], action: `added ${name}` });
            } else {
                const diff = serviceDiff(s.want, live);
                if (!recorded && !p.restoring) p.warnings.push(`took over ${name}, which pulumi-lvs had not made (it was not in this node's record)` +
                    (diff.length ? `, converging it (${diff.join(", ")})` : ""));
                if (diff.length) {
                    if (!s.adopt && !others.length) throw new AgentError(`${name} already exists with other settings (${diff.join(", ")}); ` +
                        `set adopt to take it over and converge it, or remove it from the director`, "service", "EEXIST");
                    plan.push({ ipvs: W.updateService(s.want), undo: () => [W.updateService(liveService(live))], action: `updated ${name}: ${diff.join(", ")}` });
                }
            }
            table.setService(s.want, s.want);
            expected.services.set(key, s.want);
            return;
        }
        case "deleteService": {
            const key = keyOf(s.id);
            if (!release(p, O.service(key), s.holder)) return;
            // Its real servers go with it, in the kernel and in the record.
            for (const r of Object.keys(next.services[key]?.realServers ?? {})) delete next.holders[O.realServer(key, r)];
            delete next.services[key];
            const live = await table.service(s.id);
            if (!live) return;
            const dests = [...(await table.realServers(s.id)).values()];
            plan.push({ ipvs: W.deleteService(s.id), undo: () => [W.addService(liveService(live)), ...dests.map((d) => W.addDestination(s.id, liveRealServer(d)))],
                action: `deleted service ${key}${dests.length ? ` and its ${dests.length} real server${dests.length > 1 ? "s" : ""}` : ""}` });
            table.setService(s.id, undefined);
            expected.services.delete(key);
            expected.realServers.delete(key);
            return;
        }
        case "realServer": {
            const key = keyOf(s.service);
            const service = await table.service(s.service);
            if (!service) throw new AgentError(`service ${key} does not exist on this director: create it first`, "service", "ESRCH");
            const name = rsName(s.service, s.want);
            const recordedRs = next.services[key]?.realServers[rsKey(s.want)];
            const { others, recorded } = hold(p, O.realServer(key, rsKey(s.want)), s.holder,
                fieldsDiff(recordedRs && realServerSettings(recordedRs), realServerSettings(s.want)), "realServer");
            const m = await table.realServers(s.service);
            const live = m.get(rsKey(s.want));
            (next.services[key] ??= { service: liveService(service), realServers: {} }).realServers[rsKey(s.want)] = s.want;
            if (!live) {
                plan.push({ ipvs: W.addDestination(s.service, s.want), undo: () => [W.deleteDestination(s.service, s.want)], action: `added ${name}` });
            } else {
                const diff = realServerDiff(s.want, live);
                if (!recorded && !p.restoring) p.warnings.push(`took over ${name}, which pulumi-lvs had not made (it was not in this node's record)` +
                    (diff.length ? `, converging it (${diff.join(", ")})` : ""));
                if (diff.length) {
                    if (!s.adopt && !others.length) throw new AgentError(`${name} already exists with other settings (${diff.join(", ")}); ` +
                        `set adopt to take it over and converge it, or remove it from the director`, "realServer", "EEXIST");
                    plan.push({ ipvs: W.updateDestination(s.service, s.want), undo: () => [W.updateDestination(s.service, liveRealServer(live))], action: `updated ${name}: ${diff.join(", ")}` });
                }
            }
            m.set(rsKey(s.want), s.want);
            expectRealServer(expected, s.service, s.want);
            return;
        }
        case "deleteRealServer": {
            const key = keyOf(s.service);
            if (!release(p, O.realServer(key, rsKey(s.id)), s.holder)) return;
            delete next.services[key]?.realServers[rsKey(s.id)];
            if (!(await table.service(s.service))) return;
            const m = await table.realServers(s.service);
            const live = m.get(rsKey(s.id));
            if (!live) return;
            plan.push({ ipvs: W.deleteDestination(s.service, s.id), undo: () => [W.addDestination(s.service, liveRealServer(live))], action: `deleted ${rsName(s.service, s.id)}` });
            m.delete(rsKey(s.id));
            expected.realServers.get(key)?.want.delete(rsKey(s.id));
            return;
        }
        case "timeouts": {
            hold(p, O.timeouts(), s.holder, fieldsDiff(next.timeouts, s.want), "timeouts");
            const live = await h.timeouts();
            next.found.timeouts ??= live;
            next.timeouts = { ...next.timeouts, ...s.want };
            planTimeouts(s.want, live, plan);
            return;
        }
        case "startDaemon": {
            const recordedDaemon = next.daemons[s.want.state];
            hold(p, O.daemon(s.want.state), s.holder, fieldsDiff(recordedDaemon && daemonSettings(recordedDaemon), daemonSettings(s.want)), "startDaemon");
            next.daemons[s.want.state] = s.want;
            const live = (await h.daemons()).find((d) => d.state === s.want.state);
            const diff = live ? model.daemonDiff(s.want, live) : [];
            if (live && !diff.length) return;
            if (live) plan.push({ ipvs: W.stopDaemon(live.state), undo: () => [W.startDaemon(live)] });
            plan.push({ ipvs: W.startDaemon(s.want), undo: () => [W.stopDaemon(s.want.state)],
                action: live ? `restarted ${s.want.state} sync daemon: ${diff.join(", ")}` : `started ${s.want.state} sync daemon on ${s.want.mcastInterface} syncid ${s.want.syncId}` });
            return;
        }
        case "stopDaemon": {
            if (!release(p, O.daemon(s.state), s.holder)) return;
            delete next.daemons[s.state];
            const live = (await h.daemons()).find((d) => d.state === s.state);
            if (!live) return;
            plan.push({ ipvs: W.stopDaemon(s.state), undo: () => [W.startDaemon(live)], action: `stopped ${s.state} sync daemon` });
            return;
        }
        case "sysctl": {
            const recordedValue = next.sysctls[s.name];
            hold(p, O.sysctl(s.name), s.holder, recordedValue === undefined || sysctlText(recordedValue) === sysctlText(s.value) ? []
                : [`${sysctlText(recordedValue)} -> ${sysctlText(s.value)}`], "sysctl");
            const before = host.getSysctl(s.name);
            next.found[s.name] ??= before;
            next.sysctls[s.name] = s.value;
            planSysctl(s.name, before, s.value, plan);
            return;
        }
        case "restore": { // back to what was found before the first change (once no holder is left); the node forgets both
            const timeouts = s.name === "timeouts";
            if (!release(p, timeouts ? O.timeouts() : O.sysctl(s.name), s.holder)) return;
            const found = next.found[s.name];
            delete next.found[s.name];
            if (timeouts) {
                delete next.timeouts;
                if (found) planTimeouts(found as Timeouts, await h.timeouts(), plan);
            } else {
                delete next.sysctls[s.name];
                if (found !== undefined) planSysctl(s.name, host.getSysctl(s.name), found as host.SysctlValue, plan);
            }
            return;
        }
        case "address":
        case "deleteAddress": {
            const key = desired.addressKey(s);
            const name = `${s.address}/${s.prefixLength} on ${s.iface}`;
            if (s.kind === "address") hold(p, O.address(key), s.holder, [], "address");
            else if (!release(p, O.address(key), s.holder)) return;
            const present = (await host.listAddresses(s.iface))
                .some((a) => model.canonicalAddress(a.address) === s.address && a.prefixLength === s.prefixLength);
            if (s.kind === "address") next.addresses[key] = { address: s.address, iface: s.iface, prefixLength: s.prefixLength };
            else delete next.addresses[key];
            const add = () => host.addAddress(s.iface, s.address, s.prefixLength);
            const del = () => host.deleteAddress(s.iface, s.address, s.prefixLength);
            if (s.kind === "deleteAddress") {
                if (present) plan.push({ host: del, undo: () => [add], action: `deleted address ${name}` });
            } else if (!present) {
                plan.push({ host: add, undo: () => [del], action: `added address ${name}` });
            } else if (!(await host.getLink(s.iface)).up) {
                plan.push({ host: () => host.setLinkUp(s.iface), undo: () => [], action: `set ${s.iface} up` });
            }
            return;
        }
        case "module": {
            hold(p, O.module(s.name), s.holder, [], "module");
            if (!next.modules.includes(s.name)) next.modules.push(s.name);
            if (["loaded", "builtin"].includes(host.moduleState(s.name))) return;
            plan.push({ host: async () => { await host.loadModule(s.name); }, undo: () => [], action: `loaded module ${s.name}` });
            return;
        }
        case "renameHolder": {
            if (p.restoring) return;
            for (const [name, holders] of Object.entries(next.holders))
                if (holders.includes(s.from)) next.holders[name] = [...new Set(holders.map((x) => (x === s.from ? s.to : x)))];
            return;
        }
        case "deleteModule": { // never unloaded (an interface it made, tunl0, may be in use); a reboot no longer loads it
            if (release(p, O.module(s.name), s.holder)) next.modules = next.modules.filter((m) => m !== s.name);
            return;
        }
    }
}

// ------------------------------------------------------------------------------------------------
// restore: what the node last applied, put back (at boot, by the restore unit).

function restoreSteps(d: Desired): Step[] {
    return [
        ...d.modules.map((name): Step => ({ kind: "module", name })),
        ...Object.entries(d.sysctls).map(([name, value]): Step => ({ kind: "sysctl", name, value })),
        ...Object.values(d.addresses).map((a): Step => ({ kind: "address", ...a })),
        ...(d.timeouts ? [{ kind: "timeouts", want: d.timeouts } as Step] : []),
        ...Object.values(d.daemons).map((want): Step => ({ kind: "startDaemon", want: want! })),
        ...Object.values(d.services).flatMap(({ service, realServers }): Step[] => [
            { kind: "service", want: service, adopt: true },
            ...Object.values(realServers).map((want): Step => ({ kind: "realServer", service, want, adopt: true })),
        ]),
    ];
}

/** Puts back everything last applied in one request; if that fails, each change alone, so that one
 * which no longer applies (an interface that is gone) does not hold back the rest. */
export async function restore(ctx: Context): Promise<Report & { failed: string[] }> {
    const steps = restoreSteps(desired.load(ctx.stateDir));
    try {
        return { ...(await applySteps(steps, ctx, true)), failed: [] };
    } catch { /* one at a time, below */ }
    const actions: string[] = [], failed: string[] = [];
    for (const s of steps) await applySteps([s], ctx, true).then((r) => actions.push(...r.actions), (e) => failed.push((e as Error).message));
    return { changed: actions.length > 0, actions, failed };
}

// ------------------------------------------------------------------------------------------------
// Reads

export type { ServiceState };

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

/** What this node is: the kernel, its IPVS, schedulers and features; and, when the node's record of what
 * pulumi-lvs applied cannot be read, why (refresh reports it). */
export async function probe(ctx: Pick<Context, "stateDir">): Promise<host.HostProbe & { recordProblem?: string }> {
    const recordProblem = desired.problem(ctx.stateDir);
    return { ...(await host.probe()), ...(recordProblem ? { recordProblem } : {}) };
}

/**
 * Drains a real server and removes it: weight 0 (no new connections), then waits until its active
 * connections end or the deadline passes, then deletes it. The lock is held only while writing.
 */
export async function drain(args: unknown, ctx: Context): Promise<Report & { waitedSeconds: number; activeConnections: number }> {
    const a = object(args, "args");
    onlyKeys(a, ["service", "realServer", "timeoutSeconds", "holder"], "args");
    const service = serviceKey(a.service, "service");
    const id = realServerKey(a.realServer, service, "realServer");
    const by = holder(a.holder, "holder");
    const remove = () => applySteps([{ kind: "deleteRealServer", service, id, holder: by }], ctx);
    const timeout = a.timeoutSeconds ?? model.defaultDrainTimeout;
    const bad = model.validateDrainTimeout(timeout, "timeoutSeconds");
    if (bad.length) fail(bad[0].property, bad[0].reason);
    const h = await ctx.ipvs();
    const name = rsName(service, id);
    const find = async () => (await h.service(service)) ? (await h.destinations(service)).find((d) => rsKey(d) === rsKey(id)) : undefined;
    const actions: string[] = [];
    // Held by another resource too: this one only lets go, and the real server keeps its weight.
    const first = await ctx.exclusive(async () => {
        const holders = desired.load(ctx.stateDir).holders[desired.objectName.realServer(keyOf(service), rsKey(id))] ?? [];
        if (holders.some((x) => x !== by)) return "held" as const;
        const live = await find();
        if (live && live.weight !== 0) {
            await h.updateDestination(service, { ...liveRealServer(live), weight: 0 });
            actions.push(`set weight of ${name} ${live.weight} -> 0 (draining)`);
        }
        return live;
    });
    if (first === "held" || !first) return { ...(await remove()), waitedSeconds: 0, activeConnections: 0 };
    const start = Date.now();
    let active = first.activeConns ?? 0;
    while (active > 0 && Date.now() - start < (timeout as number) * 1000) {
        await new Promise((r) => setTimeout(r, 500));
        active = (await find())?.activeConns ?? 0;
    }
    const waitedSeconds = Math.round((Date.now() - start) / 100) / 10;
    const deleted = await remove();
    if (deleted.changed) actions.push(`deleted ${name} after ${waitedSeconds} s with ${active} active connection${active === 1 ? "" : "s"} left`);
    return { changed: actions.length > 0, actions, waitedSeconds, activeConnections: active };
}
