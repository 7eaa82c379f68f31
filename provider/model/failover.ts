// Director failover: VRRP, spoken by keepalived (run by the agent, with a configuration of VRRP only,
// never a virtual_server) for the addresses (VIPs) a director declares. Each setting once with its doc,
// its rule, its default and keepalived's name for it (the table). The pair's directors declare the same
// virtual router id and addresses; the one of higher priority holds them while it runs.
import { familyOf } from "./address";
import { interfaceNameProblem } from "./interface";
import { booleanRule, Failure, intRule, oneOfRule, Rule, unknownFields } from "./rules";
import { show } from "./show";

export interface FailoverSpec {
    /** The VRRP virtual router id, 1 to 255: the same on every director of the pair, and no other pair's on
     * that network (keepalived's virtual_router_id). */
    virtualRouterId: number;
    /** 1 to 254 (100): the running director of highest priority holds the addresses (priority). */
    priority?: number;
    /** Seconds between advertisements, 0.01 to 40.95 (1): a backup takes over after `downTimerAdverts` of
     * them are missed (advert_int; VRRP version 3, which takes hundredths of a second). */
    advertInterval?: number;
    /** How many advertisements a backup misses before it takes over, 1 to 100 (3, as VRRP says): it waits
     * this many intervals plus (256 - its priority) / 256 of one (down_timer_adverts). Fewer is a faster
     * failover, and a lost packet or two more likely to move the addresses. */
    downTimerAdverts?: number;
    /** Whether a director of higher priority that comes back takes the addresses back (true; keepalived's
     * nopreempt when false). */
    preempt?: boolean;
    /** The interface VRRP speaks on, e.g. eth0: a director whose interface goes down gives the addresses up
     * (interface). */
    interface: string;
    /** The other directors' addresses, for networks without multicast (unicast_peer): left out, VRRP
     * advertisements go to 224.0.0.18. */
    unicastPeers?: string[];
    /** "both" (the default): the sync daemons run as the director's `sync` declares them (a master and a
     * backup on each director syncs both ways). "follow": of the declared master and backup, only the
     * master runs while this director holds the addresses, only the backup while it does not
     * (keepalived's lvs_sync_daemon). */
    syncDaemons?: "both" | "follow";
}

const routerId = intRule(1, 255, "a virtual router id", "an integer from 1 to 255");
const advert: Rule = (v) => (typeof v === "number" && v >= 0.01 && v <= 40.95
    && Math.abs(v * 100 - Math.round(v * 100)) < 1e-6 ? undefined
    : `${show(v)} is not an advertisement interval: 0.01 to 40.95 seconds, in hundredths`);
const peers: Rule = (v) => (Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === "string" && familyOf(a))
    ? undefined : `${show(v)} is not a list of addresses (IPv4 or IPv6) of the other directors`);

/** Each setting by the program's name: its rule, its default, keepalived's name. */
export const failoverAttributes = {
    virtualRouterId: { rule: routerId, keepalived: "virtual_router_id" },
    priority: { rule: intRule(1, 254, "a VRRP priority", "an integer from 1 to 254"), default: 100,
        keepalived: "priority" },
    advertInterval: { rule: advert, default: 1, keepalived: "advert_int" },
    downTimerAdverts: { rule: intRule(1, 100, "a number of advertisements", "an integer from 1 to 100"), default: 3,
        keepalived: "down_timer_adverts" },
    preempt: { rule: booleanRule, default: true, keepalived: "nopreempt" },
    interface: { rule: interfaceNameProblem as Rule, keepalived: "interface" },
    unicastPeers: { rule: peers, keepalived: "unicast_peer" },
    syncDaemons: { rule: oneOfRule(["both", "follow"], "a way to run the sync daemons", 'use "both" or "follow"'),
        default: "both", keepalived: "lvs_sync_daemon" },
} satisfies Record<keyof FailoverSpec, { rule: Rule; default?: unknown; keepalived: string }>;
export const failoverFields = Object.keys(failoverAttributes) as Array<keyof FailoverSpec>;

/** The failover of a director as the agent takes it and records it: every default filled in, with the
 * addresses it moves (canonical, each with its prefix length). */
export interface Failover {
    virtualRouterId: number;
    priority: number;
    advertInterval: number;
    downTimerAdverts: number;
    preempt: boolean;
    interface: string;
    unicastPeers?: string[];
    syncDaemons: "both" | "follow";
    addresses: Array<{ address: string; interface: string; prefixLength: number }>;
}

/** Checks a failover declaration: each failure names its field, the value and the rule. */
export function validateFailover(v: unknown, property = "failover"): Failure[] {
    if (typeof v !== "object" || v === null || Array.isArray(v))
        return [{ property, reason: `${show(v)} is not a failover: give virtualRouterId and interface` }];
    const o = v as Record<string, unknown>;
    const f = unknownFields(o, failoverFields, property, "failover field");
    for (const name of failoverFields) {
        const a = failoverAttributes[name];
        if (o[name] === undefined) {
            if (!("default" in a) && name !== "unicastPeers")
                f.push({ property: `${property}.${name}`, reason: `is required (${a.keepalived} in keepalived)` });
            continue;
        }
        const problem = a.rule(o[name]);
        if (problem) f.push({ property: `${property}.${name}`, reason: problem });
    }
    return f;
}

/** A failover declaration with its defaults, and the addresses it moves. */
export function normalizeFailover(spec: FailoverSpec, addresses: Failover["addresses"]): Failover {
    return {
        virtualRouterId: spec.virtualRouterId,
        priority: spec.priority ?? failoverAttributes.priority.default,
        advertInterval: spec.advertInterval ?? failoverAttributes.advertInterval.default,
        downTimerAdverts: spec.downTimerAdverts ?? failoverAttributes.downTimerAdverts.default,
        preempt: spec.preempt ?? failoverAttributes.preempt.default,
        interface: spec.interface,
        ...(spec.unicastPeers ? { unicastPeers: spec.unicastPeers } : {}),
        syncDaemons: spec.syncDaemons ?? "both",
        addresses,
    };
}

/** The sync daemon that runs on a director whose failover follows the VRRP state: the master on the
 * holder of the addresses (keepalived reported MASTER), the backup elsewhere. */
export const followedDaemon = (vrrpState: string | undefined): "master" | "backup" =>
    (vrrpState === "MASTER" ? "master" : "backup");

/** What a refresh reports of a director's failover: whether its keepalived runs, its VRRP state, and
 * which of the addresses it holds now. */
export interface FailoverState {
    /** keepalived, as the agent runs it for this director, is running. */
    running: boolean;
    /** The VRRP state keepalived last reported: MASTER (holds the addresses), BACKUP, FAULT (its interface
     * or the health daemon is down) or STOP. */
    state?: string;
    /** Since when (ISO 8601), as keepalived reported it. */
    since?: string;
    /** The declared addresses present on this director now. */
    holds: string[];
}
