// The dynamic providers behind the SDK's resources. The SDK serializes only a stub that requires this
// module by package name, so the code that refresh and delete run is the installed package's, and no
// credential is ever captured in a closure: connections travel as (secret) inputs.
import type * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "crypto";
import { agentFor } from "./client";
import { trace } from "./trace";
import * as model from "./model";
import type { Connection } from "./ssh";
import { pinnedKeyProblem, target } from "./ssh";
import { warn } from "./warn";
import { FieldChange, withDetailedDiff } from "./detailed-diff";
import type { RealServer, ServiceState, Report, Timeouts, VirtualService } from "./model";

type Check = pulumi.dynamic.CheckResult;
type Diff = pulumi.dynamic.DiffResult;
type Failure = pulumi.dynamic.CheckFailure;


const checkConnection = (c: unknown, property: string, failures: Failure[]): void => { model.checkConnection(c, property, failures); };

/** Fields of a declaration that are not its own: the engine's serialized provider, and the outputs the
 * SDK declares (undefined in the program). */
const engineFields = ["__provider", "holder"];
function checkFields(news: Record<string, unknown>, allowed: readonly string[], failures: Failure[]): void {
    failures.push(...model.unknownFields(news, [...allowed, ...engineFields], "", "property"));
}

/**
 * A resource's own name on its node, as the holder of every object it declares there (an object stays
 * while any holder is left): made at its creation, kept in its outputs. A resource made before holders
 * has none, and its requests count as the node's unnamed holder.
 */
const newHolder = (kind: string): string => `${kind}/${randomBytes(6).toString("hex")}`;

/**
 * The name a create, update or delete holds by, and the changes that come first. The SDK gives each
 * resource its holder, made of its URN's parts (so a create interrupted and retried holds by the same
 * name); a create without one makes one. An update keeps the name the node knows, renamed on the node to
 * the SDK's when that changed (a rename with aliases); a resource made before holders keeps the unnamed
 * holder (undefined).
 */
function holdAs(kind: string, news: Record<string, any>, olds?: Record<string, any>): { holder: string | undefined; first: unknown[] } {
    if (!olds) return { holder: news.holder ?? newHolder(kind), first: [] };
    const was = olds.holder as string | undefined;
    if (!was) return { holder: undefined, first: [] };
    const now = (news.holder as string | undefined) ?? was;
    return { holder: now, first: now !== was ? [{ renameHolder: was, to: now }] : [] };
}

/** The holder a diff compares: a resource made before holders keeps the unnamed one, which is no change. */
const holderPair = (olds: Record<string, any>, news: Record<string, any>): [unknown, unknown] =>
    [olds.holder ?? news.holder, news.holder ?? olds.holder];

/** Applies changes on a node; what the agent warns of (an object taken over) is shown in the run's output. */
async function apply(c: Connection, changes: unknown[]): Promise<Report> {
    const r = await (await agentFor(c)).request<Report>("apply", { changes });
    for (const w of r.warnings ?? []) await warn(`${target(c)}: ${w}`);
    for (const k of r.kept ?? []) trace(`${target(c)}: ${k}`);
    return r;
}

/** A valid declaration with ipvsadm's defaults filled in (wlc, weight 1, ...) as the kernel reports
 * them, so a plan after a refresh that found drift shows both values ("weight: 7 => 1"). */
function withDefaults(news: Record<string, unknown>, failures: Failure[], normal: (i: Record<string, unknown>) => Record<string, unknown>): Record<string, unknown> {
    if (failures.length || JSON.stringify(news).includes(unknownValue)) return news;
    return { ...news, ...normal(news) };
}

/**
 * Two resources of one program that declare one object (on one node) with different settings: refused
 * at check, before anything is applied. Every check of a run happens in this one provider process, so
 * the first declaration of each object is remembered here; the agent refuses the same at up (naming the
 * other holder) for declarations that come from different programs.
 */
const unknownValue = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"; // what a dynamic provider sees for a value a preview does not know yet
const declared = new Map<string, { settings: Record<string, unknown>; what: string }>();
function checkDuplicate(object: string, what: string, settings: Record<string, unknown>, failures: Failure[]): void {
    if (JSON.stringify(settings).includes(unknownValue)) return; // a preview's unknowns: compared once known
    const first = declared.get(object);
    if (!first) { declared.set(object, { settings, what }); return; }
    const diff = [...new Set([...Object.keys(first.settings), ...Object.keys(settings)])]
        .filter((k) => JSON.stringify(first.settings[k]) !== JSON.stringify(settings[k]))
        .map((k) => `${k} ${model.show(first.settings[k])} there, ${model.show(settings[k])} here`);
    if (diff.length) failures.push({ property: Object.keys(settings).find((k) => diff[0].startsWith(`${k} `)) ?? "",
        reason: `another resource of this program declares ${first.what} too, with other settings (${diff.join("; ")}): one object, one declaration (or the same settings in both)` });
}

const keyFields = model.serviceKeyFields;
const serviceSettings = model.serviceSettingFields;
const realServerSettings = model.realServerSettingFields;

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

/**
 * A diff in fields: `replacing` fields that changed replace the resource, `updating` ones update it in
 * place (each compared as given: normalised forms where the program and the kernel say one thing two
 * ways). The plan marks exactly these fields, also after a refresh (olds are the refreshed outputs).
 * A replacement creates the new resource before it deletes the old: the objects both declare are held
 * by both in between (see the agent's holders), so a replacement never takes down what stays.
 */
function fieldsDiff(replacing: Record<string, [unknown, unknown]>, updating: Record<string, [unknown, unknown]>): Diff {
    const fields: Record<string, FieldChange> = {};
    for (const [f, [a, b]] of Object.entries(replacing)) if (changed(a, b)) fields[f] = "update-replace";
    for (const [f, [a, b]] of Object.entries(updating)) if (changed(a, b) && !fields[f]) fields[f] = a === undefined ? "add" : b === undefined ? "delete" : "update";
    const replaces = Object.keys(fields).filter((f) => fields[f] === "update-replace");
    return withDetailedDiff({ changes: Object.keys(fields).length > 0, replaces }, fields);
}

/** Each field of two views, paired. */
const pairs = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, [unknown, unknown]> =>
    Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, [a[k], b[k]]]));

const serviceView = (s: VirtualService) => model.serviceView(s) as unknown as Record<string, unknown>;
const realServerView = (r: RealServer) => model.realServerView(r) as unknown as Record<string, unknown>;

/** The settings of a declaration in the form the kernel reports, for comparing. */
const normalService = (i: Record<string, unknown>) => serviceView(model.normalizeService(i as model.ServiceSpec));
const normalRealServer = (i: Record<string, unknown>) =>
    realServerView(model.normalizeRealServer(i as unknown as model.RealServerSpec, model.serviceId(i.service as model.ServiceKey)));

async function liveService(c: Connection, key: model.ServiceKey): Promise<ServiceState | undefined> {
    const st = await (await agentFor(c)).request<{ services: ServiceState[] }>("state", { services: [key] });
    return st.services[0];
}

const directorFields = ["connection", "timeouts", "ipForward", "ipv6Forward", "addresses", "sync", "kernel", "ipvsVersion", "agentVersion"];

export const director: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, directorFields, failures);
        checkConnection(news.connection, "connection", failures);
        if (news.timeouts !== undefined) failures.push(...model.validateTimeouts(news.timeouts));
        for (const f of ["ipForward", "ipv6Forward"])
            if (news[f] !== undefined && typeof news[f] !== "boolean") failures.push({ property: f, reason: `${model.show(news[f])} is not a boolean` });
        if (news.addresses !== undefined && !Array.isArray(news.addresses))
            failures.push({ property: "addresses", reason: `${model.show(news.addresses)} is not a list of addresses` });
        else for (const [i, a] of ((news.addresses ?? []) as unknown[]).entries()) failures.push(...model.validateHostAddress(a, `addresses[${i}]`));
        checkSync(news.sync, failures);
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        return fieldsDiff({ connection: [target(olds.connection), target(news.connection)] }, {
            connection: [olds.connection, news.connection], timeouts: [olds.timeouts, news.timeouts], ipForward: [olds.ipForward, news.ipForward],
            ipv6Forward: [olds.ipv6Forward, news.ipv6Forward], addresses: [olds.addresses, news.addresses], sync: [normalSync(olds.sync), normalSync(news.sync)],
            holder: holderPair(olds, news),
        });
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
        if (probe.recordProblem) throw new Error(`${target(c)}: ${probe.recordProblem}`);
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
        const holder = props.holder as string | undefined;
        const changes: unknown[] = [...addressChanges(props.addresses ?? [], [], holder), ...restores(props, undefined, holder)];
        changes.push(...syncStates(props.sync).map((s) => ({ stopDaemon: s, holder })));
        if (changes.length) await apply(props.connection, changes);
    },
};

const { ipv4Forward, ipv6Forward } = model;

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
const restores = (olds: Record<string, any>, news: Record<string, any> | undefined, holder: string | undefined) => [
    ...(olds.timeouts && !news?.timeouts ? [{ restore: "timeouts", holder }] : []),
    ...(olds.ipForward !== undefined && news?.ipForward === undefined ? [{ restore: ipv4Forward, holder }] : []),
    ...(olds.ipv6Forward !== undefined && news?.ipv6Forward === undefined ? [{ restore: ipv6Forward, holder }] : []),
];

/** Sets what the director declares (the node records what it found the first time, to restore on delete). */
async function converge(c: Connection, inputs: Record<string, any>, olds?: Record<string, any>): Promise<Record<string, unknown>> {
    const probe = await (await agentFor(c)).request<Record<string, any>>("probe");
    const { holder, first } = holdAs("director", inputs, olds);
    const changes: unknown[] = [...first, ...addressChanges(olds?.addresses ?? [], inputs.addresses ?? [], holder), ...(olds ? restores(olds, inputs, holder) : [])];
    if (inputs.timeouts) changes.push({ timeouts: inputs.timeouts, holder });
    if (inputs.ipForward !== undefined) changes.push({ sysctl: ipv4Forward, value: inputs.ipForward ? 1 : 0, holder });
    if (inputs.ipv6Forward !== undefined) changes.push({ sysctl: ipv6Forward, value: inputs.ipv6Forward ? 1 : 0, holder });
    changes.push(...syncChanges(c, probe, olds?.sync, inputs.sync, holder));
    if (changes.length) await apply(c, changes);
    return plain({
        ...inputs,
        holder,
        kernel: probe.kernelRelease, ipvsVersion: probe.ipvs?.version, agentVersion: probe.agent.version,
    });
}

// The IPVS connection-sync daemons of a director: `sync.master` / `sync.backup` in the program, the
// agent's Daemon on the wire. One of each per network namespace, so the state is the daemon's identity.

type Daemon = model.Daemon;
type SyncDecl = Record<string, Record<string, unknown> | undefined> | undefined;
const { syncStates, daemonOf, normalSync, syncOptions } = model;
const liveSync = model.syncView;
const checkSync = (sync: unknown, failures: Failure[]): void => { failures.push(...model.validateSync(sync)); };

/** Stops the daemons declared before and not now; starts (or, if its settings differ, restarts) each declared one. */
function syncChanges(c: Connection, probe: Record<string, any>, olds: SyncDecl, news: SyncDecl, holder: string | undefined): unknown[] {
    const want = syncStates(news);
    for (const s of want) {
        const given = syncOptions.filter((f) => news![s]![f] !== undefined);
        if (given.length && probe.features?.syncDaemonOptions === false)
            throw new Error(`sync.${s}: ${given.join(", ")} need Linux 4.3 or newer, and ${target(c)} runs ${probe.kernelRelease} (which would ignore them); leave them out`);
    }
    return [
        ...syncStates(olds).filter((s) => !want.includes(s)).map((s) => ({ stopDaemon: s, holder })),
        ...want.map((s) => ({ startDaemon: daemonOf(s, news![s]!), holder })),
    ];
}

interface Address { address: string; interface: string; prefixLength?: number }

/** Changes that take a node from holding `olds` to holding `news` (as `holder`). */
function addressChanges(olds: Address[], news: Address[], holder: string | undefined): unknown[] {
    const key = (a: Address) => `${model.canonicalAddress(a.address)}/${a.prefixLength ?? ""}%${a.interface}`;
    const keep = new Set(news.map(key));
    return [
        ...olds.filter((a) => !keep.has(key(a))).map((a) => ({ deleteAddress: a.address, interface: a.interface, ...(a.prefixLength ? { prefixLength: a.prefixLength } : {}), holder })),
        ...news.map((a) => ({ address: a.address, interface: a.interface, ...(a.prefixLength ? { prefixLength: a.prefixLength } : {}), holder })),
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

const virtualServiceFields = ["connection", ...model.serviceKeyFields, ...model.serviceSettingFields, "adopt"];

export const virtualService: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, virtualServiceFields, failures);
        checkConnection(news.connection, "connection", failures);
        const spec = { ...keyOf(news), ...specOf(news, serviceSettings) } as model.ServiceSpec;
        if (news.persistence !== undefined && (typeof news.persistence !== "object" || news.persistence === null || Array.isArray(news.persistence)))
            failures.push({ property: "persistence", reason: `${model.show(news.persistence)} is not a persistence setting: an object, e.g. { timeout: 360 } (or {} for ipvsadm's defaults)` });
        else failures.push(...model.unknownFields(news.persistence, model.persistenceFields, "persistence", "persistence setting"), ...model.validateService(spec));
        if (news.adopt !== undefined && typeof news.adopt !== "boolean") failures.push({ property: "adopt", reason: `${model.show(news.adopt)} is not a boolean` });
        if (!failures.length && news.connection?.host)
            checkDuplicate(`${target(news.connection)}/${model.serviceName(model.serviceId(spec))}`, `service ${model.serviceName(model.serviceId(spec))} on ${target(news.connection)}`,
                normalService(news), failures);
        return { inputs: withDefaults(news, failures, normalService), failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        // The identity as the kernel has it ("fd00::1" and "fd00:0::1" are one address).
        const sameService = model.serviceName(model.serviceId(keyOf(olds))) === model.serviceName(model.serviceId(keyOf(news)));
        return fieldsDiff({
            connection: [target(olds.connection), target(news.connection)],
            ...(sameService ? {} : Object.fromEntries(model.serviceKeyFields.map((f) => [f, [olds[f], news[f]]]))),
        }, { connection: [olds.connection, news.connection], ...pairs(normalService(olds), normalService(news)), adopt: [olds.adopt, news.adopt], holder: holderPair(olds, news) });
    },
    async create(inputs) {
        const c = inputs.connection as Connection;
        const id = `${target(c)}/${model.serviceName(model.serviceId(keyOf(inputs)))}`;
        const { holder } = holdAs("virtual-service", inputs);
        await apply(c, [{ service: { ...keyOf(inputs), ...specOf(inputs, serviceSettings) }, adopt: inputs.adopt === true, holder }]);
        return { id, outs: plain({ ...inputs, ...normalService(inputs), holder }) };
    },
    async update(_id, olds, news) {
        const { holder, first } = holdAs("virtual-service", news, olds);
        await apply(news.connection, [...first, { service: { ...keyOf(news), ...specOf(news, serviceSettings) }, adopt: true, holder }]);
        return { outs: plain({ ...news, ...normalService(news), holder }) };
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
        await apply(props.connection, [{ deleteService: keyOf(props), holder: props.holder }]);
    },
};

const checkDrain = (d: unknown, failures: Failure[]): void => { failures.push(...model.validateDrain(d)); };
const drainTimeout = (i: Record<string, any>): number | undefined => model.drainTimeout(i.drain);

/** NAT of an IPv6 service needs the director to forward IPv6: say so when it does not (a Director's
 * ipv6Forward sets it). */
async function warnIPv6Forwarding(c: Connection, inputs: Record<string, any>): Promise<void> {
    if ((inputs.forwarding ?? "dr") !== "nat" || model.familyOf(inputs.address) !== "inet6") return;
    const live = await (await agentFor(c)).request<Record<string, number>>("sysctls", { names: [ipv6Forward] });
    if (live[ipv6Forward] !== 1) await warn(`${target(c)}: real server [${inputs.address}] of ${model.serviceName(inputs.service)} is forwarded by NAT, ` +
        `but the director does not forward IPv6 (${ipv6Forward} is ${live[ipv6Forward]}): its replies will not reach the clients; set ipv6Forward on the Director`);
}

const realServerFields = ["connection", "service", "address", "port", ...model.realServerSettingFields, "adopt", "drain"];

export const realServer: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, realServerFields, failures);
        checkConnection(news.connection, "connection", failures);
        const svc = news.service as model.ServiceKey;
        const keyFailures = [...model.unknownFields(svc, model.serviceKeyFields, "service", "service identity field"), ...model.validateServiceKey(svc ?? {})];
        failures.push(...keyFailures.map((f) => ({ property: f.property.startsWith("service.") ? f.property : `service.${f.property}`, reason: f.reason })));
        if (news.tunnel !== undefined && (typeof news.tunnel !== "object" || news.tunnel === null || Array.isArray(news.tunnel)))
            failures.push({ property: "tunnel", reason: `${model.show(news.tunnel)} is not a tunnel setting: an object, e.g. { type: "gue", port: 6080 }` });
        else failures.push(...model.unknownFields(news.tunnel, model.tunnelFields, "tunnel", "tunnel setting"));
        if (!keyFailures.length) failures.push(...model.validateRealServer({ address: news.address, port: news.port, ...specOf(news, realServerSettings) } as model.RealServerSpec, svc));
        if (news.adopt !== undefined && typeof news.adopt !== "boolean") failures.push({ property: "adopt", reason: `${model.show(news.adopt)} is not a boolean` });
        checkDrain(news.drain, failures);
        if (!failures.length && news.connection?.host) {
            const service = model.serviceName(model.serviceId(svc));
            const rs = normalRealServer(news);
            const where = `${model.familyOf(news.address) === "inet6" ? `[${news.address}]` : news.address}:${rs.port}`;
            checkDuplicate(`${target(news.connection)}/${service}/${where}`, `real server ${where} of ${service} on ${target(news.connection)}`, rs, failures);
        }
        return { inputs: withDefaults(news, failures, normalRealServer), failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        const o = normalRealServer(olds), n = normalRealServer(news);
        const service = (i: Record<string, any>) => model.serviceName(model.serviceId(i.service));
        const address = (i: Record<string, any>) => model.canonicalAddress(i.address);
        // drain only says how a later delete goes: a change of it alone updates the state, not the kernel.
        return fieldsDiff({
            connection: [target(olds.connection), target(news.connection)], service: [service(olds), service(news)],
            address: [address(olds), address(news)], port: [o.port, n.port],
        }, { connection: [olds.connection, news.connection], ...pairs({ ...o, port: undefined }, { ...n, port: undefined }),
            drain: [drainTimeout(olds), drainTimeout(news)], adopt: [olds.adopt, news.adopt], holder: holderPair(olds, news) });
    },
    async create(inputs) {
        const c = inputs.connection as Connection;
        const port = normalRealServer(inputs).port;
        const id = `${target(c)}/${model.serviceName(model.serviceId(inputs.service))}/${inputs.address}:${port}`;
        const { holder } = holdAs("real-server", inputs);
        await apply(c, [{ service: inputs.service, realServer: { address: inputs.address, port: inputs.port, ...specOf(inputs, realServerSettings) }, adopt: inputs.adopt === true, holder }]);
        await warnIPv6Forwarding(c, inputs);
        return { id, outs: plain({ ...inputs, ...normalRealServer(inputs), holder }) };
    },
    async update(_id, olds, news) {
        const { holder, first } = holdAs("real-server", news, olds);
        if (first.length || changed(normalRealServer(olds), normalRealServer(news)) || changed(olds.connection, news.connection))
            await apply(news.connection, [...first, { service: news.service, realServer: { address: news.address, port: news.port, ...specOf(news, realServerSettings) }, adopt: true, holder }]);
        return { outs: plain({ ...news, ...normalRealServer(news), holder }) };
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
            await apply(props.connection, [{ service: props.service, deleteRealServer: { address: props.address, port: props.port }, holder: props.holder }]);
            return;
        }
        // Weight 0 (no new connections), wait for the active ones to end or the deadline, then delete
        // (unless another resource still holds it: then this one only lets go).
        const r = await (await agentFor(props.connection)).request<Report & { waitedSeconds: number; activeConnections: number }>("drain",
            { service: props.service, realServer: { address: props.address, port: props.port }, timeoutSeconds, holder: props.holder });
        for (const k of r.kept ?? []) trace(`${target(props.connection)}: ${k}`);
        trace(`drained ${id}: waited ${r.waitedSeconds} s of ${timeoutSeconds} s, ${r.activeConnections} active connections left` +
            `${r.actions.length ? `: ${r.actions.join("; ")}` : " (it was gone already)"}`);
    },
};

// ------------------------------------------------------------------------------------------------
// Sysctls a resource sets and puts back: the node records what it found before the first set.

type Sysctls = Record<string, model.SysctlValue>;

const setSysctls = (want: Sysctls, holder: string | undefined) => Object.entries(want).map(([sysctl, value]) => ({ sysctl, value, holder }));
const restoreSysctls = (names: string[], holder: string | undefined) => names.map((restore) => ({ restore, holder }));

/** The engine keeps an object's keys sorted: compare sysctls in that order. */
const sorted = (o: Sysctls = {}) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

// ------------------------------------------------------------------------------------------------
// RealServerNode: the real-server side of direct routing and tunnelling.

const forwardingOfNode = ["dr", "tun"];
const vipInterface = (forwarding: string) => (forwarding === "tun" ? "tunl0" : "lo");
const nodeAddresses = (i: Record<string, any>): Address[] =>
    ((i.vips ?? []) as string[]).map((address) => ({ address, interface: vipInterface(i.forwarding) }));

const nodeSysctls = (i: Record<string, any>): Sysctls => model.realServerNodeSysctls(i.forwarding, String(i.arpInterface));

async function convergeNode(inputs: Record<string, any>, olds?: Record<string, any>): Promise<Record<string, unknown>> {
    const c = inputs.connection as Connection;
    const want = nodeSysctls(inputs);
    const { holder, first } = holdAs("real-server-node", inputs, olds);
    const modules = inputs.forwarding === "tun" ? [{ module: "ipip", holder }] : [];
    const dropped = Object.keys(olds?.sysctls ?? {}).filter((name) => !(name in want));
    // ARP silenced before the VIPs arrive, so no neighbour ever learns a real server's MAC for a VIP.
    const modulesDropped = olds?.forwarding === "tun" && inputs.forwarding !== "tun" ? [{ deleteModule: "ipip", holder }] : [];
    await apply(c, [...first, ...modules, ...setSysctls(want, holder), ...addressChanges(olds ? nodeAddresses(olds) : [], nodeAddresses(inputs), holder),
        ...restoreSysctls(dropped, holder), ...modulesDropped]);
    return plain({ ...inputs, sysctls: want, holder });
}

export const realServerNode: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, ["connection", "forwarding", "vips", "arpInterface", "sysctls"], failures);
        checkConnection(news.connection, "connection", failures);
        if (!forwardingOfNode.includes(news.forwarding)) failures.push({ property: "forwarding", reason: `${model.show(news.forwarding)} is not a forwarding method a real-server node takes part in (dr or tun)` });
        if (!Array.isArray(news.vips) || news.vips.length === 0) failures.push({ property: "vips", reason: `${model.show(news.vips)} is not a list of at least one VIP` });
        else for (const [i, v] of news.vips.entries())
            if (!model.familyOf(String(v))) failures.push({ property: `vips[${i}]`, reason: `${model.show(v)} is not an IPv4 or IPv6 address` });
        const p = model.interfaceNameProblem(news.arpInterface);
        if (p) failures.push({ property: "arpInterface", reason: p });
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        return fieldsDiff({ connection: [target(olds.connection), target(news.connection)] }, {
            ...Object.fromEntries(["forwarding", "vips", "arpInterface", "connection"].map((f) => [f, [olds[f], news[f]]])),
            sysctls: [sorted(olds.sysctls), sorted(nodeSysctls(news))], holder: holderPair(olds, news),
        });
    },
    async create(inputs) {
        return { id: `${target(inputs.connection)}/real-server-node`, outs: await convergeNode(inputs) };
    },
    async update(_id, olds, news) {
        return { outs: await convergeNode(news, olds) };
    },
    async read(id, props) {
        const c = props.connection as Connection;
        const agent = await agentFor(c);
        const [held, sysctls, probe] = await Promise.all([heldAddresses(c, nodeAddresses(props)),
            agent.request<Sysctls>("sysctls", { names: Object.keys(props.sysctls ?? {}) }), agent.request<Record<string, any>>("probe")]);
        if (probe.recordProblem) throw new Error(`${target(c)}: ${probe.recordProblem}`);
        return { id, props: plain({ ...props, vips: held.map((a) => a.address), sysctls }) };
    },
    async delete(_id, props) {
        await apply(props.connection, [...addressChanges(nodeAddresses(props), [], props.holder), ...restoreSysctls(Object.keys(props.sysctls ?? {}), props.holder),
            ...(props.forwarding === "tun" ? [{ deleteModule: "ipip", holder: props.holder }] : [])]);
    },
};

// ------------------------------------------------------------------------------------------------
// DosProtection: the IPVS defence strategies and the other net.ipv4.vs sysctls of a director.

const dosSettings = model.dosAttributes;
type DosField = model.DosField;
const toKernel = (f: DosField, v: unknown) => model.dosToKernel(f, v);
const fromKernel = (f: DosField, v: model.SysctlValue) => model.dosFromKernel(f, v);
const declaredDos = (i: Record<string, unknown>) => model.dosProtectionFields.filter((f) => i[f] !== undefined);

async function convergeDos(inputs: Record<string, any>, olds?: Record<string, any>): Promise<Record<string, unknown>> {
    const c = inputs.connection as Connection;
    const fields = declaredDos(inputs);
    const live = await (await agentFor(c)).request<Sysctls>("sysctls", { names: fields.map((f) => dosSettings[f].sysctl) });
    // A value that already reads as declared is kept as it is (auto: the kernel's 1 or 2).
    const want = Object.fromEntries(fields.map((f) => {
        const name = dosSettings[f].sysctl;
        return [name, fromKernel(f, live[name]) === inputs[f] ? live[name] : toKernel(f, inputs[f])];
    }));
    const dropped = declaredDos(olds ?? {}).filter((f) => !fields.includes(f)).map((f) => dosSettings[f].sysctl);
    const { holder, first } = holdAs("dos-protection", inputs, olds);
    const changes = [...first, ...setSysctls(want, holder), ...restoreSysctls(dropped, holder)];
    if (changes.length) await apply(c, changes);
    return plain({ ...inputs, holder });
}

export const dosProtection: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, ["connection", ...model.dosProtectionFields], failures);
        checkConnection(news.connection, "connection", failures);
        for (const f of model.dosProtectionFields) {
            const p = news[f] === undefined ? undefined : model.dosProblem(f, news[f]);
            if (p) failures.push({ property: f, reason: p });
        }
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        return fieldsDiff({ connection: [target(olds.connection), target(news.connection)] },
            { ...Object.fromEntries([...Object.keys(dosSettings), "connection"].map((f) => [f, [olds[f], news[f]]])), holder: holderPair(olds, news) });
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
        return { id, props: plain({ ...props, ...Object.fromEntries(fields.map((f) => [f, fromKernel(f, live[dosSettings[f].sysctl])])) }) };
    },
    async delete(_id, props) {
        const changes = restoreSysctls(declaredDos(props).map((f) => dosSettings[f].sysctl), props.holder);
        if (changes.length) await apply(props.connection, changes);
    },
};
