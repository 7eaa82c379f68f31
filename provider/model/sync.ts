// The IPVS connection-sync daemons of a director: each setting once with its doc (SyncDaemonSpec), its
// rule and the kernel's name for it (the table); `sync.master` / `sync.backup` in the program, the
// kernel's Daemon on the wire. One daemon of each state per network namespace, so the state is its identity.
import { canonicalAddress, familyOf } from "./address";
import { interfaceNameProblem } from "./interface";
import { Failure, intRule, Rule } from "./rules";
import { show } from "./show";

// The kernel's form (what the agent writes and reads back, what a refresh compares).

export type SyncState = "master" | "backup";

export interface Daemon {
    state: SyncState;
    mcastInterface: string;
    syncId: number;
    syncMaxlen?: number;
    /** IPv4 or IPv6 multicast group. */
    mcastGroup?: string;
    mcastPort?: number;
    mcastTtl?: number;
}

/** One sync daemon. The settings left out are the kernel's: maxlen from the interface's MTU, group
 * 224.0.0.81, port 8848, ttl 1. maxLen, group, port and ttl need Linux 4.3 or newer. */
export interface SyncDaemonSpec {
    /** The interface it sends (master) or listens (backup) on, e.g. eth0 (--mcast-interface). */
    interface: string;
    /** 0 to 255 (0): a backup takes only the messages of a master with its id (--syncid). */
    syncId?: number;
    /** The largest sync message in bytes, 1 to 65507 (--sync-maxlen). */
    maxLen?: number;
    /** The multicast group, IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) (--mcast-group). */
    group?: string;
    /** The UDP port, 1 to 65535 (--mcast-port). */
    port?: number;
    /** The multicast TTL, 1 to 255 (--mcast-ttl). */
    ttl?: number;
}

/** The sync daemons of a director, by state. A director can run both (a pair that syncs both ways). */
export interface SyncSpec {
    master?: SyncDaemonSpec;
    backup?: SyncDaemonSpec;
}

const maxSyncLen = 65535 - 20 - 8; // one UDP datagram
const multicast: Rule = (v) => {
    const g = String(v), family = familyOf(g), first = Number(g.split(".")[0]);
    const ok = family === "inet" ? first >= 224 && first <= 239 : family === "inet6" && /^ff/i.test(g);
    return ok ? undefined : `${show(v)} is not a multicast group (224.0.0.0/4 or ff00::/8)`;
};

/** Each setting by the program's name: its rule, the kernel's name, and whether it needs Linux 4.3. */
export const syncDaemonAttributes = {
    interface: { kernel: "mcastInterface", rule: interfaceNameProblem as Rule, since43: false },
    syncId: { kernel: "syncId", rule: intRule(0, 255, "a sync id", "an integer from 0 to 255"), default: 0,
        since43: false },
    maxLen: { kernel: "syncMaxlen",
        rule: intRule(1, maxSyncLen, "a sync message length", `1 to ${maxSyncLen} bytes (one UDP datagram)`),
        since43: true },
    group: { kernel: "mcastGroup", rule: multicast, since43: true },
    port: { kernel: "mcastPort", rule: intRule(1, 65535, "a port", "1 to 65535"), since43: true },
    ttl: { kernel: "mcastTtl", rule: intRule(1, 255, "a TTL", "1 to 255"), since43: true },
} satisfies Record<keyof SyncDaemonSpec, { kernel: keyof Daemon; rule: Rule; default?: number; since43: boolean }>;
export type SyncField = keyof SyncDaemonSpec;
export const syncFieldNames = Object.keys(syncDaemonAttributes) as SyncField[];
/** Settings only kernels from 4.3 take (older ones ignore them without a word). */
export const syncOptions = syncFieldNames.filter((f) => syncDaemonAttributes[f].since43);
const byKernel = new Map(syncFieldNames.map((f) => [syncDaemonAttributes[f].kernel as string, f]));

/** Checks a kernel-form daemon (what the agent is sent): failures at the kernel's field names. */
export function validateDaemon(d: Daemon): Failure[] {
    const f: Failure[] = [];
    if (d.state !== "master" && d.state !== "backup")
        f.push({ property: "state", reason: `${show(d.state)} is not a sync daemon state: use "master" or "backup"` });
    const o = d as unknown as Record<string, unknown>;
    for (const a of Object.values(syncDaemonAttributes)) {
        const v = o[a.kernel];
        // The settings every kernel takes are the ones it requires (MCAST_IFN, SYNC_ID); the others may be left out.
        if (v === undefined && a.since43) continue;
        const reason = a.rule(v);
        if (reason) f.push({ property: a.kernel, reason });
    }
    return f;
}

/** What differs between a declared sync daemon and a running one; fields left out of the declaration
 * are the kernel's to choose (maxlen from the MTU, ipvsadm's group, port and TTL). */
export function daemonDiff(want: Daemon, live: Daemon): string[] {
    return (Object.keys(want) as Array<keyof Daemon>)
        .filter((k) => want[k] !== undefined &&
            (k === "mcastGroup" ? canonicalAddress(String(want[k])) !== live[k] : want[k] !== live[k]))
        .map((k) => `${k} ${String(live[k])} -> ${String(want[k])}`);
}

/** The settings of a kernel-form daemon as holders compare them: the group canonical, nothing unset. */
export function daemonSettings(d: Daemon): Record<string, unknown> {
    const o: Record<string, unknown> = { ...d };
    if (o.mcastGroup !== undefined) o.mcastGroup = canonicalAddress(String(o.mcastGroup));
    for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
    return o;
}

type SyncDecl = Record<string, Record<string, unknown> | undefined | null> | undefined;

/** The states a declaration has a daemon for, master first. */
export const syncStates = (sync: SyncDecl): SyncState[] =>
    (["master", "backup"] as const).filter((s) => sync?.[s] !== undefined && sync?.[s] !== null);

/** The kernel's form of a declared daemon: sync id 0 when left out, as ipvsadm has it. */
export function daemonOf(state: SyncState, d: Record<string, unknown>): Daemon {
    const out: Record<string, unknown> = { state, syncId: syncDaemonAttributes.syncId.default };
    for (const f of syncFieldNames) if (d[f] !== undefined) out[syncDaemonAttributes[f].kernel] = d[f];
    return out as unknown as Daemon;
}

/** Checks a Director's `sync`: failures at the program's names ("sync.master.maxLen"). */
export function validateSync(sync: unknown): Failure[] {
    const failures: Failure[] = [];
    if (sync === undefined || sync === null) return failures;
    if (typeof sync !== "object" || Array.isArray(sync))
        return [{ property: "sync",
            reason: `${show(sync)} is not a set of sync daemons: give master and / or backup` }];
    for (const [state, d] of Object.entries(sync as Record<string, unknown>)) {
        const property = `sync.${state}`;
        if (state !== "master" && state !== "backup") {
            failures.push({ property, reason: "unknown sync daemon state (master, backup)" });
            continue;
        }
        if (d === undefined || d === null) continue;
        if (typeof d !== "object" || Array.isArray(d)) {
            failures.push({ property, reason: `${show(d)} is not a sync daemon: give at least its interface` });
            continue;
        }
        for (const k of Object.keys(d)) if (!(syncFieldNames as string[]).includes(k))
            failures.push({ property: `${property}.${k}`,
                reason: `unknown sync daemon setting (allowed: ${syncFieldNames.join(", ")})` });
        for (const f of validateDaemon(daemonOf(state, d as Record<string, unknown>)))
            failures.push({ property: `${property}.${byKernel.get(f.property) ?? f.property}`, reason: f.reason });
    }
    return failures;
}

/** A declaration in a form that compares equal exactly when the daemons would be: fixed key order,
 * the sync id's default filled in, the group canonical. */
export function normalSync(sync: SyncDecl): Daemon[] {
    return syncStates(sync).map((s) => {
        const d = daemonOf(s, sync![s]!);
        if (d.mcastGroup !== undefined)
            try { d.mcastGroup = canonicalAddress(String(d.mcastGroup)); } catch { /* check refuses it */ }
        return d;
    });
}

/**
 * The running daemons in the program's words, for the states the declaration manages (a daemon started
 * by hand for another state is not this resource's). Each shows its interface, and the other settings
 * the declaration gives (the sync id also when it is not the default 0), as the kernel has them.
 */
export function syncView(declared: NonNullable<SyncDecl>, daemons: Daemon[]): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const s of syncStates(declared)) {
        const live = daemons.find((d) => d.state === s);
        if (!live) continue;
        const want = declared[s]!;
        const view: Record<string, unknown> = {};
        for (const f of syncFieldNames) {
            const v = live[syncDaemonAttributes[f].kernel];
            if (f === "interface" || (f === "syncId" && v !== 0) || want[f] !== undefined)
                view[f] = f === "group" && typeof want.group === "string" &&
                    normalSync({ [s]: want })[0].mcastGroup === v ? want.group : v;
        }
        out[s] = view;
    }
    return out;
}
