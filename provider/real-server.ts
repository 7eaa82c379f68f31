// The RealServer provider: a real server behind a virtual service, with its forwarding, weight and
// thresholds; deleted at once, or drained first (weight 0, then a wait for its active connections).
import type * as pulumi from "@pulumi/pulumi";
import { agentFor } from "./client";
import {
    apply, changed, type Check, checkBooleans, checkConnection, checkDuplicate, checkFields, type Diff, type Failure,
    fieldsDiff, holdAs, holderPair, liveService, pairs, plain, withDefaults,
} from "./common";
import * as model from "./model";
import { target, type Connection } from "./model";
import { trace } from "./trace";
import { warn } from "./warn";

/** The fields of one real server's declaration: a RealServer's (with its connection and service), or an
 * entry of a RealServers' list. */
export const realServerEntryFields = ["address", "port", ...model.realServerSettingFields, "healthCheck", "adopt",
    "drain"];
const realServerFields = ["connection", "service", ...realServerEntryFields];

/** The real server a declaration gives: its address, port and settings. */
const realServerSpec = (i: Record<string, any>) =>
    ({ address: i.address, port: i.port, ...model.pick(i, model.realServerSettingFields) }) as model.RealServerSpec;

/** A declaration's check with its defaults, as the node records it (undefined: the service's default). */
const normalCheck = (i: Record<string, any>) =>
    (i.healthCheck === undefined ? undefined : model.normalizeHealthCheck(i.healthCheck));

/** The change that declares a real server of `service`, with its check when it has one. */
export const declare = (service: model.ServiceKey, i: Record<string, any>, adopt: boolean,
    holder: string | undefined): model.Change =>
    ({ service, realServer: realServerSpec(i), adopt, holder,
        ...(i.healthCheck !== undefined ? { healthCheck: i.healthCheck } : {}) });

/** The settings of a real server's declaration of `service` in the form the kernel reports, for comparing. */
export const normalRealServer = (service: model.ServiceKey, i: Record<string, unknown>) =>
    model.realServerView(model.normalizeRealServer(i as unknown as model.RealServerSpec, model.serviceId(service)));

/** How a real server is named in words and in a RealServers' list: address:port ([address]:port for IPv6). */
export function realServerName(service: model.ServiceKey, i: Record<string, unknown>): string {
    const port = normalRealServer(service, i).port;
    const address = model.canonicalAddress(i.address as string);
    return `${model.familyOf(address) === "inet6" ? `[${address}]` : address}:${port}`;
}

/**
 * The failures of one real server's declaration of `svc` (undefined when the service's identity is itself
 * wrong: then only what needs no service is checked), each property named from the declaration and put
 * after `prefix`; a second declaration of the same object in the program with other settings among them.
 */
export function checkRealServer(entry: Record<string, any>, svc: model.ServiceKey | undefined,
    c: Connection | undefined, prefix = ""): Failure[] {
    const failures: Failure[] = [];
    // A tunnel that is not an object is the table's rule, which validateRealServer applies (with the others).
    const tunnel = entry.tunnel === undefined ? undefined : model.realServerAttributes.tunnel.rule(entry.tunnel);
    if (!tunnel) failures.push(...model.unknownFields(entry.tunnel, model.tunnelFields, "tunnel", "tunnel setting"));
    if (svc) failures.push(...model.validateRealServer(realServerSpec(entry), svc));
    else if (tunnel) failures.push({ property: "tunnel", reason: tunnel });
    checkBooleans(entry, ["adopt"], failures);
    failures.push(...model.validateDrain(entry.drain));
    if (entry.healthCheck !== undefined) {
        const bad = model.validateHealthCheck(entry.healthCheck, "healthCheck");
        failures.push(...bad);
        if (!bad.length && svc)
            failures.push(...model.checkPortProblem(entry.healthCheck,
                svc.fwmark !== undefined ? (entry.port ?? 0) : entry.port ?? svc.port, "healthCheck"));
    }
    if (!failures.length && svc && c?.host) {
        const service = model.serviceName(model.serviceId(svc));
        const where = realServerName(svc, entry);
        checkDuplicate(`${target(c)}/${service}/${where}`, `real server ${where} of ${service} on ${target(c)}`,
            normalRealServer(svc, entry), failures);
    }
    return failures.map((f) => ({ ...f, property: prefix + f.property }));
}

/** The failures of the connection and the service a real server's resource declares them of; the service
 * when it is right. */
export function checkOwner(news: Record<string, any>, failures: Failure[]): model.ServiceKey | undefined {
    checkConnection(news.connection, failures);
    const svc = news.service as model.ServiceKey;
    const keyFailures = [...model.unknownFields(svc, model.serviceKeyFields, "service", "service identity field"),
        ...model.validateServiceKey(svc ?? {})];
    const inService = (property: string) => (property.startsWith("service.") ? property : `service.${property}`);
    failures.push(...keyFailures.map((f) => ({ property: inService(f.property), reason: f.reason })));
    return keyFailures.length ? undefined : svc;
}

/** NAT of an IPv6 service needs the director to forward IPv6: say so when it does not (a Director's
 * ipv6Forward sets it). */
export async function warnIPv6Forwarding(c: Connection, service: model.ServiceKey, entries: Array<Record<string, any>>):
    Promise<void> {
    const nat6 = entries.filter((i) => (i.forwarding ?? "dr") === "nat" && model.familyOf(i.address) === "inet6");
    if (!nat6.length) return;
    const live = await (await agentFor(c)).request("sysctls", { names: [model.ipv6Forward] });
    const forwarding = live[model.ipv6Forward];
    if (forwarding !== 1) await warn(`${target(c)}: real server${nat6.length > 1 ? "s" : ""} ` +
        `${nat6.map((i) => `[${i.address}]`).join(", ")} of ${model.serviceName(service)} ` +
        `${nat6.length > 1 ? "are" : "is"} forwarded by NAT, but the director does not forward IPv6 ` +
        `(${model.ipv6Forward} is ${forwarding}): ${nat6.length > 1 ? "their" : "its"} replies will not reach the ` +
        "clients; set ipv6Forward on the Director");
}

/**
 * A declared real server (its outputs) as the live service has it, or undefined when the node has it no
 * more. A real server its check holds down is as declared (a weight of 0, or no entry in the table, is the
 * check's doing, not drift); its health is an output (healthState).
 */
export function liveRealServer(service: model.ServiceKey, props: Record<string, any>,
    live: Awaited<ReturnType<typeof liveService>>): Record<string, unknown> | undefined {
    const want = model.normalizeRealServer({ address: props.address, port: props.port }, model.serviceId(service));
    const same = (r: { address: string; port: number }) => r.address === want.address && r.port === want.port;
    const rs = live?.realServers.find(same);
    const health = live?.health.find(same);
    const held = health && health.effect !== "declared";
    if (!rs && !(held && health.effect === "removed")) return undefined;
    const props2: Record<string, unknown> = { ...props };
    for (const f of [...model.realServerSettingFields, "healthState"]) delete props2[f];
    const declared = normalRealServer(service, props);
    const view = rs ? { ...model.realServerView(rs), ...(held ? { weight: declared.weight } : {}) } : declared;
    const healthState = health && { state: health.state, effect: health.effect,
        ...(health.since ? { since: health.since } : {}), ...(health.last ? { lastCheck: health.last } : {}) };
    return { ...props2, ...view, ...(healthState ? { healthState } : {}) };
}

/** The fields of two declarations of one real server that an update in place changes, paired. */
export function settingPairs(oldService: model.ServiceKey, olds: Record<string, any>, service: model.ServiceKey,
    news: Record<string, any>): Record<string, [unknown, unknown]> {
    const o = normalRealServer(oldService, olds), n = normalRealServer(service, news);
    // drain only says how a later delete goes: a change of it alone updates the state, not the kernel.
    return { ...pairs({ ...o, port: undefined }, { ...n, port: undefined }),
        healthCheck: [normalCheck(olds), normalCheck(news)],
        drain: [model.drainTimeout(olds.drain), model.drainTimeout(news.drain)], adopt: [olds.adopt, news.adopt] };
}

/** Whether a change between two declarations of one real server changes the node (drain or adopt alone
 * does not). */
export const kernelChanged = (oldService: model.ServiceKey, olds: Record<string, any>, service: model.ServiceKey,
    news: Record<string, any>) => changed(normalRealServer(oldService, olds), normalRealServer(service, news)) ||
    changed(normalCheck(olds), normalCheck(news));

/** Drains a real server and removes it (or only lets go of it, when another holder still declares it). */
export async function drainRealServer(c: Connection, service: model.ServiceKey, props: Record<string, any>,
    timeoutSeconds: number, holder: string | undefined, id: string): Promise<void> {
    const realServer = { address: props.address as string, port: props.port as number | undefined };
    // Weight 0 (no new connections), wait for the active ones to end or the deadline, then delete
    // (unless another resource still holds it: then this one only lets go).
    const r = await (await agentFor(c)).request("drain", { service, realServer, timeoutSeconds, holder });
    for (const k of r.kept ?? []) trace(`${target(c)}: ${k}`);
    trace(`drained ${id}: waited ${r.waitedSeconds} s of ${timeoutSeconds} s, ` +
        `${r.activeConnections} active connections left` +
        `${r.actions.length ? `: ${r.actions.join("; ")}` : " (it was gone already)"}`);
}

export const realServer: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, realServerFields, failures);
        const svc = checkOwner(news, failures);
        failures.push(...checkRealServer(news, svc, failures.length ? undefined : news.connection));
        return { inputs: withDefaults(news, failures, (i) => normalRealServer(svc!, i)), failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        const service = (i: Record<string, any>) => model.serviceName(model.serviceId(i.service));
        const address = (i: Record<string, any>) => model.canonicalAddress(i.address);
        return fieldsDiff({
            connection: [target(olds.connection), target(news.connection)], service: [service(olds), service(news)],
            address: [address(olds), address(news)],
            port: [normalRealServer(olds.service, olds).port, normalRealServer(news.service, news).port],
        }, { connection: [olds.connection, news.connection], ...settingPairs(olds.service, olds, news.service, news),
            holder: holderPair(olds, news) });
    },
    async create(inputs) {
        const c = inputs.connection as Connection, service = inputs.service as model.ServiceKey;
        const id = `${target(c)}/${model.serviceName(model.serviceId(service))}/${inputs.address}:` +
            `${normalRealServer(service, inputs).port}`;
        const { holder } = holdAs("real-server", inputs);
        await apply(c, [declare(service, inputs, inputs.adopt === true, holder)]);
        await warnIPv6Forwarding(c, service, [inputs]);
        return { id, outs: plain({ ...inputs, ...normalRealServer(service, inputs), holder }) };
    },
    async update(_id, olds, news) {
        const { holder, first } = holdAs("real-server", news, olds);
        // A change of drain or adopt alone leaves the kernel as it is.
        if (first.length || kernelChanged(olds.service, olds, news.service, news) ||
            changed(olds.connection, news.connection))
            await apply(news.connection, [...first, declare(news.service, news, true, holder)]);
        return { outs: plain({ ...news, ...normalRealServer(news.service, news), holder }) };
    },
    async read(id, props) {
        const live = await liveService(props.connection, props.service);
        const found = liveRealServer(props.service, props, live);
        return found ? { id, props: found } : {};
    },
    async delete(id, props) {
        const timeoutSeconds = model.drainTimeout(props.drain);
        const c = props.connection as Connection;
        const service = props.service as model.ServiceKey, holder = props.holder as string | undefined;
        if (timeoutSeconds === undefined)
            await apply(c, [{ service, deleteRealServer: { address: props.address, port: props.port }, holder }]);
        else await drainRealServer(c, service, props, timeoutSeconds, holder, id);
    },
};
