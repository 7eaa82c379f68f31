// The VirtualService provider: a virtual service on a director, by protocol, address and port or by
// firewall mark, with its scheduler and persistence. Its identity is the kernel's (canonical addresses).
import type * as pulumi from "@pulumi/pulumi";
import {
    apply, type Check, checkBooleans, checkConnection, checkDuplicate, checkFields, type Diff, type Failure,
    fieldsDiff, holdAs, holderPair, keyOf, liveService, pairs, plain, withDefaults,
} from "./common";
import * as model from "./model";
import { target, type Connection } from "./model";

const virtualServiceFields = ["connection", ...model.serviceKeyFields, ...model.serviceSettingFields,
    ...model.serviceHealthFields, "adopt"];

/** The health settings a declaration gives (its default check, sorry server, quorum), if any. */
const healthSpec = (i: Record<string, unknown>): model.ServiceHealthSpec | undefined => {
    const h = model.pick(i, model.serviceHealthFields);
    return Object.keys(h).length ? h as model.ServiceHealthSpec : undefined;
};

/** The health settings as the node records them, for comparing. */
const normalHealth = (i: Record<string, unknown>) => {
    const h = healthSpec(i);
    const id = model.serviceId(keyOf(i));
    return h && model.normalizeServiceHealth(h, (r) => model.normalizeRealServer(r, id));
};

/** The change that declares a service, with its health settings when it has any. */
const declare = (i: Record<string, unknown>, adopt: boolean, holder: string | undefined): model.Change => {
    const health = healthSpec(i);
    return { service: serviceSpec(i), adopt, holder, ...(health ? { health } : {}) };
};

/** The service a declaration gives: its identity and its settings. */
const serviceSpec = (i: Record<string, unknown>) =>
    ({ ...keyOf(i), ...model.pick(i, model.serviceSettingFields) }) as model.ServiceSpec;

/** The settings of a declaration in the form the kernel reports, for comparing. */
const normalService = (i: Record<string, unknown>) => model.serviceView(model.normalizeService(i as model.ServiceSpec));

export const virtualService: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, virtualServiceFields, failures);
        checkConnection(news.connection, failures);
        const spec = serviceSpec(news);
        const persistence = news.persistence === undefined ? undefined
            : model.serviceAttributes.persistence.rule(news.persistence);
        if (persistence) failures.push({ property: "persistence", reason: persistence });
        else failures.push(
            ...model.unknownFields(news.persistence, model.persistenceFields, "persistence", "persistence setting"),
            ...model.validateService(spec));
        checkBooleans(news, ["adopt"], failures);
        const health = model.validateServiceHealth(news);
        failures.push(...health);
        if (!health.length && !model.validateServiceKey(spec).length) {
            if (news.healthCheck) failures.push(...model.checkPortProblem(news.healthCheck as model.HealthCheckSpec,
                spec.fwmark !== undefined ? 0 : undefined, "healthCheck"));
            if (news.sorryServer) failures.push(...model.validateRealServer(
                model.sorryRealServer(news.sorryServer as model.SorryServerSpec), spec)
                .map((f) => ({ property: `sorryServer.${f.property}`, reason: f.reason })));
        }
        if (!failures.length && news.connection?.host) {
            const service = model.serviceName(model.serviceId(spec));
            checkDuplicate(`${target(news.connection)}/${service}`, `service ${service} on ${target(news.connection)}`,
                normalService(news), failures);
        }
        return { inputs: withDefaults(news, failures, normalService), failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        // The identity as the kernel has it ("fd00::1" and "fd00:0::1" are one address).
        const name = (i: Record<string, unknown>) => model.serviceName(model.serviceId(keyOf(i)));
        const sameService = name(olds) === name(news);
        return fieldsDiff({
            connection: [target(olds.connection), target(news.connection)],
            ...(sameService ? {} : Object.fromEntries(model.serviceKeyFields.map((f) => [f, [olds[f], news[f]]]))),
        }, { connection: [olds.connection, news.connection], ...pairs(normalService(olds), normalService(news)),
            ...pairs(normalHealth(olds) ?? {}, normalHealth(news) ?? {}),
            adopt: [olds.adopt, news.adopt], holder: holderPair(olds, news) });
    },
    async create(inputs) {
        const c = inputs.connection as Connection;
        const id = `${target(c)}/${model.serviceName(model.serviceId(keyOf(inputs)))}`;
        const { holder } = holdAs("virtual-service", inputs);
        await apply(c, [declare(inputs, inputs.adopt === true, holder)]);
        return { id, outs: plain({ ...inputs, ...normalService(inputs), holder }) };
    },
    async update(_id, olds, news) {
        const { holder, first } = holdAs("virtual-service", news, olds);
        await apply(news.connection, [...first, declare(news, true, holder)]);
        return { outs: plain({ ...news, ...normalService(news), holder }) };
    },
    async read(id, props) {
        const live = await liveService(props.connection, keyOf(props));
        if (!live) return {};
        const props2: Record<string, unknown> = { ...props };
        for (const f of model.serviceSettingFields) delete props2[f];
        return { id, props: { ...props2, ...model.serviceView(live) } };
    },
    async delete(_id, props) {
        await apply(props.connection, [{ deleteService: keyOf(props), holder: props.holder }]);
    },
};
