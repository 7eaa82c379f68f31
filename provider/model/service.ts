// A virtual service: its identity (protocol, address and port, or a firewall mark and family) and its
// settings, each field once with its doc (ServiceSpec), its rule, ipvsadm's default and the kernel's name
// for it (the table). Check, the agent's validation, normalisation, the view refresh shows and the
// comparisons of diff and of the agent's plan are all made from these.
import { canonicalAddress, familyOf } from "./address";
import { booleanRule, choices, Failure, intRule, isInt, oneOfRule, portRule, Rule, u32 } from "./rules";
import {
    defaultScheduler, flagScheduler, schedFlagBits, schedFlagNames, SCHEDULER_FLAGS, SCHEDULERS,
} from "./schedulers";
import type { Scheduler, SchedulerFlag } from "./schedulers";
import { show } from "./show";
import type { Family, Protocol, Stats } from "./types";

// The kernel's form (what the agent writes and reads back, what a refresh compares).

/** A virtual service reached by protocol, address and port. */
export interface AddressServiceId {
    family: Family;
    protocol: Protocol;
    /** IPv4 dotted quad or IPv6 text (read back in canonical compressed form). */
    address: string;
    port: number;
}
/** A virtual service reached by firewall mark. */
export interface FwmarkServiceId {
    family: Family;
    fwmark: number;
}
export type VirtualServiceId = AddressServiceId | FwmarkServiceId;

export interface VirtualServiceSettings {
    /** Scheduler module name: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, ... */
    scheduler: string;
    persistent: boolean;
    onePacket: boolean;
    /** SCHED1 | SCHED2 | SCHED3 bits (see schedFlagNames / schedFlagBits for the names). */
    schedFlags: number;
    /** Persistence timeout in seconds (the kernel keeps it even when not persistent). */
    persistenceTimeout: number;
    /** IPv4: a dotted mask ("255.255.255.255"); IPv6: a prefix length (1..128). */
    netmask: string | number;
    /** Persistence engine ("sip"); absent means none. */
    persistenceEngine?: string;
}

export type VirtualService = VirtualServiceId & VirtualServiceSettings & {
    /** Read only: filled in by the kernel on reads. */
    stats?: Stats;
};

/** A virtual service: protocol + address + port, or a firewall mark with its family. */
export interface ServiceKey {
    /** tcp, udp or sctp, with address and port; or fwmark (and family) instead. */
    protocol?: Protocol;
    /** The VIP, IPv4 or IPv6. */
    address?: string;
    /** 0 means any port (only for a persistent service). */
    port?: number;
    /** A firewall mark (> 0) instead of protocol, address and port. */
    fwmark?: number;
    /** inet (default) or inet6, for a fwmark service. */
    family?: Family;
}

export interface Persistence {
    /** Seconds a client sticks to its real server (ipvsadm -p; default 360, as ipvsadm 1.31 has it). */
    timeout?: number;
    /** Client granularity: an IPv4 mask ("255.255.255.0") or an IPv6 prefix length (ipvsadm -M). */
    netmask?: string | number;
    /** Persistence engine (ipvsadm --pe). */
    engine?: "sip";
}

/** A service's settings: everything but its identity. */
export interface ServiceSettings {
    /** Scheduler (wlc). rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos (kernel permitting). */
    scheduler?: Scheduler;
    /** sh-fallback, sh-port (with sh); mh-fallback, mh-port (with mh). */
    schedulerFlags?: SchedulerFlag[];
    /** Make the service persistent (ipvsadm -p, -M, --pe). */
    persistence?: Persistence;
    /** One-packet scheduling, for UDP (ipvsadm -o). */
    onePacket?: boolean;
}

export interface ServiceSpec extends ServiceKey, ServiceSettings {}

/** One field of a table: its rule (alone; rules across fields are the validate function's), ipvsadm's
 * default, the field of the kernel's form it becomes, and how the agent names it in a change ("weight 1 -> 2"). */
export interface Attribute {
    rule: Rule;
    default?: unknown;
    kernel: string;
    words: string;
}

/** The identity fields: a service is one of these two shapes. */
export const serviceKeyFields = ["protocol", "address", "port", "fwmark", "family"] as const;
const protocols = ["tcp", "udp", "sctp"] as const;

/** The settings of a service, by the program's name. */
export const serviceAttributes = {
    scheduler: { rule: oneOfRule(SCHEDULERS, "an IPVS scheduler", `use one of ${SCHEDULERS.join(", ")}`),
        default: defaultScheduler, kernel: "scheduler", words: "scheduler" },
    schedulerFlags: { rule: (v) => (Array.isArray(v) ? undefined : `${show(v)} is not a list of scheduler flags`),
        default: [], kernel: "schedFlags", words: "scheduler flags" },
    persistence: { rule: (v) => (typeof v === "object" && v !== null && !Array.isArray(v) ? undefined
        : `${show(v)} is not a persistence setting: an object, e.g. { timeout: 360 } (or {} for ipvsadm's defaults)`),
        kernel: "persistent", words: "persistent" },
    onePacket: { rule: booleanRule, default: false, kernel: "onePacket", words: "one-packet" },
} satisfies Record<keyof ServiceSettings, Attribute>;
export const serviceSettingFields = Object.keys(serviceAttributes) as Array<keyof ServiceSettings>;

const maxPersistence = 31 * 86400;
/** The fields of `persistence`. Its netmask's default is the whole address: /32, or /128 for IPv6. */
export const persistenceAttributes = {
    timeout: { rule: intRule(1, maxPersistence, "a persistence timeout",
        `whole seconds from 1 to ${maxPersistence} (31 days)`),
        default: 360, kernel: "persistenceTimeout", words: "persistence timeout" },
    netmask: { rule: () => undefined, kernel: "netmask", words: "netmask" }, // by family: validateService
    engine: { rule: oneOfRule(["sip"], "a persistence engine", 'the kernel has "sip"'), kernel: "persistenceEngine",
        words: "persistence engine" },
} satisfies Record<keyof Persistence, Attribute>;
export const persistenceFields = Object.keys(persistenceAttributes) as Array<keyof Persistence>;
const wholeAddress = (family: Family) => (family === "inet6" ? 128 : "255.255.255.255");

/** The name a service goes by in messages and ids: "tcp/10.0.0.1:80", "tcp/[fd00::1]:80", "fwmark/inet/7". */
export function serviceName(k: ServiceKey): string {
    if (k.fwmark !== undefined) return `fwmark/${k.family ?? "inet"}/${k.fwmark}`;
    const a = familyOf(k.address ?? "") === "inet6" ? `[${k.address}]` : k.address;
    return `${k.protocol}/${a}:${k.port}`;
}

export function serviceFamily(k: ServiceKey): Family {
    return k.fwmark !== undefined ? (k.family ?? "inet") : (familyOf(k.address ?? "") ?? "inet");
}

function checkIPv4Mask(mask: string): boolean {
    if (familyOf(mask) !== "inet") return false;
    const n = mask.split(".").reduce((a, b) => a * 256 + Number(b), 0);
    const inv = u32 - n;
    return ((inv + 1) & inv) === 0; // ones, then zeros (0.0.0.0 too: one persistence template for every client)
}

export function validateServiceKey(k: ServiceKey, f: Failure[] = []): Failure[] {
    if (k.fwmark !== undefined) {
        if (!isInt(k.fwmark, 1, u32))
            f.push({ property: "fwmark",
                reason: `${show(k.fwmark)} is not a firewall mark: an integer from 1 to ${u32}` });
        for (const p of ["protocol", "address", "port"] as const)
            if (k[p] !== undefined)
                f.push({ property: p,
                    reason: `a fwmark service has no ${p}: give fwmark (and family) or protocol, address and port` });
        if (k.family !== undefined && k.family !== "inet" && k.family !== "inet6")
            f.push({ property: "family", reason: `${show(k.family)} is not a family: use "inet" or "inet6"` });
        return f;
    }
    if (!(protocols as readonly unknown[]).includes(k.protocol))
        f.push({ property: "protocol",
            reason: `${show(k.protocol)} is not a protocol: use ${choices(protocols)} (or give fwmark instead)` });
    if (typeof k.address !== "string" || !familyOf(k.address))
        f.push({ property: "address", reason: `${show(k.address)} is not an IPv4 or IPv6 address` });
    const port = portRule(k.port);
    if (port) f.push({ property: "port", reason: port });
    if (k.family !== undefined && familyOf(k.address ?? "") && k.family !== familyOf(k.address ?? ""))
        f.push({ property: "family",
            reason: `${show(k.family)} does not match address ${k.address}; leave it out for address services` });
    return f;
}

/** The rule of each field that is set, at its property (nested ones at "persistence.timeout"). */
export function fieldRules(o: Record<string, unknown>, table: Record<string, Attribute>, prefix: string,
    f: Failure[]): void {
    for (const [field, a] of Object.entries(table)) {
        const reason = o[field] === undefined ? undefined : a.rule(o[field]);
        if (reason) f.push({ property: `${prefix}${field}`, reason });
    }
}

export function validateService(s: ServiceSpec): Failure[] {
    const f = validateServiceKey(s);
    fieldRules(s as Record<string, unknown>, serviceAttributes, "", f); // each flag below, with its scheduler
    const sched = s.scheduler ?? defaultScheduler;
    for (const flag of Array.isArray(s.schedulerFlags) ? s.schedulerFlags : []) {
        if (!SCHEDULER_FLAGS.includes(flag))
            f.push({ property: "schedulerFlags", reason: `${show(flag)} is not a scheduler flag: ` +
                `use ${SCHEDULER_FLAGS.join(", ").replace(/, ([^,]*)$/, " or $1")}` });
        else if (flagScheduler(flag) !== sched)
            f.push({ property: "schedulerFlags",
                reason: `${flag} is a flag of the ${flagScheduler(flag)} scheduler, not of ${sched}` });
    }
    const p = s.persistence;
    if (p !== undefined && typeof p === "object" && p !== null) {
        fieldRules(p as Record<string, unknown>, persistenceAttributes, "persistence.", f);
        if (p.netmask !== undefined) {
            if (serviceFamily(s) === "inet6") {
                if (!isInt(p.netmask, 1, 128))
                    f.push({ property: "persistence.netmask",
                        reason: `${show(p.netmask)} is not an IPv6 prefix length: an integer from 1 to 128` });
            } else if (typeof p.netmask !== "string" || !checkIPv4Mask(p.netmask))
                f.push({ property: "persistence.netmask",
                    reason: `${show(p.netmask)} is not an IPv4 netmask like "255.255.255.0" (contiguous ones)` });
        }
        if (p.engine === "sip" && s.protocol !== undefined && s.protocol !== "udp")
            f.push({ property: "persistence.engine",
                reason: `the sip persistence engine handles UDP, not ${s.protocol}` });
    } else if (p === undefined && s.fwmark === undefined && s.port === 0)
        f.push({ property: "port",
            reason: "port 0 (any port) is only allowed for a persistent service: set persistence" });
    if (s.onePacket && s.protocol !== undefined && s.protocol !== "udp")
        f.push({ property: "onePacket", reason: `one-packet scheduling is for UDP services ` +
            `(or fwmark services carrying UDP), not ${s.protocol}` });
    return f;
}

/** The kernel's identity of a (valid) service key: family explicit, address canonical. A kernel id is a
 * service key too, so the two go wherever either is asked for. */
export function serviceId(k: ServiceKey): VirtualServiceId {
    const family = serviceFamily(k);
    return k.fwmark !== undefined
        ? { family, fwmark: k.fwmark }
        : { family, protocol: k.protocol!, address: canonicalAddress(k.address!), port: k.port! };
}

/** The kernel's form of a declared service: ipvsadm's defaults (scheduler wlc, persistence 360 s and
 * /32 or /128 when persistent) filled in, addresses canonical. What the agent compares with the table. */
export function normalizeService(s: ServiceSpec): VirtualService {
    const id = serviceId(s);
    const A = serviceAttributes, P = persistenceAttributes;
    const scheduler = s.scheduler ?? A.scheduler.default;
    const p = s.persistence;
    return {
        ...id,
        [A.scheduler.kernel]: scheduler,
        [A.schedulerFlags.kernel]: schedFlagBits(scheduler, s.schedulerFlags ?? A.schedulerFlags.default),
        [A.persistence.kernel]: p !== undefined,
        [A.onePacket.kernel]: s.onePacket ?? A.onePacket.default,
        [P.timeout.kernel]: p ? (p.timeout ?? P.timeout.default) : 0,
        [P.netmask.kernel]: p?.netmask ?? wholeAddress(id.family),
        ...(p?.engine ? { [P.engine.kernel]: p.engine } : {}),
    } as VirtualService;
}

/** The user's view of a live service (the settings only), so that refresh shows drift in the words of the program. */
export function serviceView(s: VirtualService): ServiceSettings {
    const flags = schedFlagNames(s.scheduler, s.schedFlags) as SchedulerFlag[];
    return {
        scheduler: s.scheduler as Scheduler,
        ...(flags.length ? { schedulerFlags: flags.sort() } : {}),
        ...(s.persistent ? { persistence: { timeout: s.persistenceTimeout, netmask: s.netmask,
            ...(s.persistenceEngine ? { engine: s.persistenceEngine as "sip" } : {}) } } : {}),
        ...(s.onePacket ? { onePacket: true } : {}),
    };
}

/** What differs between a declared service and the kernel's, in words ("scheduler wlc -> rr"); the
 * persistence timeout and netmask count only for a persistent service. */
export function serviceDiff(want: VirtualService, live: VirtualService): string[] {
    const A = serviceAttributes, P = persistenceAttributes;
    const d: string[] = [];
    const cmp = (words: string, a: unknown, b: unknown) => {
        if (a !== b) d.push(`${words} ${String(b)} -> ${String(a)}`);
    };
    const flags = (s: VirtualService) => schedFlagNames(s.scheduler, s.schedFlags).join(",") || "none";
    cmp(A.scheduler.words, want.scheduler, live.scheduler);
    cmp(A.schedulerFlags.words, flags(want), flags(live));
    cmp(A.persistence.words, want.persistent, live.persistent);
    if (want.persistent) {
        cmp(P.timeout.words, want.persistenceTimeout, live.persistenceTimeout);
        cmp(P.netmask.words, want.netmask, live.netmask);
    }
    cmp(P.engine.words, want.persistenceEngine ?? "none", live.persistenceEngine ?? "none");
    cmp(A.onePacket.words, want.onePacket, live.onePacket);
    return d;
}
