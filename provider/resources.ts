// The dynamic providers behind the SDK's resources. The SDK serializes only a stub that requires this
// module by package name, so the code that refresh and delete run is the installed package's, and no
// credential is ever captured in a closure: connections travel as (secret) inputs.
import type * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "crypto";
import { agentFor } from "./client";
import { trace } from "./trace";
import * as model from "./model";
import type { Connection } from "./ssh";
import { target } from "./ssh";
import { schedFlagNames } from "./agent/ipvs";
import type { RealServer, VirtualService, Timeouts } from "./agent/ipvs";
import type { ServiceState } from "./agent/ops";
import type { Report } from "./agent/protocol";
import * as host from "./agent/host";

type Check = pulumi.dynamic.CheckResult;
type Diff = pulumi.dynamic.DiffResult;
type Failure = pulumi.dynamic.CheckFailure;


const connectionFields: readonly string[] = model.connectionFields;

function checkConnection(c: unknown, property: string, failures: Failure[]): void {
    if (typeof c !== "object" || c === null) { failures.push({ property, reason: "a connection is required: at least host (and hostKey)" }); return; }
    const o = c as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!connectionFields.includes(k)) failures.push({ property: `${property}.${k}`, reason: `unknown connection field (allowed: ${connectionFields.join(", ")})` });
    if (typeof o.host !== "string" || !o.host) failures.push({ property: `${property}.host`, reason: `${JSON.stringify(o.host)} is not a host name or address` });
    if (o.port !== undefined && !(Number.isInteger(o.port) && (o.port as number) >= 1 && (o.port as number) <= 65535))
        failures.push({ property: `${property}.port`, reason: `${JSON.stringify(o.port)} is not a port: 1 to 65535` });
    if (!o.hostKey && !o.insecureIgnoreHostKey)
        failures.push({ property: `${property}.hostKey`, reason: "pin the node's host key (an OpenSSH public key or its SHA256 fingerprint), or set insecureIgnoreHostKey" });
    if (!o.privateKey && !o.password && !o.agentSocket)
        failures.push({ property: `${property}`, reason: "give privateKey, password or agentSocket to log in with" });
    if (o.proxy !== undefined) checkConnection(o.proxy, `${property}.proxy`, failures);
}

/** A resource's own name on its node, for the sysctls it holds (a value stays while any holder is left):
 * made at its creation, kept in its outputs. */
const holderOf = (kind: string, olds?: Record<string, any>): string => olds?.holder ?? `${kind}/${randomBytes(6).toString("hex")}`;

async function apply(c: Connection, changes: unknown[]): Promise<Report> {
    return (await agentFor(c)).request<Report>("apply", { changes });
}

const keyFields = ["protocol", "address", "port", "fwmark", "family"] as const;
const serviceSettings = ["scheduler", "schedulerFlags", "persistence", "onePacket"] as const;
const realServerSettings = ["forwarding", "weight", "upperThreshold", "lowerThreshold", "tunnel"] as const;

function specOf<T extends string>(inputs: Record<string, unknown>, fields: readonly T[]): Record<T, unknown> {
    const out = {} as Record<T, unknown>;
    for (const f of fields) if (inputs[f] !== undefined) out[f] = inputs[f];
    return out;
}

/** The identity fields of a service declaration (or of a real server's `service`). */
const keyOf = (inputs: Record<string, unknown>) => specOf(inputs, keyFields) as model.ServiceKey;

/** Outputs as the engine takes them: no undefined anywhere. */
function plain<T>(v: T): T {
    return JSON.parse(JSON.stringify(v));
}

function changed(a: unknown, b: unknown): boolean {
    return JSON.stringify(a) !== JSON.stringify(b);
}

/** The user's view of a live service, so that refresh shows drift in the words of the program. */
function serviceView(s: VirtualService): Record<string, unknown> {
    const flags = schedFlagNames(s.scheduler, s.schedFlags);
    return {
        scheduler: s.scheduler,
        ...(flags.length ? { schedulerFlags: flags.sort() } : {}),
        ...(s.persistent ? { persistence: { timeout: s.persistenceTimeout, netmask: s.netmask, ...(s.persistenceEngine ? { engine: s.persistenceEngine } : {}) } } : {}),
        ...(s.onePacket ? { onePacket: true } : {}),
    };
}

function realServerView(r: RealServer): Record<string, unknown> {
    return {
        port: r.port,
        forwarding: r.forwarding,
        weight: r.weight,
        upperThreshold: r.upperThreshold,
        lowerThreshold: r.lowerThreshold,
        ...(r.forwarding === "tun" ? { tunnel: { type: r.tunnelType ?? "ipip", ...(r.tunnelPort ? { port: r.tunnelPort } : {}), ...(r.tunnelFlags && r.tunnelFlags !== "nocsum" ? { checksum: r.tunnelFlags } : {}) } } : {}),
    };
}

/** The settings of a declaration in the form the kernel reports, for comparing. */
const normalService = (i: Record<string, unknown>) => serviceView(model.normalizeService(i as model.ServiceSpec));
const normalRealServer = (i: Record<string, unknown>) =>
    realServerView(model.normalizeRealServer(i as unknown as model.RealServerSpec, model.serviceId(i.service as model.ServiceKey)));

async function liveService(c: Connection, key: model.ServiceKey): Promise<ServiceState | undefined> {
    const st = await (await agentFor(c)).request<{ services: ServiceState[] }>("state", { services: [key] });
    return st.services[0];
}

export const director: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkConnection(news.connection, "connection", failures);
        const t = news.timeouts as Record<string, unknown> | undefined;
        if (t !== undefined) for (const [k, v] of Object.entries(t)) {
            if (!["tcp", "tcpFin", "udp"].includes(k)) failures.push({ property: `timeouts.${k}`, reason: "unknown timeout (tcp, tcpFin, udp)" });
            else if (!Number.isInteger(v) || (v as number) < 1) failures.push({ property: `timeouts.${k}`, reason: `${JSON.stringify(v)} is not a timeout: whole seconds, at least 1` });
        }
        for (const f of ["ipForward", "ipv6Forward"])
            if (news[f] !== undefined && typeof news[f] !== "boolean") failures.push({ property: f, reason: `${JSON.stringify(news[f])} is not a boolean` });
        for (const [i, a] of ((news.addresses ?? []) as Array<Record<string, unknown>>).entries()) {
            if (!model.familyOf(String(a.address))) failures.push({ property: `addresses[${i}].address`, reason: `${JSON.stringify(a.address)} is not an IPv4 or IPv6 address` });
            if (typeof a.interface !== "string" || !/^[^/\s:]{1,15}$/.test(a.interface)) failures.push({ property: `addresses[${i}].interface`, reason: `${JSON.stringify(a.interface)} is not an interface name` });
        }
        checkSync(news.sync, failures);
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        const replaces = target(olds.connection) !== target(news.connection) ? ["connection"] : [];
        const changes = replaces.length > 0 || changed(olds.timeouts, news.timeouts) || changed(olds.ipForward, news.ipForward) || changed(olds.ipv6Forward, news.ipv6Forward) ||
            changed(olds.addresses, news.addresses) || changed(olds.connection, news.connection) || changed(normalSync(olds.sync), normalSync(news.sync));
        return { changes, replaces, deleteBeforeReplace: true };
    },
    async create(inputs) {
        const c = inputs.connection as Connection;
        const outs = await converge(c, inputs);
        return { id: target(c), outs };
    },
    async update(_id, olds, news) {
        return { outs: await converge(news.connection, news, olds) };
    },
    async read(id, props) {
        const c = props.connection as Connection;
        const [{ probe, st, fwd }, held] = await Promise.all([directorFacts(c), heldAddresses(c, props.addresses ?? [])]);
        return { id, props: plain({
            ...props,
            ...(props.addresses ? { addresses: held } : {}),
            ...(props.timeouts ? { timeouts: Object.fromEntries(Object.keys(props.timeouts).map((k) => [k, st.timeouts[k as keyof Timeouts]])) } : {}),
            ...(props.ipForward !== undefined ? { ipForward: fwd[ipv4Forward] === 1 } : {}),
            ...(props.ipv6Forward !== undefined ? { ipv6Forward: fwd[ipv6Forward] === 1 } : {}),
            ...(props.sync ? { sync: liveSync(props.sync, st.daemons) } : {}),
            kernel: probe.kernelRelease, ipvsVersion: probe.ipvs?.version, agentVersion: probe.agent.version,
        }) };
    },
    async delete(_id, props) {
        // Put back what this resource changed, as the node found it (the node keeps what it found).
        const changes: unknown[] = [...addressChanges(props.addresses ?? [], []), ...restores(props, undefined)];
        changes.push(...syncStates(props.sync).map((s) => ({ stopDaemon: s })));
        if (changes.length) await apply(props.connection, changes);
    },
};

const ipv4Forward = "net.ipv4.ip_forward";
const ipv6Forward = "net.ipv6.conf.all.forwarding";

/** What a director is and holds: the probe, the timeouts, the forwarding sysctls. Asked together,
 * so the three requests travel in one round trip. */
async function directorFacts(c: Connection) {
    const agent = await agentFor(c);
    const [probe, st, fwd] = await Promise.all([
        agent.request<Record<string, any>>("probe"),
        agent.request<{ timeouts: Timeouts; daemons: Daemon[] }>("state", { services: [] }),
        agent.request<Record<string, number>>("sysctls", { names: [ipv4Forward, ipv6Forward] }),
    ]);
    return { probe, st, fwd };
}

/** What a director stops declaring goes back to what the node found before it was first set. */
const restores = (olds: Record<string, any>, news: Record<string, any> | undefined) => [
    ...(olds.timeouts && !news?.timeouts ? [{ restore: "timeouts" }] : []),
    ...(olds.ipForward !== undefined && news?.ipForward === undefined ? [{ restore: ipv4Forward, holder: olds.holder }] : []),
    ...(olds.ipv6Forward !== undefined && news?.ipv6Forward === undefined ? [{ restore: ipv6Forward, holder: olds.holder }] : []),
];

/** Sets what the director declares (the node records what it found the first time, to restore on delete). */
async function converge(c: Connection, inputs: Record<string, any>, olds?: Record<string, any>): Promise<Record<string, unknown>> {
    const probe = await (await agentFor(c)).request<Record<string, any>>("probe");
    const holder = holderOf("director", olds);
    const changes: unknown[] = [...addressChanges(olds?.addresses ?? [], inputs.addresses ?? []), ...(olds ? restores(olds, inputs) : [])];
    if (inputs.timeouts) changes.push({ timeouts: inputs.timeouts });
    if (inputs.ipForward !== undefined) changes.push({ sysctl: ipv4Forward, value: inputs.ipForward ? 1 : 0, holder });
    if (inputs.ipv6Forward !== undefined) changes.push({ sysctl: ipv6Forward, value: inputs.ipv6Forward ? 1 : 0, holder });
    changes.push(...syncChanges(c, probe, olds?.sync, inputs.sync));
    if (changes.length) await apply(c, changes);
    return plain({
        holder,
        ...inputs,
        kernel: probe.kernelRelease, ipvsVersion: probe.ipvs?.version, agentVersion: probe.agent.version,
    });
}

// The IPVS connection-sync daemons of a director: `sync.master` / `sync.backup` in the program, the
// agent's Daemon on the wire. One of each per network namespace, so the state is the daemon's identity.

type Daemon = import("./agent/ipvs").Daemon;
type SyncState = import("./agent/ipvs").SyncState;
type SyncDecl = Record<string, Record<string, unknown> | undefined> | undefined;

/** The program's names of a daemon's settings, and the agent's. */
const syncFields = model.syncDaemonFields;
type SyncField = keyof typeof syncFields;
const syncFieldNames = Object.keys(syncFields) as SyncField[];
/** Settings only kernels from 4.3 take (older ones ignore them without a word). */
const syncOptions: SyncField[] = ["maxLen", "group", "port", "ttl"];

/** The states a declaration has a daemon for, master first. */
const syncStates = (sync: SyncDecl): SyncState[] => (["master", "backup"] as const).filter((s) => sync?.[s] !== undefined && sync?.[s] !== null);

/** The agent's form of a declared daemon: sync id 0 when left out, as ipvsadm has it. */
function daemonOf(state: SyncState, d: Record<string, unknown>): Daemon {
    const out: Record<string, unknown> = { state, syncId: 0 };
    for (const f of syncFieldNames) if (d[f] !== undefined) out[syncFields[f]] = d[f];
    return out as unknown as Daemon;
}

function checkSync(sync: unknown, failures: Failure[]): void {
    if (sync === undefined || sync === null) return;
    if (typeof sync !== "object" || Array.isArray(sync)) { failures.push({ property: "sync", reason: `${JSON.stringify(sync)} is not a set of sync daemons: give master and / or backup` }); return; }
    for (const [state, d] of Object.entries(sync as Record<string, unknown>)) {
        const property = `sync.${state}`;
        if (state !== "master" && state !== "backup") { failures.push({ property, reason: "unknown sync daemon state (master, backup)" }); continue; }
        if (d === undefined || d === null) continue;
        if (typeof d !== "object" || Array.isArray(d)) { failures.push({ property, reason: `${JSON.stringify(d)} is not a sync daemon: give at least its interface` }); continue; }
        for (const k of Object.keys(d)) if (!(syncFieldNames as string[]).includes(k))
            failures.push({ property: `${property}.${k}`, reason: `unknown sync daemon setting (allowed: ${syncFieldNames.join(", ")})` });
        for (const f of model.validateDaemon(daemonOf(state, d as Record<string, unknown>))) {
            const field = syncFieldNames.find((n) => syncFields[n] === f.property) ?? f.property;
            failures.push({ property: `${property}.${field}`, reason: f.reason });
        }
    }
}

/** A declaration in a form that compares equal exactly when the daemons would be: fixed key order,
 * the sync id's default filled in, the group canonical. */
function normalSync(sync: SyncDecl): Daemon[] {
    return syncStates(sync).map((s) => {
        const d = daemonOf(s, sync![s]!);
        if (d.mcastGroup !== undefined) try { d.mcastGroup = model.canonicalAddress(String(d.mcastGroup)); } catch { /* check refuses it */ }
        return d;
    });
}

/** Stops the daemons declared before and not now; starts (or, if its settings differ, restarts) each declared one. */
function syncChanges(c: Connection, probe: Record<string, any>, olds: SyncDecl, news: SyncDecl): unknown[] {
    const want = syncStates(news);
    for (const s of want) {
        const given = syncOptions.filter((f) => news![s]![f] !== undefined);
        if (given.length && probe.features?.syncDaemonOptions === false)
            throw new Error(`sync.${s}: ${given.join(", ")} need Linux 4.3 or newer, and ${target(c)} runs ${probe.kernelRelease} (which would ignore them); leave them out`);
    }
    return [
        ...syncStates(olds).filter((s) => !want.includes(s)).map((s) => ({ stopDaemon: s })),
        ...want.map((s) => ({ startDaemon: daemonOf(s, news![s]!) })),
    ];
}

/**
 * The running daemons in the program's words, for the states the declaration manages (a daemon started
 * by hand for another state is not this resource's). Each shows its interface, and the other settings
 * the declaration gives (the sync id also when it is not the default 0), as the kernel has them.
 */
function liveSync(declared: NonNullable<SyncDecl>, daemons: Daemon[]): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const s of syncStates(declared)) {
        const live = daemons.find((d) => d.state === s);
        if (!live) continue;
        const want = declared[s]!;
        const view: Record<string, unknown> = {};
        for (const f of syncFieldNames) {
            const v = live[syncFields[f]];
            if (f === "interface" || (f === "syncId" && v !== 0) || want[f] !== undefined)
                view[f] = f === "group" && typeof want.group === "string" && normalSync({ [s]: want })[0].mcastGroup === v ? want.group : v;
        }
        out[s] = view;
    }
    return out;
}

interface Address { address: string; interface: string; prefixLength?: number }

/** Changes that take a director from holding `olds` to holding `news`. */
function addressChanges(olds: Address[], news: Address[]): unknown[] {
    const key = (a: Address) => `${model.canonicalAddress(a.address)}/${a.prefixLength ?? ""}%${a.interface}`;
    const keep = new Set(news.map(key));
    return [
        ...olds.filter((a) => !keep.has(key(a))).map((a) => ({ deleteAddress: a.address, interface: a.interface, ...(a.prefixLength ? { prefixLength: a.prefixLength } : {}) })),
        ...news.map((a) => ({ address: a.address, interface: a.interface, ...(a.prefixLength ? { prefixLength: a.prefixLength } : {}) })),
    ];
}

/** Which of the declared addresses the director still holds (one request per interface, together). */
async function heldAddresses(c: Connection, declared: Address[]): Promise<Address[]> {
    const agent = await agentFor(c);
    const interfaces = [...new Set(declared.map((a) => a.interface))];
    const lists = await Promise.all(interfaces.map((i) =>
        agent.request<Array<{ address: string; prefixLength: number }>>("addresses", { interface: i }).catch(() => [])));
    const live = new Map(interfaces.map((i, k) => [i, lists[k]]));
    return declared.filter((a) => {
        const len = a.prefixLength ?? (model.familyOf(a.address) === "inet6" ? 128 : 32);
        return live.get(a.interface)!.some((l) => model.canonicalAddress(l.address) === model.canonicalAddress(a.address) && l.prefixLength === len);
    });
}

export const virtualService: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkConnection(news.connection, "connection", failures);
        const spec = { ...keyOf(news), ...specOf(news, serviceSettings) } as model.ServiceSpec;
        failures.push(...model.validateService(spec));
        if (news.adopt !== undefined && typeof news.adopt !== "boolean") failures.push({ property: "adopt", reason: `${JSON.stringify(news.adopt)} is not a boolean` });
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        const sameService = model.serviceName(model.serviceId(keyOf(olds))) === model.serviceName(model.serviceId(keyOf(news)));
        const replaces = [
            ...(target(olds.connection) !== target(news.connection) ? ["connection"] : []),
            ...(sameService ? [] : ["protocol", "address", "port", "fwmark", "family"].filter((f) => changed(olds[f], news[f]))),
        ];
        const settings = changed(normalService(olds), normalService(news));
        return { changes: replaces.length > 0 || settings || changed(olds.connection, news.connection), replaces, deleteBeforeReplace: true };
    },
    async create(inputs) {
        const c = inputs.connection as Connection;
        const id = `${target(c)}/${model.serviceName(model.serviceId(keyOf(inputs)))}`;
        await apply(c, [{ service: { ...keyOf(inputs), ...specOf(inputs, serviceSettings) }, adopt: inputs.adopt === true }]);
        return { id, outs: plain({ ...inputs, ...normalService(inputs) }) };
    },
    async update(_id, _olds, news) {
        await apply(news.connection, [{ service: { ...keyOf(news), ...specOf(news, serviceSettings) }, adopt: true }]);
        return { outs: plain({ ...news, ...normalService(news) }) };
    },
    async read(id, props) {
        const live = await liveService(props.connection, keyOf(props));
        if (!live) return {};
        const view = serviceView(live);
        const props2: Record<string, unknown> = { ...props };
        for (const f of serviceSettings) delete props2[f];
        return { id, props: { ...props2, ...view } };
    },
    async delete(_id, props) {
        await apply(props.connection, [{ deleteService: keyOf(props) }]);
    },
};

/** The drain deadline when `drain` is set without one (seconds), and the largest the agent takes. */
const defaultDrainTimeout = 300;
const maxDrainTimeout = 86400;

function checkDrain(d: unknown, failures: Failure[]): void {
    if (d === undefined || d === null) return;
    if (typeof d !== "object" || Array.isArray(d)) {
        failures.push({ property: "drain", reason: `${JSON.stringify(d)} is not a drain setting: an object, e.g. { timeout: ${defaultDrainTimeout} } (or {} for the default deadline)` });
        return;
    }
    for (const k of Object.keys(d)) if (k !== "timeout") failures.push({ property: `drain.${k}`, reason: "unknown drain setting (allowed: timeout)" });
    const t = (d as Record<string, unknown>).timeout;
    if (t !== undefined && !(Number.isInteger(t) && (t as number) >= 0 && (t as number) <= maxDrainTimeout))
        failures.push({ property: "drain.timeout", reason: `${JSON.stringify(t)} is not a drain deadline: whole seconds from 0 to ${maxDrainTimeout}` });
}

/** The drain deadline a declaration asks for, or undefined when it deletes at once. */
const drainTimeout = (i: Record<string, any>): number | undefined =>
    (i.drain === undefined || i.drain === null ? undefined : i.drain.timeout ?? defaultDrainTimeout);

export const realServer: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkConnection(news.connection, "connection", failures);
        const svc = news.service as model.ServiceKey;
        const keyFailures = model.validateServiceKey(svc ?? {});
        failures.push(...keyFailures.map((f) => ({ property: `service.${f.property}`, reason: f.reason })));
        if (!keyFailures.length) failures.push(...model.validateRealServer({ address: news.address, port: news.port, ...specOf(news, realServerSettings) } as model.RealServerSpec, svc));
        checkDrain(news.drain, failures);
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        const oldKey = `${target(olds.connection)}/${model.serviceName(olds.service)}/${olds.address}:${normalRealServer(olds).port}`;
        const newKey = `${target(news.connection)}/${model.serviceName(news.service)}/${news.address}:${normalRealServer(news).port}`;
        const replaces = oldKey !== newKey ? ["service", "address", "port"].filter((f) => changed(olds[f], news[f])) : [];
        if (oldKey !== newKey && !replaces.length) replaces.push("connection");
        const settings = changed(normalRealServer(olds), normalRealServer(news));
        // drain only says how a later delete goes: a change of it alone updates the state, not the kernel.
        const drain = drainTimeout(olds) !== drainTimeout(news);
        return { changes: replaces.length > 0 || settings || drain || changed(olds.connection, news.connection), replaces, deleteBeforeReplace: true };
    },
    async create(inputs) {
        const c = inputs.connection as Connection;
        const port = normalRealServer(inputs).port;
        const id = `${target(c)}/${model.serviceName(model.serviceId(inputs.service))}/${inputs.address}:${port}`;
        await apply(c, [{ service: inputs.service, realServer: { address: inputs.address, port: inputs.port, ...specOf(inputs, realServerSettings) }, adopt: inputs.adopt === true }]);
        return { id, outs: plain({ ...inputs, ...normalRealServer(inputs) }) };
    },
    async update(_id, olds, news) {
        if (changed(normalRealServer(olds), normalRealServer(news)) || changed(olds.connection, news.connection))
            await apply(news.connection, [{ service: news.service, realServer: { address: news.address, port: news.port, ...specOf(news, realServerSettings) }, adopt: true }]);
        return { outs: plain({ ...news, ...normalRealServer(news) }) };
    },
    async read(id, props) {
        const live = await liveService(props.connection, props.service);
        const want = model.normalizeRealServer({ address: props.address, port: props.port }, model.serviceId(props.service));
        const rs = live?.realServers.find((r) => r.address === want.address && r.port === want.port);
        if (!rs) return {};
        const props2: Record<string, unknown> = { ...props };
        for (const f of realServerSettings) delete props2[f];
        return { id, props: { ...props2, ...realServerView(rs) } };
    },
    async delete(id, props) {
        const timeoutSeconds = drainTimeout(props);
        if (timeoutSeconds === undefined) {
            await apply(props.connection, [{ service: props.service, deleteRealServer: { address: props.address, port: props.port } }]);
            return;
        }
        // Weight 0 (no new connections), wait for the active ones to end or the deadline, then delete.
        const r = await (await agentFor(props.connection)).request<Report & { waitedSeconds: number; activeConnections: number }>("drain",
            { service: props.service, realServer: { address: props.address, port: props.port }, timeoutSeconds });
        trace(`drained ${id}: waited ${r.waitedSeconds} s of ${timeoutSeconds} s, ${r.activeConnections} active connections left` +
            `${r.actions.length ? `: ${r.actions.join("; ")}` : " (it was gone already)"}`);
    },
};

// ------------------------------------------------------------------------------------------------
// Sysctls a resource sets and puts back: the node records what it found before the first set.

type Sysctls = Record<string, host.SysctlValue>;

const setSysctls = (want: Sysctls, holder: string) => Object.entries(want).map(([sysctl, value]) => ({ sysctl, value, holder }));
const restoreSysctls = (names: string[], holder: string | undefined) => names.map((restore) => ({ restore, holder }));

/** The engine keeps an object's keys sorted: compare sysctls in that order. */
const sorted = (o: Sysctls = {}) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

// ------------------------------------------------------------------------------------------------
// RealServerNode: the real-server side of direct routing and tunnelling.

const forwardingOfNode = ["dr", "tun"];
const vipInterface = (forwarding: string) => (forwarding === "tun" ? "tunl0" : "lo");
const nodeAddresses = (i: Record<string, any>): Address[] =>
    ((i.vips ?? []) as string[]).map((address) => ({ address, interface: vipInterface(i.forwarding) }));

/** What a real server of `forwarding` needs: no ARP for the VIPs (all and the interface: the kernel takes the larger); for tun, no reverse-path filter on tunl0. */
function nodeSysctls(i: Record<string, any>): Sysctls {
    const out: Sysctls = {};
    for (const iface of ["all", String(i.arpInterface)]) {
        out[host.interfaceSysctl(iface, "arp_ignore")] = 1;
        out[host.interfaceSysctl(iface, "arp_announce")] = 2;
    }
    if (i.forwarding === "tun") {
        out[host.interfaceSysctl("tunl0", "rp_filter")] = 0;
        out[host.interfaceSysctl("all", "rp_filter")] = 0;
    }
    return out;
}

async function convergeNode(inputs: Record<string, any>, olds?: Record<string, any>): Promise<Record<string, unknown>> {
    const c = inputs.connection as Connection;
    const want = nodeSysctls(inputs);
    const modules = inputs.forwarding === "tun" ? [{ module: "ipip" }] : [];
    const dropped = Object.keys(olds?.sysctls ?? {}).filter((name) => !(name in want));
    const holder = holderOf("real-server-node", olds);
    // ARP silenced before the VIPs arrive, so no neighbour ever learns a real server's MAC for a VIP.
    await apply(c, [...modules, ...setSysctls(want, holder), ...addressChanges(olds ? nodeAddresses(olds) : [], nodeAddresses(inputs)), ...restoreSysctls(dropped, holder)]);
    return plain({ ...inputs, sysctls: want, holder });
}

export const realServerNode: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkConnection(news.connection, "connection", failures);
        if (!forwardingOfNode.includes(news.forwarding)) failures.push({ property: "forwarding", reason: `${JSON.stringify(news.forwarding)} is not a forwarding method a real-server node takes part in (dr or tun)` });
        if (!Array.isArray(news.vips) || news.vips.length === 0) failures.push({ property: "vips", reason: `${JSON.stringify(news.vips)} is not a list of at least one VIP` });
        else for (const [i, v] of news.vips.entries())
            if (!model.familyOf(String(v))) failures.push({ property: `vips[${i}]`, reason: `${JSON.stringify(v)} is not an IPv4 or IPv6 address` });
        const p = host.interfaceNameProblem(news.arpInterface);
        if (p) failures.push({ property: "arpInterface", reason: p });
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        const replaces = target(olds.connection) !== target(news.connection) ? ["connection"] : [];
        const changes = replaces.length > 0 || ["forwarding", "vips", "arpInterface", "connection"].some((f) => changed(olds[f], news[f])) ||
            changed(sorted(olds.sysctls), sorted(nodeSysctls(news)));
        return { changes, replaces, deleteBeforeReplace: true };
    },
    async create(inputs) {
        return { id: `${target(inputs.connection)}/real-server-node`, outs: await convergeNode(inputs) };
    },
    async update(_id, olds, news) {
        return { outs: await convergeNode(news, olds) };
    },
    async read(id, props) {
        const c = props.connection as Connection;
        const held = await heldAddresses(c, nodeAddresses(props));
        const sysctls = await (await agentFor(c)).request<Sysctls>("sysctls", { names: Object.keys(props.sysctls ?? {}) });
        return { id, props: plain({ ...props, vips: held.map((a) => a.address), sysctls }) };
    },
    async delete(_id, props) {
        await apply(props.connection, [...addressChanges(nodeAddresses(props), []), ...restoreSysctls(Object.keys(props.sysctls ?? {}), props.holder)]);
    },
};

// ------------------------------------------------------------------------------------------------
// DosProtection: the IPVS defence strategies and the other net.ipv4.vs sysctls of a director.

type Setting = { sysctl: string; kind: "mode" | "bool" | "int" };
const dosSettings: Record<string, Setting> = {
    dropEntry: { sysctl: "net.ipv4.vs.drop_entry", kind: "mode" },
    dropPacket: { sysctl: "net.ipv4.vs.drop_packet", kind: "mode" },
    secureTcp: { sysctl: "net.ipv4.vs.secure_tcp", kind: "mode" },
    amemthresh: { sysctl: "net.ipv4.vs.amemthresh", kind: "int" },
    amDroprate: { sysctl: "net.ipv4.vs.am_droprate", kind: "int" },
    expireNodestConn: { sysctl: "net.ipv4.vs.expire_nodest_conn", kind: "bool" },
    expireQuiescentTemplate: { sysctl: "net.ipv4.vs.expire_quiescent_template", kind: "bool" },
    conntrack: { sysctl: "net.ipv4.vs.conntrack", kind: "bool" },
    connReuseMode: { sysctl: "net.ipv4.vs.conn_reuse_mode", kind: "int" },
};
// The kernel flips auto between 1 and 2 itself (by available memory), so both read as auto.
const modes: Record<string, number> = { off: 0, auto: 1, always: 3 };
const modeOf = (v: number) => (v === 0 ? "off" : v === 3 ? "always" : "auto");

const toKernel = (s: Setting, v: unknown): number => (s.kind === "mode" ? modes[v as string] : s.kind === "bool" ? (v ? 1 : 0) : (v as number));
const fromKernel = (s: Setting, v: host.SysctlValue): unknown => (s.kind === "mode" ? modeOf(v as number) : s.kind === "bool" ? v === 1 : v);
const declaredDos = (i: Record<string, unknown>) => Object.keys(dosSettings).filter((f) => i[f] !== undefined);

async function convergeDos(inputs: Record<string, any>, olds?: Record<string, any>): Promise<Record<string, unknown>> {
    const c = inputs.connection as Connection;
    const fields = declaredDos(inputs);
    const live = await (await agentFor(c)).request<Sysctls>("sysctls", { names: fields.map((f) => dosSettings[f].sysctl) });
    // A value that already reads as declared is kept as it is (auto: the kernel's 1 or 2).
    const want = Object.fromEntries(fields.map((f) => {
        const name = dosSettings[f].sysctl;
        return [name, fromKernel(dosSettings[f], live[name]) === inputs[f] ? live[name] : toKernel(dosSettings[f], inputs[f])];
    }));
    const dropped = declaredDos(olds ?? {}).filter((f) => !fields.includes(f)).map((f) => dosSettings[f].sysctl);
    const holder = holderOf("dos-protection", olds);
    const changes = [...setSysctls(want, holder), ...restoreSysctls(dropped, holder)];
    if (changes.length) await apply(c, changes);
    return plain({ ...inputs, holder });
}

export const dosProtection: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkConnection(news.connection, "connection", failures);
        for (const [f, s] of Object.entries(dosSettings)) {
            const v = news[f];
            if (v === undefined) continue;
            if (s.kind === "mode" && !(typeof v === "string" && v in modes)) failures.push({ property: f, reason: `${JSON.stringify(v)} is invalid (must be off, auto or always; ${s.sysctl})` });
            else if (s.kind === "bool" && typeof v !== "boolean") failures.push({ property: f, reason: `${JSON.stringify(v)} is invalid (must be a boolean; ${s.sysctl})` });
            else if (s.kind === "int") {
                const p = host.sysctlProblem(s.sysctl, v);
                if (p) failures.push({ property: f, reason: p });
            }
        }
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        const replaces = target(olds.connection) !== target(news.connection) ? ["connection"] : [];
        const changes = replaces.length > 0 || [...Object.keys(dosSettings), "connection"].some((f) => changed(olds[f], news[f]));
        return { changes, replaces, deleteBeforeReplace: true };
    },
    async create(inputs) {
        return { id: `${target(inputs.connection)}/dos-protection`, outs: await convergeDos(inputs) };
    },
    async update(_id, olds, news) {
        return { outs: await convergeDos(news, olds) };
    },
    async read(id, props) {
        const fields = declaredDos(props);
        const live = await (await agentFor(props.connection)).request<Sysctls>("sysctls", { names: fields.map((f) => dosSettings[f].sysctl) });
        return { id, props: plain({ ...props, ...Object.fromEntries(fields.map((f) => [f, fromKernel(dosSettings[f], live[dosSettings[f].sysctl])])) }) };
    },
    async delete(_id, props) {
        const changes = restoreSysctls(declaredDos(props).map((f) => dosSettings[f].sysctl), props.holder);
        if (changes.length) await apply(props.connection, changes);
    },
};
