// The RealServerNode provider: the real-server side of direct routing and tunnelling. The VIPs go on lo
// (dr) or tunl0 (tun), ARP for them is silenced, and every sysctl goes back on delete as the node found it.
import type * as pulumi from "@pulumi/pulumi";
import { agentFor } from "./client";
import {
    addressChanges, apply, type Check, checkConnection, checkFields, type Diff, type Failure, fieldsDiff,
    heldAddresses, holdAs, holderPair, plain, restoreSysctls, setSysctls, sorted, type Sysctls,
} from "./common";
import * as model from "./model";
import { target, type Connection } from "./model";

const forwardingOfNode = ["dr", "tun"];
const vipInterface = (forwarding: string) => (forwarding === "tun" ? "tunl0" : "lo");
const nodeAddresses = (i: Record<string, any>): model.HostAddress[] =>
    ((i.vips ?? []) as string[]).map((address) => ({ address, interface: vipInterface(i.forwarding) }));

const nodeSysctls = (i: Record<string, any>): Sysctls =>
    model.realServerNodeSysctls(i.forwarding, String(i.arpInterface));

async function convergeNode(inputs: Record<string, any>, olds?: Record<string, any>): Promise<Record<string, unknown>> {
    const c = inputs.connection as Connection;
    const want = nodeSysctls(inputs);
    const { holder, first } = holdAs("real-server-node", inputs, olds);
    const modules = inputs.forwarding === "tun" ? [{ module: "ipip", holder }] : [];
    const dropped = Object.keys(olds?.sysctls ?? {}).filter((name) => !(name in want));
    // ARP silenced before the VIPs arrive, so no neighbour ever learns a real server's MAC for a VIP.
    const modulesDropped = olds?.forwarding === "tun" && inputs.forwarding !== "tun"
        ? [{ deleteModule: "ipip", holder }] : [];
    await apply(c, [...first, ...modules, ...setSysctls(want, holder),
        ...addressChanges(olds ? nodeAddresses(olds) : [], nodeAddresses(inputs), holder),
        ...restoreSysctls(dropped, holder), ...modulesDropped]);
    return plain({ ...inputs, sysctls: want, holder });
}

export const realServerNode: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, ["connection", "forwarding", "vips", "arpInterface", "sysctls"], failures);
        checkConnection(news.connection, failures);
        if (!forwardingOfNode.includes(news.forwarding)) failures.push({ property: "forwarding", reason:
            `${model.show(news.forwarding)} is not a forwarding method a real-server node takes part in (dr or tun)` });
        if (!Array.isArray(news.vips) || news.vips.length === 0)
            failures.push({ property: "vips", reason: `${model.show(news.vips)} is not a list of at least one VIP` });
        else for (const [i, v] of news.vips.entries()) if (!model.familyOf(String(v)))
            failures.push({ property: `vips[${i}]`, reason: `${model.show(v)} is not an IPv4 or IPv6 address` });
        const p = model.interfaceNameProblem(news.arpInterface);
        if (p) failures.push({ property: "arpInterface", reason: p });
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        return fieldsDiff({ connection: [target(olds.connection), target(news.connection)] }, {
            ...Object.fromEntries(["forwarding", "vips", "arpInterface", "connection"]
                .map((f) => [f, [olds[f], news[f]]])),
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
            agent.request("sysctls", { names: Object.keys(props.sysctls ?? {}) }), agent.request("probe")]);
        if (probe.recordProblem) throw new Error(`${target(c)}: ${probe.recordProblem}`);
        return { id, props: plain({ ...props, vips: held.map((a) => a.address), sysctls }) };
    },
    async delete(_id, props) {
        await apply(props.connection, [...addressChanges(nodeAddresses(props), [], props.holder),
            ...restoreSysctls(Object.keys(props.sysctls ?? {}), props.holder),
            ...(props.forwarding === "tun" ? [{ deleteModule: "ipip", holder: props.holder }] : [])]);
    },
};
