// Planning a request: one function per kind of step decides its writes from the table as earlier steps
// leave it (each with how to undo it), takes or drops the step's hold on its object, and records what
// the node will have applied once the writes are done.
import * as model from "../../model";
import { AgentError } from "../../model/protocol";
import type { SysctlValue } from "../../model/sysctls";
import type { RealServer, Timeouts, VirtualService, VirtualServiceId } from "../../model";
import * as desired from "../desired";
import type { Desired } from "../desired";
import { serverUp, type HealthState } from "../health/state";
import { addAddress, deleteAddress, getLink, listAddresses, setLinkUp } from "../host/addresses";
import { loadModule, moduleState } from "../host/modules";
import { getSysctl, setSysctl } from "../host/sysctls";
import type { IpvsHandle } from "../ipvs/handle";
import { IpvsWrite, writes as W } from "../ipvs/requests";
import { lastState } from "../failover";
import { planDeleteFailover, planFailover } from "./plan-failover";
import { keyOf, liveRealServer, liveService, rsKey, rsName, Table } from "./table";
import type { Step } from "./validate";

export type Undo = IpvsWrite | (() => Promise<void>);
/** One write of the plan: to the table (batched) or to the host, how to undo it (made only when
 * needed), what to report. */
export interface Planned {
    ipvs?: IpvsWrite;
    host?: () => Promise<void>;
    undo: () => Undo[];
    action?: string;
}
/** What must read back after writing: every declared service (one dump), and the real servers that
 * carry what an older kernel silently drops (tunnel type, port, checksum; a family other than the
 * service's): weight, method and thresholds are understood by every kernel with IPVS netlink. */
export class Expected {
    services = new Map<string, VirtualService>();
    realServers = new Map<string, { service: VirtualServiceId; want: Map<string, RealServer> }>();
}

/** A request being planned: the table as earlier steps leave it, the writes so far, what to read back,
 * what the node will have applied once they are written (recorded on its disk), and what to tell the
 * caller besides the changes. At boot (`restoring`) the record's holders are left as they are. */
export interface Planner {
    h: IpvsHandle;
    table: Table;
    plan: Planned[];
    expected: Expected;
    next: Desired;
    /** What the health daemon knows (read once): a real server its check holds down stays down. */
    health: HealthState;
    restoring: boolean;
    /** The node's state directory (the record's, where keepalived's files are). */
    dir: string;
    warnings: string[];
    kept: string[];
}

function expectRealServer(expected: Expected, service: VirtualServiceId, want: RealServer): void {
    const droppable =
        want.forwarding === "tun" && (want.tunnelType !== "ipip" || want.tunnelPort || want.tunnelFlags) ||
        want.addressFamily !== service.family;
    if (!droppable) return;
    const key = keyOf(service);
    let e = expected.realServers.get(key);
    if (!e) expected.realServers.set(key, (e = { service, want: new Map() }));
    e.want.set(rsKey(want), want);
}

function planTimeouts(want: Partial<Timeouts>, live: Timeouts, plan: Planned[]): void {
    const diff = (Object.keys(want) as Array<keyof Timeouts>).filter((k) => want[k] !== live[k]);
    if (diff.length) plan.push({ ipvs: W.setTimeouts(want), undo: () => [W.setTimeouts(live)],
        action: `set timeouts ${diff.map((k) => `${k} ${live[k]} -> ${want[k]}`).join(", ")}` });
}

const { daemonSettings, realServerDiff, realServerSettings, serviceDiff, sysctlText } = model;

function planSysctl(name: string, live: SysctlValue, value: SysctlValue, plan: Planned[]): void {
    if (sysctlText(live) !== sysctlText(value)) plan.push({
        host: async () => { setSysctl(name, value); }, undo: () => [async () => { setSysctl(name, live); }],
        action: `set ${name} ${sysctlText(live)} -> ${sysctlText(value)}`,
    });
}

// ------------------------------------------------------------------------------------------------
// Holds: who declares each object (the record's holders).

/** What differs between two declarations of one object, in words ("weight 1 -> 2"), by field. */
function fieldsDiff(theirs: Record<string, unknown> | undefined, ours: Record<string, unknown>): string[] {
    if (!theirs) return [];
    const text = (v: unknown) => (v === undefined ? "unset" : JSON.stringify(v));
    return model.differingFields(theirs, ours).sort().map((k) => `${k} ${text(theirs[k])} -> ${text(ours[k])}`);
}

/**
 * Takes `holder`'s hold of the object `name`: refused (naming them) when other holders declared it with
 * other settings (`diff`: theirs -> ours, empty when they agree). Returns who else holds it, and whether
 * the record had it at all (an object in the kernel that the record lacks was made by someone else).
 */
export function hold(p: Planner, name: string, holder: string | undefined, diff: string[], field: string):
    { others: string[]; recorded: boolean } {
    const holders = p.next.holders[name] ?? [];
    const others = holders.filter((h) => h !== holder);
    if (p.restoring || holder === undefined) return { others, recorded: holders.length > 0 };
    if (others.length && diff.length)
        throw new AgentError(`${name} is held by ${others.join(", ")}, which declared it with other settings ` +
            `(${diff.join(", ")} here); two resources cannot declare one object differently: give them the same ` +
            "settings, or remove one of them", field, "EBUSY");
    p.next.holders[name] = [...others, holder];
    return { others, recorded: holders.length > 0 };
}

/** Drops `holder`'s hold of `name`: true when no holder is left, so the object goes. */
export function release(p: Planner, name: string, holder: string | undefined): boolean {
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

/** An object found in the kernel that the record lacks is taken over: the caller is told. */
function tookOver(p: Planner, name: string, recorded: boolean, diff: string[]): void {
    if (!recorded && !p.restoring)
        p.warnings.push(`took over ${name}, which pulumi-lvs had not made (it was not in this node's record)` +
            (diff.length ? `, converging it (${diff.join(", ")})` : ""));
}

function exists(name: string, diff: string[], field: string): AgentError {
    return new AgentError(`${name} already exists with other settings (${diff.join(", ")}); ` +
        "set adopt to take it over and converge it, or remove it from the director", field, "EEXIST");
}

// ------------------------------------------------------------------------------------------------
// One planner per kind of step

const O = desired.objectName;
const serviceSettings = (v: VirtualService, health: model.ServiceHealth | undefined): Record<string, unknown> =>
    ({ ...v, ...(health ? { health } : {}) });
const rsSettings = (r: RealServer, check: model.HealthCheck | undefined): Record<string, unknown> =>
    ({ ...realServerSettings(r), ...(check ? { healthCheck: check } : {}) });
export type StepOf<K extends Step["kind"]> = Step & { kind: K };

async function planService(s: StepOf<"service">, p: Planner): Promise<void> {
    const { table, plan, expected, next } = p;
    const key = keyOf(s.want);
    const name = `service ${key}`;
    const recordedService = next.services[key];
    const { others, recorded } = hold(p, O.service(key), s.holder,
        fieldsDiff(recordedService && serviceSettings(recordedService.service, recordedService.health),
            serviceSettings(s.want, s.health)), "service");
    const live = await table.service(s.want);
    const { health: _, ...rest } = recordedService ?? { realServers: {} };
    next.services[key] = { ...rest, service: s.want, ...(s.health ? { health: s.health } : {}) };
    if (!live) {
        plan.push({ ipvs: W.addService(s.want), undo: () => [W.deleteService(s.want)], action: `added ${name}` });
    } else {
        const diff = serviceDiff(s.want, live);
        tookOver(p, name, recorded, diff);
        if (diff.length) {
            if (!s.adopt && !others.length) throw exists(name, diff, "service");
            plan.push({ ipvs: W.updateService(s.want), undo: () => [W.updateService(liveService(live))],
                action: `updated ${name}: ${diff.join(", ")}` });
        }
    }
    table.setService(s.want, s.want);
    expected.services.set(key, s.want);
}

async function planDeleteService(s: StepOf<"deleteService">, p: Planner): Promise<void> {
    const { table, plan, expected, next } = p;
    const key = keyOf(s.id);
    if (!release(p, O.service(key), s.holder)) return;
    // Its real servers go with it, in the kernel and in the record.
    for (const r of Object.keys(next.services[key]?.realServers ?? {})) delete next.holders[O.realServer(key, r)];
    delete next.services[key];
    const live = await table.service(s.id);
    if (!live) return;
    const dests = [...(await table.realServers(s.id)).values()];
    const also = dests.length ? ` and its ${dests.length} real server${dests.length > 1 ? "s" : ""}` : "";
    plan.push({
        ipvs: W.deleteService(s.id),
        undo: () => [W.addService(liveService(live)), ...dests.map((d) => W.addDestination(s.id, liveRealServer(d)))],
        action: `deleted service ${key}${also}`,
    });
    table.setService(s.id, undefined);
    expected.services.delete(key);
    expected.realServers.delete(key);
}

async function planRealServer(s: StepOf<"realServer">, p: Planner): Promise<void> {
    const { table, plan, expected, next } = p;
    const key = keyOf(s.service);
    const service = await table.service(s.service);
    if (!service)
        throw new AgentError(`service ${key} does not exist on this director: create it first`, "service", "ESRCH");
    const name = rsName(s.service, s.want);
    const rk = rsKey(s.want);
    const entry = next.services[key] ??= { service: liveService(service), realServers: {} };
    const recordedRs = entry.realServers[rk];
    const { others, recorded } = hold(p, O.realServer(key, rk), s.holder,
        fieldsDiff(recordedRs && rsSettings(recordedRs, entry.checks?.[rk]), rsSettings(s.want, s.check)),
        "realServer");
    const m = await table.realServers(s.service);
    const live = m.get(rk);
    entry.realServers[rk] = s.want;
    if (s.check) (entry.checks ??= {})[rk] = s.check;
    else if (entry.checks) delete entry.checks[rk];
    // Declared again, it is no longer draining (but at boot: a drain cut short stays at weight 0 until the
    // next run deletes it); the kernel has it as its health allows.
    if (entry.draining && !p.restoring) entry.draining = entry.draining.filter((k) => k !== rk);
    const check = desired.checkOf(entry, rk);
    const want = model.effectiveRealServer(s.want, check, !check || serverUp(p.health, key, rk, check, s.want),
        entry.draining?.includes(rk));
    const held = want && want.weight !== s.want.weight
        ? ` (weight 0 while ${entry.draining?.includes(rk) ? "it drains" : "its health check holds it down"})` : "";
    if (!want) {
        // Its check holds it down and a failure removes it: out of the table until a check passes.
        if (live) plan.push({ ipvs: W.deleteDestination(s.service, live),
            undo: () => [W.addDestination(s.service, liveRealServer(live))],
            action: `deleted ${name}: its health check holds it down` });
        m.delete(rk);
        return;
    }
    if (!live) {
        plan.push({ ipvs: W.addDestination(s.service, want), undo: () => [W.deleteDestination(s.service, want)],
            action: `added ${name}${held}` });
    } else {
        const diff = realServerDiff(want, live);
        tookOver(p, name, recorded, diff);
        if (diff.length) {
            if (!s.adopt && !others.length) throw exists(name, diff, "realServer");
            plan.push({ ipvs: W.updateDestination(s.service, want),
                undo: () => [W.updateDestination(s.service, liveRealServer(live))],
                action: `updated ${name}: ${diff.join(", ")}${held}` });
        }
    }
    m.set(rsKey(want), want);
    expectRealServer(expected, s.service, want);
}

async function planDeleteRealServer(s: StepOf<"deleteRealServer">, p: Planner): Promise<void> {
    const { table, plan, expected, next } = p;
    const key = keyOf(s.service);
    if (!release(p, O.realServer(key, rsKey(s.id)), s.holder)) return;
    const entry = next.services[key];
    if (entry) {
        delete entry.realServers[rsKey(s.id)];
        if (entry.checks) delete entry.checks[rsKey(s.id)];
        if (entry.draining) entry.draining = entry.draining.filter((k) => k !== rsKey(s.id));
    }
    if (!(await table.service(s.service))) return;
    const m = await table.realServers(s.service);
    const live = m.get(rsKey(s.id));
    if (!live) return;
    plan.push({ ipvs: W.deleteDestination(s.service, s.id),
        undo: () => [W.addDestination(s.service, liveRealServer(live))],
        action: `deleted ${rsName(s.service, s.id)}` });
    m.delete(rsKey(s.id));
    expected.realServers.get(key)?.want.delete(rsKey(s.id));
}

async function planSetTimeouts(s: StepOf<"timeouts">, p: Planner): Promise<void> {
    const { h, plan, next } = p;
    hold(p, O.timeouts(), s.holder, fieldsDiff(next.timeouts, s.want), "timeouts");
    const live = await h.timeouts();
    next.found.timeouts ??= live;
    next.timeouts = { ...next.timeouts, ...s.want };
    planTimeouts(s.want, live, plan);
}

async function planStartDaemon(s: StepOf<"startDaemon">, p: Planner): Promise<void> {
    const { h, plan, next } = p;
    const recordedDaemon = next.daemons[s.want.state];
    hold(p, O.daemon(s.want.state), s.holder,
        fieldsDiff(recordedDaemon && daemonSettings(recordedDaemon), daemonSettings(s.want)), "startDaemon");
    next.daemons[s.want.state] = s.want;
    const live = (await h.daemons()).find((d) => d.state === s.want.state);
    // A failover that follows the VRRP state runs only the daemon of this director's state (keepalived's
    // notify switches them, plan-failover.ts followSync).
    if (next.failover?.syncDaemons === "follow" && s.want.state !== model.followedDaemon(lastState(p.dir).state)) {
        if (live) plan.push({ ipvs: W.stopDaemon(live.state), undo: () => [W.startDaemon(live)],
            action: `stopped ${live.state} sync daemon (it follows the VRRP state)` });
        return;
    }
    const diff = live ? model.daemonDiff(s.want, live) : [];
    if (live && !diff.length) return;
    if (live) plan.push({ ipvs: W.stopDaemon(live.state), undo: () => [W.startDaemon(live)] });
    plan.push({ ipvs: W.startDaemon(s.want), undo: () => [W.stopDaemon(s.want.state)],
        action: live ? `restarted ${s.want.state} sync daemon: ${diff.join(", ")}`
            : `started ${s.want.state} sync daemon on ${s.want.mcastInterface} syncid ${s.want.syncId}` });
}

async function planStopDaemon(s: StepOf<"stopDaemon">, p: Planner): Promise<void> {
    const { h, plan, next } = p;
    if (!release(p, O.daemon(s.state), s.holder)) return;
    delete next.daemons[s.state];
    const live = (await h.daemons()).find((d) => d.state === s.state);
    if (!live) return;
    plan.push({ ipvs: W.stopDaemon(s.state), undo: () => [W.startDaemon(live)],
        action: `stopped ${s.state} sync daemon` });
}

function planSetSysctl(s: StepOf<"sysctl">, p: Planner): void {
    const { plan, next } = p;
    const recordedValue = next.sysctls[s.name];
    hold(p, O.sysctl(s.name), s.holder,
        recordedValue === undefined || sysctlText(recordedValue) === sysctlText(s.value) ? []
            : [`${sysctlText(recordedValue)} -> ${sysctlText(s.value)}`], "sysctl");
    const before = getSysctl(s.name);
    next.found[s.name] ??= before;
    next.sysctls[s.name] = s.value;
    planSysctl(s.name, before, s.value, plan);
}

/** Back to what was found before the first change (once no holder is left); the node forgets both. */
async function planRestore(s: StepOf<"restore">, p: Planner): Promise<void> {
    const { h, plan, next } = p;
    const timeouts = s.name === "timeouts";
    if (!release(p, timeouts ? O.timeouts() : O.sysctl(s.name), s.holder)) return;
    const found = next.found[s.name];
    delete next.found[s.name];
    if (timeouts) {
        delete next.timeouts;
        if (found) planTimeouts(found as Timeouts, await h.timeouts(), plan);
    } else {
        delete next.sysctls[s.name];
        if (found !== undefined) planSysctl(s.name, getSysctl(s.name), found as SysctlValue, plan);
    }
}

async function planAddress(s: StepOf<"address" | "deleteAddress">, p: Planner): Promise<void> {
    const { plan, next } = p;
    const key = desired.addressKey(s);
    const name = `${s.address}/${s.prefixLength} on ${s.iface}`;
    if (s.kind === "address") hold(p, O.address(key), s.holder, [], "address");
    else if (!release(p, O.address(key), s.holder)) return;
    const present = (await listAddresses(s.iface))
        .some((a) => model.canonicalAddress(a.address) === s.address && a.prefixLength === s.prefixLength);
    if (s.kind === "address")
        next.addresses[key] = { address: s.address, iface: s.iface, prefixLength: s.prefixLength };
    else delete next.addresses[key];
    const add = () => addAddress(s.iface, s.address, s.prefixLength);
    const del = () => deleteAddress(s.iface, s.address, s.prefixLength);
    if (s.kind === "deleteAddress") {
        if (present) plan.push({ host: del, undo: () => [add], action: `deleted address ${name}` });
    } else if (!present) {
        plan.push({ host: add, undo: () => [del], action: `added address ${name}` });
    } else if (!(await getLink(s.iface)).up) {
        plan.push({ host: () => setLinkUp(s.iface), undo: () => [], action: `set ${s.iface} up` });
    }
}

function planModule(s: StepOf<"module">, p: Planner): void {
    hold(p, O.module(s.name), s.holder, [], "module");
    if (!p.next.modules.includes(s.name)) p.next.modules.push(s.name);
    if (["loaded", "builtin"].includes(moduleState(s.name))) return;
    p.plan.push({ host: async () => { await loadModule(s.name); }, undo: () => [], action: `loaded module ${s.name}` });
}

/** Never unloaded (an interface it made, tunl0, may be in use); a reboot no longer loads it. */
function planDeleteModule(s: StepOf<"deleteModule">, p: Planner): void {
    if (release(p, O.module(s.name), s.holder)) p.next.modules = p.next.modules.filter((m) => m !== s.name);
}

function planRenameHolder(s: StepOf<"renameHolder">, p: Planner): void {
    if (p.restoring) return;
    const { holders } = p.next;
    for (const [name, hs] of Object.entries(holders))
        if (hs.includes(s.from)) holders[name] = [...new Set(hs.map((x) => (x === s.from ? s.to : x)))];
}

const PLANS: { [K in Step["kind"]]: (s: StepOf<K>, p: Planner) => void | Promise<void> } = {
    service: planService,
    deleteService: planDeleteService,
    realServer: planRealServer,
    deleteRealServer: planDeleteRealServer,
    timeouts: planSetTimeouts,
    startDaemon: planStartDaemon,
    stopDaemon: planStopDaemon,
    sysctl: planSetSysctl,
    restore: planRestore,
    address: planAddress,
    deleteAddress: planAddress,
    module: planModule,
    deleteModule: planDeleteModule,
    renameHolder: planRenameHolder,
    failover: planFailover,
    deleteFailover: planDeleteFailover,
};

/** Decides the writes of one step from what the table holds (as earlier steps of the plan leave it). */
export async function planStep(s: Step, p: Planner): Promise<void> {
    await (PLANS[s.kind] as (s: Step, p: Planner) => void | Promise<void>)(s, p);
}
