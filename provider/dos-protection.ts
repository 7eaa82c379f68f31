// The DosProtection provider: the IPVS defence strategies and the other net.ipv4.vs sysctls of a director
// (model.dosAttributes names the sysctl behind each field); each goes back on delete as the node found it.
import type * as pulumi from "@pulumi/pulumi";
import { agentFor } from "./client";
import {
    apply, type Check, checkConnection, checkFields, type Diff, type Failure, fieldsDiff, holdAs, holderPair, plain,
    restoreSysctls, setSysctls,
} from "./common";
import * as model from "./model";
import { target, type Connection } from "./model";

/** The fields a declaration sets. */
const declaredDos = (i: Record<string, unknown>) => model.dosProtectionFields.filter((f) => i[f] !== undefined);
const sysctlOf = (f: model.DosField) => model.dosAttributes[f].sysctl;

async function convergeDos(inputs: Record<string, any>, olds?: Record<string, any>): Promise<Record<string, unknown>> {
    const c = inputs.connection as Connection;
    const fields = declaredDos(inputs);
    const live = await (await agentFor(c)).request("sysctls", { names: fields.map(sysctlOf) });
    // A value that already reads as declared is kept as it is (auto: the kernel's 1 or 2).
    const want = Object.fromEntries(fields.map((f) => {
        const name = sysctlOf(f);
        return [name, model.dosFromKernel(f, live[name]) === inputs[f] ? live[name] : model.dosToKernel(f, inputs[f])];
    }));
    const dropped = declaredDos(olds ?? {}).filter((f) => !fields.includes(f)).map(sysctlOf);
    const { holder, first } = holdAs("dos-protection", inputs, olds);
    const changes = [...first, ...setSysctls(want, holder), ...restoreSysctls(dropped, holder)];
    if (changes.length) await apply(c, changes);
    return plain({ ...inputs, holder });
}

export const dosProtection: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, ["connection", ...model.dosProtectionFields], failures);
        checkConnection(news.connection, failures);
        for (const f of model.dosProtectionFields) {
            const p = news[f] === undefined ? undefined : model.dosProblem(f, news[f]);
            if (p) failures.push({ property: f, reason: p });
        }
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        return fieldsDiff({ connection: [target(olds.connection), target(news.connection)] }, {
            ...Object.fromEntries([...model.dosProtectionFields, "connection"].map((f) => [f, [olds[f], news[f]]])),
            holder: holderPair(olds, news),
        });
    },
    async create(inputs) {
        return { id: `${target(inputs.connection)}/dos-protection`, outs: await convergeDos(inputs) };
    },
    async update(_id, olds, news) {
        return { outs: await convergeDos(news, olds) };
    },
    async read(id, props) {
        const fields = declaredDos(props);
        const live = await (await agentFor(props.connection)).request("sysctls", { names: fields.map(sysctlOf) });
        const values = Object.fromEntries(fields.map((f) => [f, model.dosFromKernel(f, live[sysctlOf(f)])]));
        return { id, props: plain({ ...props, ...values }) };
    },
    async delete(_id, props) {
        const changes = restoreSysctls(declaredDos(props).map(sysctlOf), props.holder);
        if (changes.length) await apply(props.connection, changes);
    },
};
