// A request's changes checked in full and made into steps before anything on the node is touched: one
// parser per kind of change, and the checks the reads and the drain share (objects, keys, holders).
import * as model from "../../model";
import { AgentError } from "../../model/protocol";
import type {
    Daemon, RealServer, RealServerId, SyncState, Timeouts, VirtualService, VirtualServiceId,
} from "../../model";
import type { SysctlValue } from "../../model/sysctls";
import * as desired from "../desired";
import { moduleProblem } from "../host/modules";
import { resolveSysctl } from "../host/sysctls";

export function fail(field: string, reason: string): never {
    throw new AgentError(`${field}: ${reason}`, field);
}

export function object(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(field, `${model.show(v)} is not an object`);
    return v as Record<string, unknown>;
}

export function onlyKeys(o: Record<string, unknown>, allowed: string[], field: string): void {
    for (const k of Object.keys(o))
        if (!allowed.includes(k)) fail(`${field}.${k}`, `unknown field (allowed: ${allowed.join(", ")})`);
}

function failures(fs: model.Failure[], field: string): void {
    if (fs.length) fail(`${field}.${fs[0].property}`, fs.map((f) => `${f.property}: ${f.reason}`).join("; "));
}

const keyFields: string[] = [...model.serviceKeyFields];
const serviceFields: string[] = [...keyFields, ...model.serviceSettingFields];
const realServerFields: string[] = ["address", "port", ...model.realServerSettingFields];
const daemonFields: string[] = ["state", ...model.syncFieldNames.map((f) => model.syncDaemonAttributes[f].kernel)];

export function serviceKey(v: unknown, field: string): VirtualServiceId {
    const o = object(v, field);
    onlyKeys(o, keyFields, field);
    const k = o as model.ServiceKey;
    failures(model.validateServiceKey(k), field);
    return model.serviceId(k);
}

/** A real server named for a delete or a drain: its address and port (any family and forwarding: the
 * kernel finds it by those). */
export function realServerKey(v: unknown, service: VirtualServiceId, field: string): RealServerId {
    const o = object(v, field);
    onlyKeys(o, ["address", "port"], field);
    if (typeof o.address !== "string" || !model.familyOf(o.address))
        fail(`${field}.address`, `${model.show(o.address)} is not an IPv4 or IPv6 address`);
    const port = o.port === undefined ? undefined : model.portRule(o.port);
    if (port) fail(`${field}.port`, port);
    return model.normalizeRealServer({ address: o.address, port: o.port as number | undefined }, service);
}

/** Who declares an object (a resource's own name): it stays while any holder is left. */
export function holder(v: unknown, field: string): string {
    if (v === undefined) return desired.unnamedHolder;
    if (typeof v !== "string" || !/^[\w./:-]{1,200}$/.test(v))
        fail(field, `${model.show(v)} is not a holder: 1 to 200 letters, digits and . / : _ -`);
    return v;
}

export type Step = { holder?: string } & (
    | { kind: "service"; want: VirtualService; adopt: boolean; health?: model.ServiceHealth }
    | { kind: "deleteService"; id: VirtualServiceId }
    | { kind: "realServer"; service: VirtualServiceId; want: RealServer; adopt: boolean; check?: model.HealthCheck }
    | { kind: "deleteRealServer"; service: VirtualServiceId; id: RealServerId }
    | { kind: "timeouts"; want: Partial<Timeouts> }
    | { kind: "startDaemon"; want: Daemon }
    | { kind: "stopDaemon"; state: SyncState }
    | { kind: "sysctl"; name: string; value: SysctlValue }
    | { kind: "restore"; name: string }
    | { kind: "address" | "deleteAddress"; address: string; iface: string; prefixLength: number }
    | { kind: "module" | "deleteModule"; name: string }
    | { kind: "renameHolder"; from: string; to: string }
    | { kind: "failover"; want: model.Failover }
    | { kind: "deleteFailover" });

/** One change of a request, as a step with its holder. */
export function step(v: unknown, field: string): Step {
    const c = object(v, field);
    const h = holder(c.holder, `${field}.holder`);
    const { holder: _, ...rest } = c;
    return { ...changeStep(rest, field), holder: h };
}

// ------------------------------------------------------------------------------------------------
// One parser per kind of change: `c` is the change without its holder.

type Parse = (c: Record<string, unknown>, field: string, adopt: boolean) => Step;

const realServerChange: Parse = (c, field, adopt) => {
    onlyKeys(c, ["service", "realServer", "adopt", "healthCheck"], field);
    const service = serviceKey(c.service, `${field}.service`);
    const r = object(c.realServer, `${field}.realServer`);
    onlyKeys(r, realServerFields, `${field}.realServer`);
    const spec = r as unknown as model.RealServerSpec;
    failures(model.validateRealServer(spec, service), `${field}.realServer`);
    const want = model.normalizeRealServer(spec, service);
    if (c.healthCheck === undefined) return { kind: "realServer", service, want, adopt };
    failures([...model.validateHealthCheck(c.healthCheck, "healthCheck"),
        ...model.checkPortProblem(c.healthCheck as model.HealthCheckSpec, want.port, "healthCheck")], field);
    return { kind: "realServer", service, want, adopt,
        check: model.normalizeHealthCheck(c.healthCheck as model.HealthCheckSpec) };
};

/** A service's health settings: its default check, its sorry server (a real server of it), its quorum. */
function serviceHealth(v: unknown, service: VirtualServiceId, field: string): model.ServiceHealth {
    const h = object(v, field);
    onlyKeys(h, [...model.serviceHealthFields], field);
    failures(model.validateServiceHealth(h), field);
    const spec = h as model.ServiceHealthSpec;
    if (spec.healthCheck) failures(model.checkPortProblem(spec.healthCheck, "fwmark" in service ? 0 : undefined,
        "healthCheck"), field);
    if (spec.sorryServer)
        failures(model.validateRealServer(model.sorryRealServer(spec.sorryServer), service), `${field}.sorryServer`);
    return model.normalizeServiceHealth(spec, (r) => model.normalizeRealServer(r, service));
}

const deleteRealServerChange: Parse = (c, field) => {
    onlyKeys(c, ["service", "deleteRealServer"], field);
    const service = serviceKey(c.service, `${field}.service`);
    return { kind: "deleteRealServer", service,
        id: realServerKey(c.deleteRealServer, service, `${field}.deleteRealServer`) };
};

const serviceChange: Parse = (c, field, adopt) => {
    onlyKeys(c, ["service", "adopt", "health"], field);
    const s = object(c.service, `${field}.service`);
    onlyKeys(s, serviceFields, `${field}.service`);
    failures(model.validateService(s as model.ServiceSpec), `${field}.service`);
    const want = model.normalizeService(s as model.ServiceSpec);
    return { kind: "service", want, adopt,
        ...(c.health !== undefined ? { health: serviceHealth(c.health, want, `${field}.health`) } : {}) };
};

const deleteServiceChange: Parse = (c, field) => {
    onlyKeys(c, ["deleteService"], field);
    return { kind: "deleteService", id: serviceKey(c.deleteService, `${field}.deleteService`) };
};

const timeoutsChange: Parse = (c, field) => {
    onlyKeys(c, ["timeouts"], field);
    const t = object(c.timeouts, `${field}.timeouts`);
    const bad = model.validateTimeouts(t);
    if (bad.length) fail(`${field}.${bad[0].property}`, bad[0].reason);
    return { kind: "timeouts", want: t as Partial<Timeouts> };
};

const startDaemonChange: Parse = (c, field) => {
    onlyKeys(c, ["startDaemon"], field);
    const d = object(c.startDaemon, `${field}.startDaemon`);
    onlyKeys(d, daemonFields, `${field}.startDaemon`);
    failures(model.validateDaemon(d as unknown as Daemon), `${field}.startDaemon`);
    return { kind: "startDaemon", want: d as unknown as Daemon };
};

const stopDaemonChange: Parse = (c, field) => {
    onlyKeys(c, ["stopDaemon"], field);
    if (c.stopDaemon !== "master" && c.stopDaemon !== "backup")
        fail(`${field}.stopDaemon`, `${model.show(c.stopDaemon)} is not a sync daemon state: use "master" or "backup"`);
    return { kind: "stopDaemon", state: c.stopDaemon };
};

const sysctlChange: Parse = (c, field) => {
    onlyKeys(c, ["sysctl", "value"], field);
    const name = String(c.sysctl);
    const problem = model.sysctlProblem(name, c.value);
    if (problem) fail(`${field}.sysctl`, problem);
    return { kind: "sysctl", name, value: c.value as SysctlValue };
};

const restoreChange: Parse = (c, field) => {
    onlyKeys(c, ["restore"], field);
    const name = String(c.restore);
    if (name !== "timeouts") try { resolveSysctl(name); } catch (e) { fail(`${field}.restore`, (e as Error).message); }
    return { kind: "restore", name };
};

const addressChange: Parse = (c, field) => {
    const kind = "address" in c ? "address" : "deleteAddress";
    onlyKeys(c, [kind, "interface", "prefixLength"], field);
    const declared = { address: c[kind], interface: c.interface, prefixLength: c.prefixLength };
    const bad = model.validateHostAddress(declared, field);
    if (bad.length) fail(bad[0].property.replace(/\.address$/, `.${kind}`), bad[0].reason);
    const address = c[kind] as string;
    const prefixLength = (c.prefixLength as number | undefined) ?? model.hostPrefixLength(address);
    return { kind, address: model.canonicalAddress(address), iface: c.interface as string, prefixLength };
};

/** A resource renamed with aliases: its holds go to its new name. */
const renameHolderChange: Parse = (c, field) => {
    onlyKeys(c, ["renameHolder", "to"], field);
    const from = holder(c.renameHolder, `${field}.renameHolder`);
    return { kind: "renameHolder", from, to: holder(c.to, `${field}.to`) };
};

const moduleChange: Parse = (c, field) => {
    const kind = "module" in c ? "module" : "deleteModule";
    onlyKeys(c, [kind], field);
    const problem = moduleProblem(c[kind]);
    if (problem) fail(`${field}.${kind}`, problem);
    return { kind, name: c[kind] as string };
};

/** The director's failover and the addresses it moves (each a host address, as `address` takes one). */
const failoverChange: Parse = (c, field) => {
    onlyKeys(c, ["failover", "addresses"], field);
    failures(model.validateFailover(c.failover, "failover"), field);
    if (!Array.isArray(c.addresses) || !c.addresses.length)
        fail(`${field}.addresses`, `${model.show(c.addresses)} is not a list of addresses: failover moves the ` +
            "director's addresses, so it needs one at least");
    const addresses = c.addresses.map((a, i) => {
        failures(model.validateHostAddress(a, `addresses[${i}]`), field);
        const h = a as model.HostAddress;
        return { address: model.canonicalAddress(h.address), interface: h.interface,
            prefixLength: h.prefixLength ?? model.hostPrefixLength(h.address) };
    });
    return { kind: "failover", want: model.normalizeFailover(c.failover as model.FailoverSpec, addresses) };
};

const deleteFailoverChange: Parse = (c, field) => {
    onlyKeys(c, ["deleteFailover"], field);
    if (c.deleteFailover !== true) fail(`${field}.deleteFailover`, "must be true");
    return { kind: "deleteFailover" };
};

/** Every kind of change by the keys that name it, tried in this order: the first whose keys the change
 * has parses it (a change to a real server names its service too, so it comes before the service). */
const CHANGES: Array<[keys: string[], parse: Parse]> = [
    [["service", "realServer"], realServerChange],
    [["service", "deleteRealServer"], deleteRealServerChange],
    [["service"], serviceChange],
    [["deleteService"], deleteServiceChange],
    [["timeouts"], timeoutsChange],
    [["startDaemon"], startDaemonChange],
    [["stopDaemon"], stopDaemonChange],
    [["sysctl"], sysctlChange],
    [["restore"], restoreChange],
    [["address"], addressChange],
    [["deleteAddress"], addressChange],
    [["renameHolder"], renameHolderChange],
    [["module"], moduleChange],
    [["deleteModule"], moduleChange],
    [["failover"], failoverChange],
    [["deleteFailover"], deleteFailoverChange],
];

function changeStep(c: Record<string, unknown>, field: string): Step {
    const adopt = c.adopt === undefined ? false : c.adopt === true ? true : c.adopt === false ? false
        : fail(`${field}.adopt`, "must be a boolean");
    for (const [keys, parse] of CHANGES) if (keys.every((k) => k in c)) return parse(c, field, adopt);
    return fail(field, "not a change: give one of service (and its health), deleteService, realServer (with " +
        "service; and its healthCheck), deleteRealServer (with service), timeouts, startDaemon, stopDaemon, sysctl " +
        `(with value), restore (a sysctl or "timeouts": back to what was found before the first change), address ` +
        "or deleteAddress (with interface), module or deleteModule (drops the hold; a module is never unloaded), " +
        "renameHolder (with to), failover (with addresses) or deleteFailover; each may name its holder");
}
