// The RealServers provider: the real servers of a virtual service as one resource, for large clusters.
// One create, update or delete is one request to the director for all of them (one refresh one read),
// while the plan still shows each real server's change: check keys the program's list by real server
// (address:port), so the state holds realServers["10.1.0.21:80"], and diff marks each entry's field
// (realServers["10.1.0.21:80"].weight), an entry added or removed as a whole. Each entry is a RealServer's
// declaration, checked, compared, drained and adopted the same way (see real-server.ts).
import type * as pulumi from "@pulumi/pulumi";
import {
    apply, type Check, checkFields, type Diff, type Failure, fieldsDiff, hasUnknowns, holdAs, holderPair,
    liveService, plain,
} from "./common";
import * as model from "./model";
import { target, type Connection } from "./model";
import {
    checkOwner, checkRealServer, declare, drainRealServer, kernelChanged, liveRealServer, normalRealServer,
    realServerEntryFields, realServerName, settingPairs, warnIPv6Forwarding,
} from "./real-server";

type Entry = Record<string, any>;
type Entries = Record<string, Entry>;

/** The property path of an entry's field in the plan (`realServers["10.1.0.21:80"].weight`). */
const path = (name: string, field?: string) => `realServers[${JSON.stringify(name)}]${field ? `.${field}` : ""}`;

/** The entries of checked inputs or of outputs: the list keyed by real server. */
const entriesOf = (props: Record<string, any>): Entries => props.realServers ?? {};

/** The change that removes an entry's real server (or lets go of it, while another holder declares it). */
const removal = (service: model.ServiceKey, e: Entry, holder: string | undefined): model.Change =>
    ({ service, deleteRealServer: { address: e.address, port: e.port }, holder });

/** Each entry with ipvsadm's defaults filled in, as the kernel reports them (see withDefaults). */
const normalEntries = (service: model.ServiceKey, entries: Entries): Entries =>
    Object.fromEntries(Object.entries(entries).map(([n, e]) => [n, { ...e, ...normalRealServer(service, e) }]));

export const realServers: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news): Promise<Check> {
        const failures: Failure[] = [];
        checkFields(news, ["connection", "service", "realServers"], failures);
        const svc = checkOwner(news, failures);
        const list = news.realServers;
        if (hasUnknowns(list)) return { inputs: news, failures }; // keyed, and compared, once known
        if (!Array.isArray(list)) {
            failures.push({ property: "realServers", reason: `${model.show(list)} is not a list of real servers` });
            return { inputs: news, failures };
        }
        const keyed: Entries = {}, where = new Map<string, number>();
        const c = failures.length ? undefined : news.connection as Connection;
        list.forEach((entry: unknown, i: number) => {
            const at = `realServers[${i}]`;
            if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
                failures.push({ property: at, reason: `${model.show(entry)} is not a real server: an object, ` +
                    `e.g. { address: "10.1.0.21", weight: 2 }` });
                return;
            }
            const e = entry as Entry;
            const own = model.unknownFields(e, realServerEntryFields, at, "real server field");
            failures.push(...own);
            const bad = checkRealServer(e, svc, c, `${at}.`);
            failures.push(...bad);
            if (own.length || bad.length || !svc) return;
            const name = realServerName(svc, e);
            const first = where.get(name);
            if (first !== undefined) failures.push({ property: `${at}.address`, reason: `${name} is in this list ` +
                `already, as realServers[${first}]: each real server once` });
            else { where.set(name, i); keyed[name] = e; }
        });
        if (failures.length) return { inputs: news, failures };
        return { inputs: { ...news, realServers: normalEntries(svc!, keyed) }, failures };
    },
    async diff(_id, olds, news): Promise<Diff> {
        const service = (i: Record<string, any>) => model.serviceName(model.serviceId(i.service));
        const replacing = { connection: [target(olds.connection), target(news.connection)] as [unknown, unknown],
            service: [service(olds), service(news)] as [unknown, unknown] };
        const updating: Record<string, [unknown, unknown]> = { connection: [olds.connection, news.connection],
            holder: holderPair(olds, news) };
        if (Array.isArray(news.realServers) || hasUnknowns(news.realServers))
            return fieldsDiff(replacing, { ...updating, realServers: [olds.realServers, news.realServers] });
        const o = entriesOf(olds), n = entriesOf(news);
        for (const name of new Set([...Object.keys(o), ...Object.keys(n)])) {
            if (!o[name] || !n[name]) { updating[path(name)] = [o[name], n[name]]; continue; }
            for (const [field, pair] of Object.entries(settingPairs(olds.service, o[name], news.service, n[name])))
                updating[path(name, field)] = pair;
        }
        return fieldsDiff(replacing, updating);
    },
    async create(inputs) {
        const c = inputs.connection as Connection, service = inputs.service as model.ServiceKey;
        const { holder } = holdAs("real-servers", inputs);
        const entries = Object.values(entriesOf(inputs));
        if (entries.length) await apply(c, entries.map((e) => declare(service, e, e.adopt === true, holder)));
        await warnIPv6Forwarding(c, service, entries);
        const id = `${target(c)}/${model.serviceName(model.serviceId(service))}/${holder}`;
        return { id, outs: plain({ ...inputs, realServers: normalEntries(service, entriesOf(inputs)), holder }) };
    },
    async update(id, olds, news) {
        const c = news.connection as Connection, service = news.service as model.ServiceKey;
        const { holder, first } = holdAs("real-servers", news, olds);
        const o = entriesOf(olds), n = entriesOf(news);
        const again = first.length > 0 || JSON.stringify(olds.connection) !== JSON.stringify(news.connection);
        // Added ones are declared (taken over only with their adopt), changed ones again; a change of drain or
        // adopt alone leaves the kernel as it is. Removed ones go in the same request, or are drained after it.
        const declares = Object.entries(n).filter(([name, e]) =>
            !o[name] || again || kernelChanged(olds.service, o[name], service, e))
            .map(([name, e]) => declare(service, e, o[name] ? true : e.adopt === true, holder));
        const removed = Object.entries(o).filter(([name]) => !n[name]);
        const drained = removed.filter(([, e]) => model.drainTimeout(e.drain) !== undefined);
        const deletes = removed.filter(([, e]) => model.drainTimeout(e.drain) === undefined)
            .map(([, e]) => removal(service, e, holder));
        const changes = [...first, ...declares, ...deletes];
        if (changes.length) await apply(c, changes);
        await Promise.all(drained.map(([name, e]) =>
            drainRealServer(c, service, e, model.drainTimeout(e.drain)!, holder, `${id} ${name}`)));
        const added = Object.entries(n).filter(([name]) => !o[name]).map(([, e]) => e);
        await warnIPv6Forwarding(c, service, added);
        return { outs: plain({ ...news, realServers: normalEntries(service, n), holder }) };
    },
    async read(id, props) {
        const service = props.service as model.ServiceKey;
        const live = await liveService(props.connection, service);
        // A real server the node has no more leaves the list (the next up declares it again).
        const entries = Object.entries(entriesOf(props)).flatMap(([name, e]) => {
            const found = liveRealServer(service, e, live);
            return found ? [[name, found] as const] : [];
        });
        return { id, props: { ...props, realServers: Object.fromEntries(entries) } };
    },
    async delete(id, props) {
        const c = props.connection as Connection, service = props.service as model.ServiceKey;
        const holder = props.holder as string | undefined;
        const entries = Object.entries(entriesOf(props));
        const now = entries.filter(([, e]) => model.drainTimeout(e.drain) === undefined)
            .map(([, e]) => removal(service, e, holder));
        await Promise.all([
            ...(now.length ? [apply(c, now)] : []),
            ...entries.filter(([, e]) => model.drainTimeout(e.drain) !== undefined).map(([name, e]) =>
                drainRealServer(c, service, e, model.drainTimeout(e.drain)!, holder, `${id} ${name}`)),
        ]);
    },
};
