// The Director provider: a machine that balances, with its IPVS timeouts, its forwarding sysctls, the
// addresses (VIPs) it holds and its connection-sync daemons. Each is put back on delete as the node found it.
// With failover, the addresses are not put on the director but given to its keepalived (VRRP), which
// holds them while this director is the pair's master: where they are is then not drift.
import type * as pulumi from "@pulumi/pulumi";
import { agentFor } from "./client";
import {
    addressChanges, apply, type Check, checkBooleans, checkConnection, checkFields, type Diff, type Failure,
    fieldsDiff, heldAddresses, holdAs, holderPair, plain,
} from "./common";
import * as model from "./model";
import { target, type Connection } from "./model";

const directorFields = ["connection", "timeouts", "ipForward", "ipv6Forward", "addresses", "sync", "failover",
    "kernel", "ipvsVersion", "agentVersion", "vrrp"];

export const director: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, directorFields, failures);
        checkConnection(news.connection, failures);
        if (news.timeouts !== undefined) failures.push(...model.validateTimeouts(news.timeouts));
        checkBooleans(news, ["ipForward", "ipv6Forward"], failures);
        if (news.addresses !== undefined && !Array.isArray(news.addresses))
            failures.push({ property: "addresses",
                reason: `${model.show(news.addresses)} is not a list of addresses` });
        else for (const [i, a] of ((news.addresses ?? []) as unknown[]).entries())
            failures.push(...model.validateHostAddress(a, `addresses[${i}]`));
        failures.push(...model.validateSync(news.sync));
        if (news.failover !== undefined) {
            failures.push(...model.validateFailover(news.failover));
            if (!Array.isArray(news.addresses) || !news.addresses.length)
                failures.push({ property: "addresses", reason: "failover moves the director's addresses: declare " +
                    "them (the same on each director of the pair)" });
        }
        return { inputs: news, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        return fieldsDiff({ connection: [target(olds.connection), target(news.connection)] }, {
            connection: [olds.connection, news.connection], timeouts: [olds.timeouts, news.timeouts],
            ipForward: [olds.ipForward, news.ipForward], ipv6Forward: [olds.ipv6Forward, news.ipv6Forward],
            addresses: [olds.addresses, news.addresses],
            sync: [model.normalSync(olds.sync), model.normalSync(news.sync)], failover: [olds.failover, news.failover],
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
        const [{ probe, st, fwd }, held] = await Promise.all([directorFacts(c),
            props.failover ? Promise.resolve(props.addresses) : heldAddresses(c, props.addresses ?? [])]);
        if (probe.recordProblem) throw new Error(`${target(c)}: ${probe.recordProblem}`);
        const timeouts = (declared: object) =>
            Object.fromEntries(Object.keys(declared).map((k) => [k, st.timeouts[k as keyof model.Timeouts]]));
        return { id, props: plain({
            ...props,
            ...(props.addresses ? { addresses: held } : {}),
            ...(props.timeouts ? { timeouts: timeouts(props.timeouts) } : {}),
            ...(props.ipForward !== undefined ? { ipForward: fwd[model.ipv4Forward] === 1 } : {}),
            ...(props.ipv6Forward !== undefined ? { ipv6Forward: fwd[model.ipv6Forward] === 1 } : {}),
            ...(props.sync ? { sync: syncNow(props, st) } : {}),
            // A failover whose keepalived is not running is drift: up starts it again.
            failover: props.failover && st.failover?.running ? props.failover : undefined,
            vrrp: props.failover ? st.failover : undefined,
            kernel: probe.kernelRelease, ipvsVersion: probe.ipvs?.version, agentVersion: probe.agent.version,
        }) };
    },
    async delete(_id, props) {
        // Put back what this resource changed, as the node found it (the node keeps what it found).
        const holder = props.holder as string | undefined;
        const changes: model.Change[] = [
            ...(props.failover ? [{ deleteFailover: true as const, holder }]
                : addressChanges(props.addresses ?? [], [], holder)),
            ...restores(props, undefined, holder)];
        changes.push(...model.syncStates(props.sync).map((s) => ({ stopDaemon: s, holder })));
        if (changes.length) await apply(props.connection, changes);
    },
};

/** The declared sync daemons as they run. With a failover that follows the VRRP state, the one this
 * director's state does not run is as declared (stopped on purpose, not drift). */
function syncNow(props: Record<string, any>, st: model.Result<"state">): Record<string, unknown> {
    const view: Record<string, unknown> = model.syncView(props.sync, st.daemons);
    if (props.failover?.syncDaemons === "follow") {
        const idle = model.followedDaemon(st.failover?.state) === "master" ? "backup" : "master";
        if (props.sync[idle] && !view[idle]) view[idle] = props.sync[idle];
    }
    return view;
}

/** What a director is and holds: the probe, the timeouts, the forwarding sysctls. Asked together,
 * so the three requests travel in one round trip. */
async function directorFacts(c: Connection) {
    const agent = await agentFor(c);
    const [probe, st, fwd] = await Promise.all([
        agent.request("probe"),
        agent.request("state", { services: [] }),
        agent.request("sysctls", { names: [model.ipv4Forward, model.ipv6Forward] }),
    ]);
    return { probe, st, fwd };
}

/** What a director stops declaring goes back to what the node found before it was first set. */
function restores(olds: Record<string, any>, news: Record<string, any> | undefined, holder: string | undefined):
    model.Change[] {
    const dropped = (f: string) => olds[f] !== undefined && news?.[f] === undefined;
    return [
        ...(olds.timeouts && !news?.timeouts ? [{ restore: "timeouts", holder }] : []),
        ...(dropped("ipForward") ? [{ restore: model.ipv4Forward, holder }] : []),
        ...(dropped("ipv6Forward") ? [{ restore: model.ipv6Forward, holder }] : []),
    ];
}

/** Sets what the director declares (the node records what it found the first time, to restore on delete). */
async function converge(c: Connection, inputs: Record<string, any>, olds?: Record<string, any>):
    Promise<Record<string, unknown>> {
    const probe = await (await agentFor(c)).request("probe");
    const { holder, first } = holdAs("director", inputs, olds);
    const changes: model.Change[] = [...first, ...failoverChanges(olds, inputs, holder),
        ...(olds ? restores(olds, inputs, holder) : [])];
    if (inputs.timeouts) changes.push({ timeouts: inputs.timeouts, holder });
    if (inputs.ipForward !== undefined)
        changes.push({ sysctl: model.ipv4Forward, value: inputs.ipForward ? 1 : 0, holder });
    if (inputs.ipv6Forward !== undefined)
        changes.push({ sysctl: model.ipv6Forward, value: inputs.ipv6Forward ? 1 : 0, holder });
    changes.push(...syncChanges(c, probe, olds?.sync, inputs.sync, holder));
    if (changes.length) await apply(c, changes);
    return plain({
        ...inputs,
        holder,
        kernel: probe.kernelRelease, ipvsVersion: probe.ipvs?.version, agentVersion: probe.agent.version,
    });
}

/** The addresses, put on the director, or given to its failover: moving from one to the other, the
 * addresses go first (keepalived puts them back once this director is the master). */
function failoverChanges(olds: Record<string, any> | undefined, news: Record<string, any>, holder: string | undefined):
    model.Change[] {
    const placed = (d: Record<string, any> | undefined) => (d && !d.failover ? d.addresses ?? [] : []);
    const changes = addressChanges(placed(olds), placed(news), holder);
    if (news.failover) changes.push({ failover: news.failover, addresses: news.addresses, holder });
    else if (olds?.failover) changes.unshift({ deleteFailover: true, holder });
    return changes;
}

// The IPVS connection-sync daemons of a director: `sync.master` / `sync.backup` in the program, the
// agent's Daemon on the wire. One of each per network namespace, so the state is the daemon's identity.

type SyncDecl = Record<string, Record<string, unknown> | undefined> | undefined;

/** Stops the daemons declared before and not now; starts (or, if its settings differ, restarts) each declared one. */
function syncChanges(c: Connection, probe: model.Probe, olds: SyncDecl, news: SyncDecl, holder: string | undefined):
    model.Change[] {
    const want = model.syncStates(news);
    for (const s of want) {
        const given = model.syncOptions.filter((f) => news![s]![f] !== undefined);
        if (given.length && probe.features?.syncDaemonOptions === false)
            throw new Error(`sync.${s}: ${given.join(", ")} need Linux 4.3 or newer, and ${target(c)} runs ` +
                `${probe.kernelRelease} (which would ignore them); leave them out`);
    }
    return [
        ...model.syncStates(olds).filter((s) => !want.includes(s)).map((s) => ({ stopDaemon: s, holder })),
        ...want.map((s) => ({ startDaemon: model.daemonOf(s, news![s]!), holder })),
    ];
}
