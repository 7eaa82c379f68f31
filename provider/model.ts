// The desired state of an IPVS table as users declare it, the defaults ipvsadm applies, and the rules
// that input must follow. One place, used by the providers' `check` and by the agent, which validates
// every request again (it trusts nothing it is sent).
import * as net from "net";
import { canonicalAddress } from "./address";
import { show } from "./show";
import { SCHEDULERS, Scheduler, interfaceNameProblem } from "./agent/host";
import * as ipvs from "./agent/ipvs";
import type { Family, Protocol, TunnelType } from "./agent/ipvs";

export { canonicalAddress, show };
export type { Family, Protocol, Scheduler, TunnelType };
/** How a real server is reached (the kernel's "local" is its own doing, never declared). */
export type Forwarding = Exclude<ipvs.ForwardingMethod, "local">;
export type TunnelChecksum = ipvs.TunnelFlags;
export type SchedulerFlag = "sh-fallback" | "sh-port" | "mh-fallback" | "mh-port";

/** A virtual service: protocol + address + port, or a firewall mark with its family. */
export interface ServiceKey {
    protocol?: Protocol;
    address?: string;
    port?: number;
    fwmark?: number;
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

export interface ServiceSpec extends ServiceKey {
    scheduler?: Scheduler;
    schedulerFlags?: SchedulerFlag[];
    persistence?: Persistence;
    /** One-packet scheduling (ipvsadm -o), for UDP. */
    onePacket?: boolean;
}

export interface Tunnel {
    type?: TunnelType;
    port?: number;
    checksum?: TunnelChecksum;
}

export interface RealServerSpec {
    address: string;
    port?: number;
    forwarding?: Forwarding;
    weight?: number;
    upperThreshold?: number;
    lowerThreshold?: number;
    tunnel?: Tunnel;
}

export interface Failure {
    property: string;
    reason: string;
}

/** The fields of each declaration, as the SDK's *Args name them: check refuses any other, naming the
 * allowed ones (a "schedular" from a JSON config must not silently become the default scheduler). */
export const serviceKeyFields = ["protocol", "address", "port", "fwmark", "family"] as const;
export const serviceSettingFields = ["scheduler", "schedulerFlags", "persistence", "onePacket"] as const;
export const persistenceFields = ["timeout", "netmask", "engine"] as const;
export const realServerSettingFields = ["forwarding", "weight", "upperThreshold", "lowerThreshold", "tunnel"] as const;
export const tunnelFields = ["type", "port", "checksum"] as const;

/** How a node is reached (ConnectionArgs), and a DosProtection's settings (the net.ipv4.vs sysctls). */
export const connectionFields = ["host", "port", "user", "privateKey", "privateKeyPassword", "password", "agentSocket", "hostKey", "insecureIgnoreHostKey", "proxy", "sudo", "dialTimeout", "dialRetries"] as const;
export const dosProtectionFields = ["dropEntry", "dropPacket", "secureTcp", "amemthresh", "amDroprate", "expireNodestConn", "expireQuiescentTemplate", "conntrack", "connReuseMode"] as const;

/** A sync daemon's settings: the program's names, and the agent's (ipvs.Daemon). */
export const syncDaemonFields = { interface: "mcastInterface", syncId: "syncId", maxLen: "syncMaxlen", group: "mcastGroup", port: "mcastPort", ttl: "mcastTtl" } as const;

/** One failure per key of `o` that is not in `allowed`, at `property.key`. */
export function unknownFields(o: unknown, allowed: readonly string[], property: string, what: string, f: Failure[] = []): Failure[] {
    if (typeof o !== "object" || o === null || Array.isArray(o)) return f;
    for (const k of Object.keys(o)) if (!allowed.includes(k))
        f.push({ property: property ? `${property}.${k}` : k, reason: `unknown ${what} ${show(k)} (allowed: ${allowed.join(", ")})` });
    return f;
}


const u32 = 0xffffffff;
/** ipvsadm's limits (1.31, checked against the lab): weights and thresholds are ints, a persistence
 * timeout is at most 31 days, a sync message fits one UDP datagram (65535 - 20 - 8 bytes). */
const maxInt = 0x7fffffff;
const maxPersistence = 31 * 86400;
const maxSyncLen = 65535 - 20 - 8;
const isInt = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** The family of an address, or undefined when it is not one the kernel takes (an IPv6 zone, "%eth0",
 * is not: ipvsadm refuses it, and the kernel's address has no room for it). */
export function familyOf(address: string): Family | undefined {
    if (address.includes("%")) return undefined;
    const v = net.isIP(address);
    return v === 4 ? "inet" : v === 6 ? "inet6" : undefined;
}

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
    if (!net.isIPv4(mask)) return false;
    const n = mask.split(".").reduce((a, b) => a * 256 + Number(b), 0);
    const inv = u32 - n;
    return ((inv + 1) & inv) === 0; // ones, then zeros (0.0.0.0 too: one persistence template for every client)
}

export function validateServiceKey(k: ServiceKey, f: Failure[] = []): Failure[] {
    if (k.fwmark !== undefined) {
        if (!isInt(k.fwmark, 1, u32)) f.push({ property: "fwmark", reason: `${show(k.fwmark)} is not a firewall mark: an integer from 1 to ${u32}` });
        for (const p of ["protocol", "address", "port"] as const)
            if (k[p] !== undefined) f.push({ property: p, reason: `a fwmark service has no ${p}: give fwmark (and family) or protocol, address and port` });
        if (k.family !== undefined && k.family !== "inet" && k.family !== "inet6")
            f.push({ property: "family", reason: `${show(k.family)} is not a family: use "inet" or "inet6"` });
        return f;
    }
    if (k.protocol !== "tcp" && k.protocol !== "udp" && k.protocol !== "sctp")
        f.push({ property: "protocol", reason: `${show(k.protocol)} is not a protocol: use "tcp", "udp" or "sctp" (or give fwmark instead)` });
    if (typeof k.address !== "string" || !familyOf(k.address))
        f.push({ property: "address", reason: `${show(k.address)} is not an IPv4 or IPv6 address` });
    if (!isInt(k.port, 0, 65535)) f.push({ property: "port", reason: `${show(k.port)} is not a port: an integer from 0 to 65535` });
    if (k.family !== undefined && familyOf(k.address ?? "") && k.family !== familyOf(k.address ?? ""))
        f.push({ property: "family", reason: `${show(k.family)} does not match address ${k.address}; leave it out for address services` });
    return f;
}

export function validateService(s: ServiceSpec): Failure[] {
    const f = validateServiceKey(s);
    if (s.scheduler !== undefined && !(SCHEDULERS as readonly string[]).includes(s.scheduler))
        f.push({ property: "scheduler", reason: `${show(s.scheduler)} is not an IPVS scheduler: use one of ${SCHEDULERS.join(", ")}` });
    const sched = s.scheduler ?? "wlc";
    for (const flag of s.schedulerFlags ?? []) {
        const [owner] = String(flag).split("-");
        if (!["sh-fallback", "sh-port", "mh-fallback", "mh-port"].includes(flag))
            f.push({ property: "schedulerFlags", reason: `${show(flag)} is not a scheduler flag: use sh-fallback, sh-port, mh-fallback or mh-port` });
        else if (owner !== sched)
            f.push({ property: "schedulerFlags", reason: `${flag} is a flag of the ${owner} scheduler, not of ${sched}` });
    }
    const p = s.persistence;
    if (p !== undefined) {
        if (p.timeout !== undefined && !isInt(p.timeout, 1, maxPersistence))
            f.push({ property: "persistence.timeout", reason: `${show(p.timeout)} is not a persistence timeout: whole seconds from 1 to ${maxPersistence} (31 days)` });
        if (p.netmask !== undefined) {
            if (serviceFamily(s) === "inet6") {
                if (!isInt(p.netmask, 1, 128)) f.push({ property: "persistence.netmask", reason: `${show(p.netmask)} is not an IPv6 prefix length: an integer from 1 to 128` });
            } else if (typeof p.netmask !== "string" || !checkIPv4Mask(p.netmask))
                f.push({ property: "persistence.netmask", reason: `${show(p.netmask)} is not an IPv4 netmask like "255.255.255.0" (contiguous ones)` });
        }
        if (p.engine !== undefined && p.engine !== "sip")
            f.push({ property: "persistence.engine", reason: `${show(p.engine)} is not a persistence engine: the kernel has "sip"` });
        if (p.engine === "sip" && s.protocol !== undefined && s.protocol !== "udp")
            f.push({ property: "persistence.engine", reason: `the sip persistence engine handles UDP, not ${s.protocol}` });
    } else if (s.fwmark === undefined && s.port === 0)
        f.push({ property: "port", reason: "port 0 (any port) is only allowed for a persistent service: set persistence" });
    if (s.onePacket !== undefined && typeof s.onePacket !== "boolean")
        f.push({ property: "onePacket", reason: `${show(s.onePacket)} is not a boolean` });
    if (s.onePacket && s.protocol !== undefined && s.protocol !== "udp")
        f.push({ property: "onePacket", reason: `one-packet scheduling is for UDP services (or fwmark services carrying UDP), not ${s.protocol}` });
    return f;
}

export function validateRealServer(r: RealServerSpec, service: ServiceKey): Failure[] {
    const f: Failure[] = [];
    const fwd = r.forwarding ?? "dr";
    if (!["nat", "dr", "tun"].includes(fwd)) f.push({ property: "forwarding", reason: `${show(r.forwarding)} is not a forwarding method: use "dr", "tun" or "nat"` });
    const family = familyOf(String(r.address));
    if (!family) f.push({ property: "address", reason: `${show(r.address)} is not an IPv4 or IPv6 address` });
    else if (family !== serviceFamily(service) && fwd !== "tun")
        f.push({ property: "address", reason: `${r.address} is ${family} but the service is ${serviceFamily(service)}: mixing families needs forwarding "tun"` });
    if (r.port !== undefined) {
        if (!isInt(r.port, 0, 65535)) f.push({ property: "port", reason: `${show(r.port)} is not a port: an integer from 0 to 65535` });
        else if (fwd !== "nat" && service.fwmark === undefined && r.port !== service.port)
            f.push({ property: "port", reason: `with forwarding "${fwd}" a real server listens on the service's port ${service.port}, not ${r.port}; leave port out or use "nat"` });
    }
    if (r.weight !== undefined && !isInt(r.weight, 0, maxInt)) f.push({ property: "weight", reason: `${show(r.weight)} is not a weight: an integer from 0 to ${maxInt} (0 takes no new connections)` });
    for (const p of ["upperThreshold", "lowerThreshold"] as const)
        if (r[p] !== undefined && !isInt(r[p], 0, maxInt)) f.push({ property: p, reason: `${show(r[p])} is not a connection threshold: an integer from 0 (none) to ${maxInt}` });
    // The kernel refuses (ERANGE) a lower threshold above the upper one, and "no upper threshold" is 0.
    const upper = r.upperThreshold ?? 0;
    if (isInt(upper, 0, maxInt) && isInt(r.lowerThreshold, 1, maxInt) && r.lowerThreshold > upper)
        f.push({ property: "lowerThreshold", reason: upper === 0
            ? `${r.lowerThreshold} needs an upper threshold at or above it (the kernel refuses a lower threshold alone: ERANGE)`
            : `${r.lowerThreshold} is above the upper threshold ${upper}` });
    const t = r.tunnel;
    if (t !== undefined) {
        if (fwd !== "tun") f.push({ property: "tunnel", reason: `tunnel settings need forwarding "tun", not "${fwd}"` });
        if (t.type !== undefined && !["ipip", "gue", "gre"].includes(t.type)) f.push({ property: "tunnel.type", reason: `${show(t.type)} is not a tunnel type: use "ipip", "gue" or "gre"` });
        if (t.type === "gue" && !isInt(t.port, 1, 65535)) f.push({ property: "tunnel.port", reason: `${show(t.port)}: a GUE tunnel needs its UDP port, from 1 to 65535` });
        if (t.type !== "gue" && t.port !== undefined) f.push({ property: "tunnel.port", reason: `only a GUE tunnel has a port` });
        if (t.checksum !== undefined && !["nocsum", "csum", "remcsum"].includes(t.checksum))
            f.push({ property: "tunnel.checksum", reason: `${show(t.checksum)} is not a tunnel checksum mode: use "nocsum", "csum" or "remcsum"` });
        if (t.checksum !== undefined && (t.type ?? "ipip") === "ipip") f.push({ property: "tunnel.checksum", reason: `an ipip tunnel has no checksum option (gue and gre do)` });
        if (t.checksum === "remcsum" && t.type !== "gue") f.push({ property: "tunnel.checksum", reason: `remote checksum offload (remcsum) is for GUE tunnels only` });
    }
    return f;
}

/** The kernel's identity of a (valid) service key: family explicit, address canonical. A kernel id is a
 * service key too, so the two go wherever either is asked for. */
export function serviceId(k: ServiceKey): ipvs.VirtualServiceId {
    const family = serviceFamily(k);
    return k.fwmark !== undefined
        ? { family, fwmark: k.fwmark }
        : { family, protocol: k.protocol!, address: canonicalAddress(k.address!), port: k.port! };
}

/** The kernel's form of a declared service: ipvsadm's defaults (scheduler wlc, persistence 360 s and
 * /32 or /128 when persistent) filled in, addresses canonical. What the agent compares with the table. */
export function normalizeService(s: ServiceSpec): ipvs.VirtualService {
    const id = serviceId(s);
    const family = id.family;
    const scheduler = s.scheduler ?? "wlc";
    const p = s.persistence;
    return {
        ...id,
        scheduler,
        schedFlags: ipvs.schedFlagBits(scheduler, s.schedulerFlags ?? []),
        persistent: p !== undefined,
        onePacket: s.onePacket ?? false,
        persistenceTimeout: p ? (p.timeout ?? 360) : 0,
        netmask: p?.netmask ?? (family === "inet6" ? 128 : "255.255.255.255"),
        ...(p?.engine ? { persistenceEngine: p.engine } : {}),
    };
}

/** The kernel's form of a declared real server: ipvsadm's defaults (dr, weight 1, no thresholds, the
 * service's port) filled in, the address canonical. */
export function normalizeRealServer(r: RealServerSpec, service: ServiceKey): ipvs.RealServer {
    const forwarding = r.forwarding ?? "dr";
    const t = r.tunnel;
    return {
        address: canonicalAddress(r.address),
        port: r.port ?? (service.fwmark !== undefined ? 0 : service.port!),
        addressFamily: familyOf(r.address)!,
        forwarding,
        weight: r.weight ?? 1,
        upperThreshold: r.upperThreshold ?? 0,
        lowerThreshold: r.lowerThreshold ?? 0,
        ...(forwarding === "tun" ? { tunnelType: t?.type ?? "ipip", tunnelPort: t?.port ?? 0, ...(t?.checksum ? { tunnelFlags: t.checksum } : {}) } : {}),
    };
}

export function validateDaemon(d: ipvs.Daemon): Failure[] {
    const f: Failure[] = [];
    if (d.state !== "master" && d.state !== "backup") f.push({ property: "state", reason: `${show(d.state)} is not a sync daemon state: use "master" or "backup"` });
    // The kernel's dev_valid_name (no "/", ":" or white space), in printable ASCII as the agent's host operations take it.
    if (typeof d.mcastInterface !== "string" || !/^[!-9;-~]{1,15}$/.test(d.mcastInterface) || d.mcastInterface.includes("/") || d.mcastInterface === "." || d.mcastInterface === "..")
        f.push({ property: "mcastInterface", reason: `${show(d.mcastInterface)} is not an interface name: 1 to 15 printable ASCII characters, no "/", ":" or spaces, not "." or ".."` });
    if (!isInt(d.syncId, 0, 255)) f.push({ property: "syncId", reason: `${show(d.syncId)} is not a sync id: an integer from 0 to 255` });
    if (d.syncMaxlen !== undefined && !isInt(d.syncMaxlen, 1, maxSyncLen))
        f.push({ property: "syncMaxlen", reason: `${show(d.syncMaxlen)} is not a sync message length: 1 to ${maxSyncLen} bytes (one UDP datagram)` });
    if (d.mcastGroup !== undefined) {
        const g = String(d.mcastGroup);
        const multicast = net.isIPv4(g) ? Number(g.split(".")[0]) >= 224 && Number(g.split(".")[0]) <= 239 : net.isIPv6(g) && /^ff/i.test(g);
        if (!multicast) f.push({ property: "mcastGroup", reason: `${show(d.mcastGroup)} is not a multicast group (224.0.0.0/4 or ff00::/8)` });
    }
    if (d.mcastPort !== undefined && !isInt(d.mcastPort, 1, 65535)) f.push({ property: "mcastPort", reason: `${show(d.mcastPort)} is not a port: 1 to 65535` });
    if (d.mcastTtl !== undefined && !isInt(d.mcastTtl, 1, 255)) f.push({ property: "mcastTtl", reason: `${show(d.mcastTtl)} is not a TTL: 1 to 255` });
    return f;
}

/** What differs between a declared sync daemon and a running one; fields left out of the declaration
 * are the kernel's to choose (maxlen from the MTU, ipvsadm's group, port and TTL). */
export function daemonDiff(want: ipvs.Daemon, live: ipvs.Daemon): string[] {
    return (Object.keys(want) as Array<keyof ipvs.Daemon>)
        .filter((k) => want[k] !== undefined && (k === "mcastGroup" ? canonicalAddress(String(want[k])) !== live[k] : want[k] !== live[k]))
        .map((k) => `${k} ${String(live[k])} -> ${String(want[k])}`);
}

/** IPVS connection timeouts (ipvsadm --set tcp tcpfin udp), whole seconds: the kernel keeps them in
 * jiffies of an int, so the agent (like ipvsadm) takes at most 2147483. */
export const timeoutFields = ["tcp", "tcpFin", "udp"] as const;
export const maxTimeout = Math.floor(maxInt / 1000);

export function validateTimeouts(t: unknown, property = "timeouts"): Failure[] {
    if (typeof t !== "object" || t === null || Array.isArray(t)) return [{ property, reason: `${show(t)} is not a set of timeouts: give tcp, tcpFin and / or udp` }];
    const f = unknownFields(t, timeoutFields, property, "timeout");
    for (const [k, v] of Object.entries(t))
        if ((timeoutFields as readonly string[]).includes(k) && !isInt(v, 1, maxTimeout))
            f.push({ property: `${property}.${k}`, reason: `${show(v)} is not a timeout: whole seconds from 1 to ${maxTimeout}` });
    return f;
}

/** An address a node holds on an interface (a director's VIP, a real server's): the prefix length is
 * 32 or 128 when left out. */
export interface HostAddress { address: string; interface: string; prefixLength?: number }
export const hostAddressFields = ["address", "interface", "prefixLength"] as const;

export function validateHostAddress(a: unknown, property: string): Failure[] {
    if (typeof a !== "object" || a === null || Array.isArray(a)) return [{ property, reason: `${show(a)} is not an address: give address and interface` }];
    const o = a as Record<string, unknown>;
    const f = unknownFields(o, hostAddressFields, property, "address field");
    const family = typeof o.address === "string" ? familyOf(o.address) : undefined;
    if (!family) f.push({ property: `${property}.address`, reason: `${show(o.address)} is not an IPv4 or IPv6 address` });
    const p = interfaceNameProblem(o.interface);
    if (p) f.push({ property: `${property}.interface`, reason: p });
    const max = family === "inet6" ? 128 : 32;
    if (o.prefixLength !== undefined && !isInt(o.prefixLength, 1, max))
        f.push({ property: `${property}.prefixLength`, reason: `${show(o.prefixLength)} is not a prefix length${family ? ` for ${o.address}` : ""}: an integer from 1 to ${max}` });
    return f;
}

/** A real server's drain on delete: the deadline in whole seconds (300 when left out). */
export const defaultDrainTimeout = 300;
export const maxDrainTimeout = 86400;

export function validateDrainTimeout(t: unknown, property: string): Failure[] {
    return t === undefined || isInt(t, 0, maxDrainTimeout) ? []
        : [{ property, reason: `${show(t)} is not a drain deadline: whole seconds from 0 to ${maxDrainTimeout}` }];
}
