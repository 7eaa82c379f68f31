// The RealServer provider: a real server behind a virtual service, with its forwarding, weight and
// thresholds; deleted at once, or drained first (weight 0, then a wait for its active connections).
import type * as pulumi from "@pulumi/pulumi";
import { agentFor } from "./client";
import {
    apply, changed, type Check, checkBooleans, checkDuplicate, checkFields, type Diff, type Failure, fieldsDiff,
    holdAs, holderPair, liveService, pairs, plain, withDefaults,
} from "./common";
import * as model from "./model";
import { target, type Connection } from "./model";
import { trace } from "./trace";
import { warn } from "./warn";

const realServerFields = ["connection", "service", "address", "port", ...model.realServerSettingFields,
    "healthCheck", "adopt", "drain"];


/** The real server a declaration gives: its address, port and settings. */
const realServerSpec = (i: Record<string, any>) =>
    ({ address: i.address, port: i.port, ...model.pick(i, model.realServerSettingFields) }) as model.RealServerSpec;

/** A declaration's check with its defaults, as the node records it (undefined: the service's default). */
const normalCheck = (i: Record<string, any>) =>
    (i.healthCheck === undefined ? undefined : model.normalizeHealthCheck(i.healthCheck));

/** The change that declares a real server, with its check when it has one. */
const declare = (i: Record<string, any>, adopt: boolean, holder: string | undefined): model.Change =>
    ({ service: i.service, realServer: realServerSpec(i), adopt, holder,
        ...(i.healthCheck !== undefined ? { healthCheck: i.healthCheck } : {}) });

/** The settings of a declaration in the form the kernel reports, for comparing. */
const normalRealServer = (i: Record<string, unknown>) =>
    model.realServerView(model.normalizeRealServer(i as unknown as model.RealServerSpec,
        model.serviceId(i.service as model.ServiceKey)));

/** NAT of an IPv6 service needs the director to forward IPv6: say so when it does not (a Director's
 * ipv6Forward sets it). */
async function warnIPv6Forwarding(c: Connection, inputs: Record<string, any>): Promise<void> {
    if ((inputs.forwarding ?? "dr") !== "nat" || model.familyOf(inputs.address) !== "inet6") return;
    const live = await (await agentFor(c)).request("sysctls", { names: [model.ipv6Forward] });
    const forwarding = live[model.ipv6Forward];
    if (forwarding !== 1) await warn(`${target(c)}: real server [${inputs.address}] of ` +
        `${model.serviceName(inputs.service)} is forwarded by NAT, but the director does not forward IPv6 ` +
        `(${model.ipv6Forward} is ${forwarding}): its replies will not reach the clients; ` +
        "set ipv6Forward on the Director");
}

export const realServer: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, realServerFields, failures);
        model.checkConnection(news.connection, "connection", failures);
        const svc = news.service as model.ServiceKey;
        const keyFailures = [...model.unknownFields(svc, model.serviceKeyFields, "service", "service identity field"),
            ...model.validateServiceKey(svc ?? {})];
        const inService = (property: string) => (property.startsWith("service.") ? property : `service.${property}`);
        failures.push(...keyFailures.map((f) => ({ property: inService(f.property), reason: f.reason })));
        // A tunnel that is not an object is the table's rule, which validateRealServer applies (with the others).
        const tunnel = news.tunnel === undefined ? undefined : model.realServerAttributes.tunnel.rule(news.tunnel);
        if (!tunnel) failures.push(...model.unknownFields(news.tunnel, model.tunnelFields, "tunnel", "tunnel setting"));
        if (!keyFailures.length) failures.push(...model.validateRealServer(realServerSpec(news), svc));
        else if (tunnel) failures.push({ property: "tunnel", reason: tunnel });
        checkBooleans(news, ["adopt"], failures);
        failures.push(...model.validateDrain(news.drain));
        if (news.healthCheck !== undefined) {
            const bad = model.validateHealthCheck(news.healthCheck, "healthCheck");
            failures.push(...bad);
            if (!bad.length && !keyFailures.length)
                failures.push(...model.checkPortProblem(news.healthCheck,
                    svc.fwmark !== undefined ? (news.port ?? 0) : news.port ?? svc.port, "healthCheck"));
        }
        if (!failures.length && news.connection?.host) {
            const service = model.serviceName(model.serviceId(svc));
            const rs = normalRealServer(news);
            const where = `${model.familyOf(news.address) === "inet6" ? `[${news.address}]` : news.address}:${rs.port}`;
            checkDuplicate(`${target(news.connection)}/${service}/${where}`,
                `real server ${where} of ${service} on ${target(news.connection)}`, rs, failures);
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
        }, { connection: [olds.connection, news.connection],
            ...pairs({ ...o, port: undefined }, { ...n, port: undefined }),
            healthCheck: [normalCheck(olds), normalCheck(news)],
            drain: [model.drainTimeout(olds.drain), model.drainTimeout(news.drain)], adopt: [olds.adopt, news.adopt],
            holder: holderPair(olds, news) });
    },
    async create(inputs) {
        const c = inputs.connection as Connection;
        const port = normalRealServer(inputs).port;
        const id = `${target(c)}/${model.serviceName(model.serviceId(inputs.service))}/${inputs.address}:${port}`;
        const { holder } = holdAs("real-server", inputs);
        await apply(c, [declare(inputs, inputs.adopt === true, holder)]);
        await warnIPv6Forwarding(c, inputs);
        return { id, outs: plain({ ...inputs, ...normalRealServer(inputs), holder }) };
    },
    async update(_id, olds, news) {
        const { holder, first } = holdAs("real-server", news, olds);
        // A change of drain or adopt alone leaves the kernel as it is.
        const settings = changed(normalRealServer(olds), normalRealServer(news)) ||
            changed(normalCheck(olds), normalCheck(news));
        if (first.length || settings || changed(olds.connection, news.connection))
            await apply(news.connection, [...first, declare(news, true, holder)]);
        return { outs: plain({ ...news, ...normalRealServer(news), holder }) };
    },
    async read(id, props) {
        const live = await liveService(props.connection, props.service);
        const want = model.normalizeRealServer({ address: props.address, port: props.port },
            model.serviceId(props.service));
        const same = (r: { address: string; port: number }) => r.address === want.address && r.port === want.port;
        const rs = live?.realServers.find(same);
        const health = live?.health.find(same);
        // A real server its check holds down is as declared (a weight of 0, or no entry in the table, is the
        // check's doing, not drift); its health is an output.
        const held = health && health.effect !== "declared";
        if (!rs && !(held && health.effect === "removed")) return {};
        const props2: Record<string, unknown> = { ...props };
        for (const f of [...model.realServerSettingFields, "healthState"]) delete props2[f];
        const declared = normalRealServer(props);
        const view = rs ? { ...model.realServerView(rs), ...(held ? { weight: declared.weight } : {}) } : declared;
        const healthState = health && { state: health.state, effect: health.effect,
            ...(health.since ? { since: health.since } : {}), ...(health.last ? { lastCheck: health.last } : {}) };
        return { id, props: { ...props2, ...view, ...(healthState ? { healthState } : {}) } };
    },
    async delete(id, props) {
        const timeoutSeconds = model.drainTimeout(props.drain);
        const c = props.connection as Connection;
        const service = props.service as model.ServiceKey, holder = props.holder as string | undefined;
        const realServer = { address: props.address as string, port: props.port as number | undefined };
        if (timeoutSeconds === undefined) {
            await apply(c, [{ service, deleteRealServer: realServer, holder }]);
            return;
        }
        // Weight 0 (no new connections), wait for the active ones to end or the deadline, then delete
        // (unless another resource still holds it: then this one only lets go).
        const r = await (await agentFor(c)).request("drain", { service, realServer, timeoutSeconds, holder });
        for (const k of r.kept ?? []) trace(`${target(c)}: ${k}`);
        trace(`drained ${id}: waited ${r.waitedSeconds} s of ${timeoutSeconds} s, ` +
            `${r.activeConnections} active connections left` +
            `${r.actions.length ? `: ${r.actions.join("; ")}` : " (it was gone already)"}`);
    },
};
