// The sysctls pulumi-lvs may read or write: one closed table with each one's rule, and the tables that
// name them in the program (a DosProtection's fields, a real server's ARP settings, a director's forwarding).
// The agent does the I/O (provider/agent/host/sysctls.ts); the rules are here, for both sides.
import { interfaceNameProblem } from "./interface";
import { maxInt } from "./rules";
import { show } from "./show";

export type SysctlValue = number | readonly [number, number];

export interface SysctlRule {
    kind: "int" | "pair";
    /** Allowed integers: a range, optionally restricted to a set or to powers of two. */
    min?: number;
    max?: number;
    oneOf?: readonly number[];
    powerOfTwo?: boolean;
    /** The rule in words, for error messages and docs. */
    text: string;
}

export interface SysctlEntry {
    rule: SysctlRule;
    /** The module that creates the file (it does not exist before that module is loaded). */
    module?: string;
}

const INT_MAX = maxInt;
/** Seconds kept in jiffies: INT_MAX / HZ must hold them for HZ up to 1000. */
const SECONDS_MAX = Math.floor(INT_MAX / 1000);

const int = (min: number, max: number, text: string, extra: Partial<SysctlRule> = {}): SysctlRule =>
    ({ kind: "int", min, max, text, ...extra });
const bool = int(0, 1, "0 or 1");
const defense = int(0, 3, "0 (off), 1 or 2 (automatic, the kernel flips between them), 3 (always)");
const seconds = int(0, SECONDS_MAX, `seconds, an integer 0-${SECONDS_MAX}`);

const vs = (rule: SysctlRule, module = "ip_vs"): SysctlEntry => ({ rule, module });

/**
 * Every sysctl the agent may read or write outside net.ipv4.conf.<interface>; names as sysctl(8) writes them.
 * net.ipv4.vs.* exist only once ip_vs is loaded and are per network namespace. Checked against kernel 6.1:
 * it has all of these (est_cpulist / est_nice came in 6.2; timeout_* and debug_level are debug builds only).
 */
export const SYSCTLS: Readonly<Record<string, SysctlEntry>> = {
    "net.ipv4.vs.amemthresh": vs(int(0, INT_MAX, `available memory threshold in pages, an integer 0-${INT_MAX}`)),
    "net.ipv4.vs.am_droprate": vs(int(0, INT_MAX, `drop rate in always mode (1/rate), an integer 0-${INT_MAX}`)),
    "net.ipv4.vs.drop_entry": vs(defense),
    "net.ipv4.vs.drop_packet": vs(defense),
    "net.ipv4.vs.secure_tcp": vs(defense),
    "net.ipv4.vs.conntrack": vs(bool),
    "net.ipv4.vs.snat_reroute": vs(bool),
    "net.ipv4.vs.sync_version": vs(bool),
    "net.ipv4.vs.sync_ports": vs(int(1, 32768, "a power of two 1-32768 (one sync thread and UDP port each)",
        { powerOfTwo: true })),
    "net.ipv4.vs.sync_persist_mode": vs(bool),
    "net.ipv4.vs.sync_qlen_max": vs(int(1, Number.MAX_SAFE_INTEGER,
        `queued sync messages, an integer 1-${Number.MAX_SAFE_INTEGER}`)),
    "net.ipv4.vs.sync_sock_size": vs(int(0, INT_MAX,
        `socket buffer bytes (0 = system default), an integer 0-${INT_MAX}`)),
    "net.ipv4.vs.cache_bypass": vs(bool),
    "net.ipv4.vs.expire_nodest_conn": vs(bool),
    "net.ipv4.vs.sloppy_tcp": vs(bool),
    "net.ipv4.vs.sloppy_sctp": vs(bool),
    "net.ipv4.vs.expire_quiescent_template": vs(bool),
    "net.ipv4.vs.sync_threshold": vs({ kind: "pair",
        text: `two integers [threshold, period], each 0-${INT_MAX}, threshold < period unless period is 0` }),
    "net.ipv4.vs.sync_refresh_period": vs(seconds),
    "net.ipv4.vs.sync_retries": vs(int(0, 3, "an integer 0-3")),
    "net.ipv4.vs.nat_icmp_send": vs(bool),
    "net.ipv4.vs.pmtu_disc": vs(bool),
    "net.ipv4.vs.backup_only": vs(bool),
    "net.ipv4.vs.conn_reuse_mode": vs(int(0, 3,
        "a bitmask 0-3 (bit 1: reschedule on port reuse, bit 2: also for TIME_WAIT)")),
    "net.ipv4.vs.schedule_icmp": vs(bool),
    "net.ipv4.vs.ignore_tunneled": vs(bool),
    "net.ipv4.vs.run_estimation": vs(bool),
    "net.ipv4.vs.lblc_expiration": vs(seconds, "ip_vs_lblc"),
    "net.ipv4.vs.lblcr_expiration": vs(seconds, "ip_vs_lblcr"),
    "net.ipv4.ip_forward": { rule: bool },
    "net.ipv6.conf.all.forwarding": { rule: bool },
};

/** net.ipv4.conf.<all|default|interface>.<key>: the per-interface sysctls the agent may touch. */
export const INTERFACE_SYSCTLS: Readonly<Record<string, SysctlEntry>> = {
    arp_ignore: { rule: int(0, 8, "0, 1, 2, 3 or 8 (1: reply only for addresses on the incoming interface)",
        { oneOf: [0, 1, 2, 3, 8] }) },
    arp_announce: { rule: int(0, 2, "0, 1 or 2 (2: always use the best local address)") },
    rp_filter: { rule: int(0, 2, "0 (off), 1 (strict) or 2 (loose)") },
};

/** A director's forwarding: NAT needs it (a Director's ipForward and ipv6Forward). */
export const ipv4Forward = "net.ipv4.ip_forward";
export const ipv6Forward = "net.ipv6.conf.all.forwarding";

export interface ResolvedSysctl extends SysctlEntry {
    name: string;
    path: string;
    /** For net.ipv4.conf.<x>.*: x ("all", "default" or an interface name). */
    interface?: string;
}

/** The sysctl name for an interface key, e.g. interfaceSysctl("lan0", "arp_ignore"). */
export function interfaceSysctl(iface: string, key: keyof typeof INTERFACE_SYSCTLS): string {
    return `net.ipv4.conf.${iface}.${key}`;
}

/** Finds a sysctl in the closed table, or says why it is not one (any other name, a bad interface name). */
export function findSysctl(name: unknown): ResolvedSysctl | string {
    if (typeof name !== "string") return `sysctl name ${show(name)} is not a string`;
    const fixed = Object.prototype.hasOwnProperty.call(SYSCTLS, name) ? SYSCTLS[name] : undefined;
    if (fixed) return { name, path: "/proc/sys/" + name.replace(/\./g, "/"), ...fixed };
    const prefix = "net.ipv4.conf.";
    const dot = name.lastIndexOf(".");
    const key = name.slice(dot + 1);
    if (name.startsWith(prefix) && dot > prefix.length &&
        Object.prototype.hasOwnProperty.call(INTERFACE_SYSCTLS, key)) {
        const iface = name.slice(prefix.length, dot);
        if (iface !== "all" && iface !== "default") {
            const p = interfaceNameProblem(iface);
            if (p) return `sysctl ${name}: ${p}`;
        }
        return { name, path: `/proc/sys/net/ipv4/conf/${iface}/${key}`, interface: iface, ...INTERFACE_SYSCTLS[key] };
    }
    return `sysctl ${show(name)} is not one the agent manages (allowed: ${Object.keys(SYSCTLS).join(", ")}, ` +
        `net.ipv4.conf.<all|default|interface>.{${Object.keys(INTERFACE_SYSCTLS).join(",")}})`;
}

function ruleAccepts(rule: SysctlRule, value: unknown): boolean {
    const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
    if (rule.kind === "pair") {
        if (!Array.isArray(value) || value.length !== 2 || !value.every(isInt)) return false;
        const [threshold, period] = value as number[];
        return threshold >= 0 && period >= 0 && threshold <= INT_MAX && period <= INT_MAX &&
            (period === 0 || threshold < period);
    }
    if (!isInt(value) || value < rule.min! || value > rule.max!) return false;
    if (rule.oneOf && !rule.oneOf.includes(value)) return false;
    if (rule.powerOfTwo && (value & (value - 1)) !== 0) return false;
    return true;
}

/** Why this value cannot be written to this sysctl (naming the sysctl, the value and the rule), or undefined. */
export function sysctlProblem(name: string, value: unknown): string | undefined {
    const s = findSysctl(name);
    if (typeof s === "string") return s;
    if (ruleAccepts(s.rule, value)) return undefined;
    return `sysctl ${name}: value ${show(value)} is invalid (must be ${s.rule.text})`;
}

/** A sysctl value in the words of a change ("1 -> 0", "3 50"). */
export const sysctlText = (v: SysctlValue | undefined): string => (Array.isArray(v) ? v.join(" ") : String(v));

// ------------------------------------------------------------------------------------------------
// DosProtection: the IPVS defence strategies and the other net.ipv4.vs sysctls of a director.

/** off (0), auto (1 or 2: the kernel switches by available memory), always (3). */
export type DefenseMode = "off" | "auto" | "always";

/** A DosProtection: the IPVS defence strategies and related net.ipv4.vs sysctls of a director. */
export interface DosProtectionSpec {
    /** net.ipv4.vs.drop_entry: drop connection entries at random when memory is short. */
    dropEntry?: DefenseMode;
    /** net.ipv4.vs.drop_packet: drop packets at the rate of amDroprate. */
    dropPacket?: DefenseMode;
    /** net.ipv4.vs.secure_tcp: shorter timeouts for half-open connections. */
    secureTcp?: DefenseMode;
    /** net.ipv4.vs.amemthresh: the available memory (pages) below which auto modes switch on. */
    amemthresh?: number;
    /** net.ipv4.vs.am_droprate: drop 1 in this many packets (dropPacket). */
    amDroprate?: number;
    /** net.ipv4.vs.expire_nodest_conn: expire a connection at once when its real server is gone. */
    expireNodestConn?: boolean;
    /** net.ipv4.vs.expire_quiescent_template: expire persistence templates of a weight-0 real server. */
    expireQuiescentTemplate?: boolean;
    /** net.ipv4.vs.conntrack: keep netfilter connection tracking for IPVS connections. */
    conntrack?: boolean;
    /** net.ipv4.vs.conn_reuse_mode: 0-3, how a reused source port is rescheduled. */
    connReuseMode?: number;
    /** net.ipv4.vs.sloppy_tcp: take up a TCP connection from any packet, not only a SYN: what a director
     * needs to carry on the connections of one that failed over to it without a sync daemon. */
    sloppyTcp?: boolean;
}

/** How a DosProtection field is written: a defence mode (off, auto, always), a boolean, or the integer itself. */
export type DosKind = "mode" | "bool" | "int";
/** Each field's sysctl and kind (its rule is the sysctl's, in SYSCTLS). */
export const dosAttributes = {
    dropEntry: { sysctl: "net.ipv4.vs.drop_entry", kind: "mode" },
    dropPacket: { sysctl: "net.ipv4.vs.drop_packet", kind: "mode" },
    secureTcp: { sysctl: "net.ipv4.vs.secure_tcp", kind: "mode" },
    amemthresh: { sysctl: "net.ipv4.vs.amemthresh", kind: "int" },
    amDroprate: { sysctl: "net.ipv4.vs.am_droprate", kind: "int" },
    expireNodestConn: { sysctl: "net.ipv4.vs.expire_nodest_conn", kind: "bool" },
    expireQuiescentTemplate: { sysctl: "net.ipv4.vs.expire_quiescent_template", kind: "bool" },
    conntrack: { sysctl: "net.ipv4.vs.conntrack", kind: "bool" },
    connReuseMode: { sysctl: "net.ipv4.vs.conn_reuse_mode", kind: "int" },
    sloppyTcp: { sysctl: "net.ipv4.vs.sloppy_tcp", kind: "bool" },
} as const satisfies Record<keyof DosProtectionSpec, { sysctl: string; kind: DosKind }>;
export type DosField = keyof typeof dosAttributes;
export const dosProtectionFields = Object.keys(dosAttributes) as DosField[];

const modes: Record<DefenseMode, number> = { off: 0, auto: 1, always: 3 };

/** A field's value as the sysctl holds it. */
export function dosToKernel(field: DosField, v: unknown): number {
    const kind: DosKind = dosAttributes[field].kind;
    return kind === "mode" ? modes[v as DefenseMode] : kind === "bool" ? (v ? 1 : 0) : (v as number);
}

/** A sysctl's value in the field's words. The kernel flips auto between 1 and 2 itself (by available memory),
 * so both read as auto. */
export function dosFromKernel(field: DosField, v: SysctlValue): unknown {
    const kind: DosKind = dosAttributes[field].kind;
    return kind === "mode" ? (v === 0 ? "off" : v === 3 ? "always" : "auto") : kind === "bool" ? v === 1 : v;
}

/** Why a DosProtection field's value is refused, naming the sysctl behind it. */
export function dosProblem(field: DosField, v: unknown): string | undefined {
    const { sysctl, kind } = dosAttributes[field] as { sysctl: string; kind: DosKind };
    if (kind === "mode")
        return typeof v === "string" && v in modes ? undefined
            : `${show(v)} is invalid (must be off, auto or always; ${sysctl})`;
    if (kind === "bool")
        return typeof v === "boolean" ? undefined : `${show(v)} is invalid (must be a boolean; ${sysctl})`;
    return sysctlProblem(sysctl, v);
}

// ------------------------------------------------------------------------------------------------
// The real-server side of direct routing and tunnelling.

/** What a real server of `forwarding` needs: no ARP for the VIPs (all and the interface: the kernel takes
 * the larger); for tun, no reverse-path filter on tunl0. */
export function realServerNodeSysctls(forwarding: string, arpInterface: string): Record<string, SysctlValue> {
    const out: Record<string, SysctlValue> = {};
    for (const iface of ["all", arpInterface]) {
        out[interfaceSysctl(iface, "arp_ignore")] = 1;
        out[interfaceSysctl(iface, "arp_announce")] = 2;
    }
    if (forwarding === "tun") {
        out[interfaceSysctl("tunl0", "rp_filter")] = 0;
        out[interfaceSysctl("all", "rp_filter")] = 0;
    }
    return out;
}
