// What the providers share: the checks of a declaration's fields, the holder each resource holds its
// objects by, applying changes on a node, the diff in fields, and the addresses and sysctls several declare.
import type * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "crypto";
import { agentFor } from "./client";
import { checkCredentials } from "./credentials";
import { type FieldChange, withDetailedDiff } from "./detailed-diff";
import * as model from "./model";
import { target, type Connection } from "./model";
import { trace } from "./trace";
import { warn } from "./warn";

export type Check = pulumi.dynamic.CheckResult;
export type Diff = pulumi.dynamic.DiffResult;
export type Failure = model.Failure;

/** Fields of a declaration that are not its own: the engine's serialized provider, and the outputs the
 * SDK declares (undefined in the program). */
export const engineFields = ["__provider", "holder"];
export function checkFields(news: Record<string, unknown>, allowed: readonly string[], failures: Failure[]): void {
    failures.push(...model.unknownFields(news, [...allowed, ...engineFields], "", "property"));
}

/** The failures of a connection: its fields, and the credentials it names in the stack's configuration. */
export function checkConnection(c: unknown, failures: Failure[]): void {
    model.checkConnection(c, "connection", failures);
    checkCredentials(c, "connection", failures);
}

/** A failure for each of `fields` that is set and is not a boolean. */
export function checkBooleans(news: Record<string, unknown>, fields: readonly string[], failures: Failure[]): void {
    for (const f of fields) {
        const reason = news[f] === undefined ? undefined : model.booleanRule(news[f]);
        if (reason) failures.push({ property: f, reason });
    }
}

/**
 * A resource's own name on its node, as the holder of every object it declares there (an object stays
 * while any holder is left): made at its creation, kept in its outputs. A resource made before holders
 * has none, and its requests count as the node's unnamed holder.
 */
export const newHolder = (kind: string): string => `${kind}/${randomBytes(6).toString("hex")}`;

/**
 * The name a create, update or delete holds by, and the changes that come first. The SDK gives each
 * resource its holder, made of its URN's parts (so a create interrupted and retried holds by the same
 * name); a create without one makes one. An update keeps the name the node knows, renamed on the node to
 * the SDK's when that changed (a rename with aliases); a resource made before holders keeps the unnamed
 * holder (undefined).
 */
export function holdAs(kind: string, news: Record<string, any>, olds?: Record<string, any>):
    { holder: string | undefined; first: model.Change[] } {
    if (!olds) return { holder: news.holder ?? newHolder(kind), first: [] };
    const was = olds.holder as string | undefined;
    if (!was) return { holder: undefined, first: [] };
    const now = (news.holder as string | undefined) ?? was;
    return { holder: now, first: now !== was ? [{ renameHolder: was, to: now }] : [] };
}

/** The holder a diff compares: a resource made before holders keeps the unnamed one, which is no change. */
export const holderPair = (olds: Record<string, any>, news: Record<string, any>): [unknown, unknown] =>
    [olds.holder ?? news.holder, news.holder ?? olds.holder];

/** Applies changes on a node; what the agent warns of (an object taken over) is shown in the run's output. */
export async function apply(c: Connection, changes: model.Change[]): Promise<model.Report> {
    const r = await (await agentFor(c)).request("apply", { changes });
    for (const w of r.warnings ?? []) await warn(`${target(c)}: ${w}`);
    for (const k of r.kept ?? []) trace(`${target(c)}: ${k}`);
    if (r.together) trace(`${target(c)}: applied together with ${r.together - 1} other request(s)`);
    return r;
}

/** What a dynamic provider sees for a value a preview does not know yet. */
const unknownValue = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** Whether a value (or anything in it) is one a preview does not know yet. */
export const hasUnknowns = (v: unknown): boolean => JSON.stringify(v ?? null).includes(unknownValue);

/** A valid declaration with ipvsadm's defaults filled in (wlc, weight 1, ...) as the kernel reports
 * them, so a plan after a refresh that found drift shows both values ("weight: 7 => 1"). */
export function withDefaults(news: Record<string, unknown>, failures: Failure[],
    normal: (i: Record<string, unknown>) => object): Record<string, unknown> {
    if (failures.length || hasUnknowns(news)) return news;
    return { ...news, ...normal(news) };
}

/**
 * Two resources of one program that declare one object (on one node) with different settings: refused
 * at check, before anything is applied. Every check of a run happens in this one provider process, so
 * the first declaration of each object is remembered here; the agent refuses the same at up (naming the
 * other holder) for declarations that come from different programs.
 */
const declared = new Map<string, { settings: Record<string, unknown>; what: string }>();
export function checkDuplicate(object: string, what: string, given: object, failures: Failure[]): void {
    const settings = given as Record<string, unknown>;
    if (hasUnknowns(settings)) return; // a preview's unknowns: compared once known
    const first = declared.get(object);
    if (!first) { declared.set(object, { settings, what }); return; }
    const fields = model.differingFields(first.settings, settings);
    const diff = fields.map((k) => `${k} ${model.show(first.settings[k])} there, ${model.show(settings[k])} here`);
    if (diff.length) failures.push({ property: fields[0],
        reason: `another resource of this program declares ${first.what} too, with other settings ` +
            `(${diff.join("; ")}): one object, one declaration (or the same settings in both)` });
}

/** The identity fields of a service declaration (or of a real server's `service`). */
export const keyOf = (inputs: Record<string, unknown>) =>
    model.pick(inputs, model.serviceKeyFields) as model.ServiceKey;

/** Outputs as the engine takes them: no undefined anywhere. */
export function plain<T>(v: T): T {
    return JSON.parse(JSON.stringify(v));
}

export function changed(a: unknown, b: unknown): boolean {
    return JSON.stringify(a) !== JSON.stringify(b);
}

/**
 * A diff in fields: `replacing` fields that changed replace the resource, `updating` ones update it in
 * place (each compared as given: normalised forms where the program and the kernel say one thing two
 * ways). The plan marks exactly these fields, also after a refresh (olds are the refreshed outputs).
 * A replacement creates the new resource before it deletes the old: the objects both declare are held
 * by both in between (see the agent's holders), so a replacement never takes down what stays.
 */
export function fieldsDiff(replacing: Record<string, [unknown, unknown]>, updating: Record<string, [unknown, unknown]>):
    Diff {
    const fields: Record<string, FieldChange> = {};
    for (const [f, [a, b]] of Object.entries(replacing)) if (changed(a, b)) fields[f] = "update-replace";
    for (const [f, [a, b]] of Object.entries(updating))
        if (changed(a, b) && !fields[f]) fields[f] = a === undefined ? "add" : b === undefined ? "delete" : "update";
    const replaces = Object.keys(fields).filter((f) => fields[f] === "update-replace");
    return withDetailedDiff({ changes: Object.keys(fields).length > 0, replaces }, fields);
}

/** Each field of two views, paired. */
export function pairs(a: object, b: object): Record<string, [unknown, unknown]> {
    const x = a as Record<string, unknown>, y = b as Record<string, unknown>;
    return Object.fromEntries([...new Set([...Object.keys(x), ...Object.keys(y)])].map((k) => [k, [x[k], y[k]]]));
}

/** The service as the node has it (with its real servers, and the health of those that are checked), or
 * undefined when it has none. */
export async function liveService(c: Connection, key: model.ServiceKey):
    Promise<(model.ServiceState & { health: model.RealServerHealth[] }) | undefined> {
    const st = await (await agentFor(c)).request("state", { services: [key] });
    return st.services[0] && { ...st.services[0], health: st.health ?? [] };
}

// ------------------------------------------------------------------------------------------------
// Addresses a resource holds on a node's interfaces (a director's VIPs, a real-server node's).

/** Changes that take a node from holding `olds` to holding `news` (as `holder`). */
export function addressChanges(olds: model.HostAddress[], news: model.HostAddress[], holder: string | undefined):
    model.Change[] {
    const key = (a: model.HostAddress) => `${model.canonicalAddress(a.address)}/${a.prefixLength ?? ""}%${a.interface}`;
    const keep = new Set(news.map(key));
    const prefix = (a: model.HostAddress) => (a.prefixLength ? { prefixLength: a.prefixLength } : {});
    return [
        ...olds.filter((a) => !keep.has(key(a)))
            .map((a) => ({ deleteAddress: a.address, interface: a.interface, ...prefix(a), holder })),
        ...news.map((a) => ({ address: a.address, interface: a.interface, ...prefix(a), holder })),
    ];
}

/** Which of the declared addresses the node still holds (one request per interface, together). */
export async function heldAddresses(c: Connection, declared: model.HostAddress[]): Promise<model.HostAddress[]> {
    const agent = await agentFor(c);
    const interfaces = [...new Set(declared.map((a) => a.interface))];
    const lists = await Promise.all(interfaces.map((i) =>
        agent.request("addresses", { interface: i }).catch(() => [])));
    const live = new Map(interfaces.map((i, k) => [i, lists[k]]));
    return declared.filter((a) => {
        const len = a.prefixLength ?? model.hostPrefixLength(a.address);
        return live.get(a.interface)!.some((l) =>
            model.canonicalAddress(l.address) === model.canonicalAddress(a.address) && l.prefixLength === len);
    });
}

// ------------------------------------------------------------------------------------------------
// Sysctls a resource sets and puts back: the node records what it found before the first set.

export type Sysctls = Record<string, model.SysctlValue>;

export const setSysctls = (want: Sysctls, holder: string | undefined): model.Change[] =>
    Object.entries(want).map(([sysctl, value]) => ({ sysctl, value, holder }));
export const restoreSysctls = (names: string[], holder: string | undefined): model.Change[] =>
    names.map((restore) => ({ restore, holder }));

/** The engine keeps an object's keys sorted: compare sysctls in that order. */
export const sorted = (o: Sysctls = {}) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
