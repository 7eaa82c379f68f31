// IPVS over generic netlink, for the node agent: plain data types, the wire constants in one table,
// pure pack / unpack functions for every message, and IpvsHandle, one socket that talks to the kernel.
// The facts come from shared/reference/ipvs-netlink.md, checked against the lab kernel (Debian 6.1);
// where the kernel disagreed with the reference, a comment says so. No idempotence rules live here:
// an error carries its errno exactly, and the agent decides what EEXIST or ESRCH means to it.
// FLUSH (command 17) is deliberately absent: this module can never send it.
import * as os from "os";
import * as util from "util";
import type { NetlinkMessage, NetlinkSocket } from "netlink";
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "../model/address";
import type {
    AddressServiceId, Daemon, Family, ForwardingMethod, FwmarkServiceId, Info, Protocol, RealServer, RealServerId,
    DestinationSettings, Stats, SyncState, Timeouts, TunnelFlags, TunnelType, VirtualService, VirtualServiceId,
    VirtualServiceSettings,
} from "../model/types";
import { SCHED_BITS } from "../model/schedulers";
export { schedFlagBits, schedFlagNames } from "../model/schedulers";
export type {
    AddressServiceId, Daemon, Family, ForwardingMethod, FwmarkServiceId, Info, Protocol, RealServer, RealServerId,
    DestinationSettings, Stats, SyncState, Timeouts, TunnelFlags, TunnelType, VirtualService, VirtualServiceId,
    VirtualServiceSettings,
};

// ---------------------------------------------------------------------------------------------
// The wire constants, in one place

export const IPVS = {
    genlName: "IPVS",
    genlVersion: 1,
    cmd: {
        NEW_SERVICE: 1, SET_SERVICE: 2, DEL_SERVICE: 3, GET_SERVICE: 4,
        NEW_DEST: 5, SET_DEST: 6, DEL_DEST: 7, GET_DEST: 8,
        NEW_DAEMON: 9, DEL_DAEMON: 10, GET_DAEMON: 11,
        SET_CONFIG: 12, GET_CONFIG: 13, SET_INFO: 14, GET_INFO: 15, ZERO: 16,
        // FLUSH (17) deletes every service of the namespace: never sent by this module.
    },
    cmdAttr: { SERVICE: 1, DEST: 2, DAEMON: 3, TIMEOUT_TCP: 4, TIMEOUT_TCP_FIN: 5, TIMEOUT_UDP: 6 },
    svcAttr: {
        AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9,
        STATS: 10, PE_NAME: 11, STATS64: 12,
    },
    destAttr: {
        ADDR: 1, PORT: 2, FWD_METHOD: 3, WEIGHT: 4, U_THRESH: 5, L_THRESH: 6, ACTIVE_CONNS: 7, INACT_CONNS: 8,
        PERSIST_CONNS: 9, STATS: 10, ADDR_FAMILY: 11, STATS64: 12, TUN_TYPE: 13, TUN_PORT: 14, TUN_FLAGS: 15,
    },
    daemonAttr: {
        STATE: 1, MCAST_IFN: 2, SYNC_ID: 3, SYNC_MAXLEN: 4, MCAST_GROUP: 5, MCAST_GROUP6: 6, MCAST_PORT: 7,
        MCAST_TTL: 8,
    },
    statsAttr: {
        CONNS: 1, INPKTS: 2, OUTPKTS: 3, INBYTES: 4, OUTBYTES: 5, CPS: 6, INPPS: 7, OUTPPS: 8, INBPS: 9,
        OUTBPS: 10, PAD: 11,
    },
    /** IPVS_INFO_ATTR_* (the reference names them without ids; checked in the lab). */
    infoAttr: { VERSION: 1, CONN_TAB_SIZE: 2 },
    svcFlag: { PERSISTENT: 0x1, HASHED: 0x2, ONEPACKET: 0x4, ...SCHED_BITS },
    af: { inet: 2, inet6: 10 } as Record<Family, number>,
    protocol: { tcp: 6, udp: 17, sctp: 132 } as Record<Protocol, number>,
    forwarding: { nat: 0, local: 1, tun: 2, dr: 3 } as Record<ForwardingMethod, number>,
    tunnelType: { ipip: 0, gue: 1, gre: 2 } as Record<TunnelType, number>,
    /** Bits: CSUM 1, REMCSUM 2; none set is "nocsum". */
    tunnelFlags: { nocsum: 0, csum: 1, remcsum: 2 } as Record<TunnelFlags, number>,
    syncState: { master: 1, backup: 2 } as Record<SyncState, number>,
    /** Name lengths include the terminating NUL (IP_VS_SCHEDNAME_MAXLEN, IP_VS_PENAME_MAXLEN, IP_VS_IFNAME_MAXLEN). */
    nameMax: 16,
} as const;

/** Generic netlink controller and netlink header constants. */
export const NETLINK = {
    GENERIC: 16, GENL_ID_CTRL: 16, CTRL_CMD_GETFAMILY: 3, CTRL_ATTR_FAMILY_ID: 1, CTRL_ATTR_FAMILY_NAME: 2,
    NLMSG_ERROR: 2, NLMSG_DONE: 3, NLM_F_REQUEST: 0x1, NLM_F_ACK: 0x4, NLM_F_DUMP: 0x300, NLA_F_NESTED: 0x8000, NLA_TYPE_MASK: 0x3fff,
} as const;

/** Operation kinds, for the errno meanings (ipvsadm's table). */
export type IpvsOpKind =
    | "resolve family" | "list services" | "get service" | "add service" | "update service" | "delete service"
    | "list destinations" | "add destination" | "update destination" | "delete destination"
    | "list daemons" | "start daemon" | "stop daemon" | "get timeouts" | "set timeouts" | "get info" | "zero";

const ERRNO_MEANINGS: Array<[IpvsOpKind[] | "any", string, string]> = [
    [["add service"], "EEXIST", "service already exists"],
    [["add service", "update service"], "ENOENT", "scheduler or persistence engine not found"],
    [["get service", "update service", "delete service", "zero", "list destinations"], "ESRCH", "no such service"],
    [["add destination", "update destination", "delete destination"], "ESRCH", "service not defined"],
    [["add destination"], "EEXIST", "destination already exists"],
    [["update destination", "delete destination"], "ENOENT", "no such destination"],
    [["start daemon"], "EEXIST", "daemon already running"],
    [["stop daemon"], "ESRCH", "no daemon running"],
    [["resolve family"], "ENOENT", "the kernel has no IPVS (module ip_vs not available)"],
    ["any", "EPERM", "no CAP_NET_ADMIN (run as root)"],
    ["any", "EINVAL", "invalid operation or combination"],
    ["any", "EAFNOSUPPORT", "unsupported address family"],
];

/** What an errno means for an operation, in ipvsadm's words (falls back to the C library's text). */
export function errnoMeaning(kind: IpvsOpKind, code: string, errno: number): string {
    for (const [kinds, c, meaning] of ERRNO_MEANINGS)
        if (c === code && (kinds === "any" || kinds.includes(kind))) return meaning;
    return util.getSystemErrorMap().get(-errno)?.[1] ?? `errno ${errno}`;
}

/** errno number -> name ("EEXIST"). */
export function errnoName(errno: number): string {
    return util.getSystemErrorMap().get(-errno)?.[0] ?? `E${errno}`;
}

export class IpvsError extends Error {
    /** The positive errno number (17 for EEXIST). */
    readonly errno: number;
    /** The errno name: EEXIST, ENOENT, ESRCH, ... */
    readonly code: string;
    /** What was being done: "add service tcp 10.0.0.200:80". */
    readonly op: string;
    readonly kind: IpvsOpKind;
    /** ipvsadm's meaning of this errno for this operation. */
    readonly meaning: string;
    constructor(errno: number, kind: IpvsOpKind, op: string) {
        const code = errnoName(errno);
        const meaning = errnoMeaning(kind, code, errno);
        super(`${op}: ${code}: ${meaning}`);
        this.name = "IpvsError";
        this.errno = errno;
        this.code = code;
        this.op = op;
        this.kind = kind;
        this.meaning = meaning;
    }
}

// ---------------------------------------------------------------------------------------------
// Attributes and integers (host order unless the name says be)

const LE = os.endianness() === "LE";

function check(ok: boolean, what: string): void {
    if (!ok) throw new RangeError(what);
}
function uint(v: number, bits: number, what: string): number {
    check(Number.isInteger(v) && v >= 0 && v < 2 ** bits, `${what} must be an integer in 0..${2 ** bits - 1}, got ${v}`);
    return v;
}
function u8(v: number, what: string): Buffer {
    return Buffer.from([uint(v, 8, what)]);
}
function u16(v: number, what: string): Buffer {
    const b = Buffer.alloc(2);
    LE ? b.writeUInt16LE(uint(v, 16, what)) : b.writeUInt16BE(uint(v, 16, what));
    return b;
}
function be16(v: number, what: string): Buffer {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(uint(v, 16, what));
    return b;
}
function u32(v: number, what: string): Buffer {
    const b = Buffer.alloc(4);
    LE ? b.writeUInt32LE(uint(v, 32, what)) : b.writeUInt32BE(uint(v, 32, what));
    return b;
}
function name(s: string, what: string): Buffer {
    const b = Buffer.from(s + "\0", "utf8");
    check(s.length > 0 && !s.includes("\0") && b.length <= IPVS.nameMax,
        `${what} must be 1..${IPVS.nameMax - 1} bytes, got ${JSON.stringify(s)}`);
    return b;
}

function readU8(b: Buffer): number {
    return b.readUInt8(0);
}
function readU16(b: Buffer): number {
    return LE ? b.readUInt16LE(0) : b.readUInt16BE(0);
}
function readU32(b: Buffer): number {
    return LE ? b.readUInt32LE(0) : b.readUInt32BE(0);
}
function readU64(b: Buffer): number {
    return Number(LE ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0));
}
function readName(b: Buffer): string {
    const end = b.indexOf(0);
    return b.subarray(0, end < 0 ? b.length : end).toString("utf8");
}

/** One netlink attribute: {u16 len, u16 type} in host order, the value, padding to 4 bytes. */
export function attr(type: number, value: Buffer): Buffer {
    const len = 4 + value.length;
    const b = Buffer.alloc((len + 3) & ~3);
    if (LE) { b.writeUInt16LE(len, 0); b.writeUInt16LE(type, 2); } else { b.writeUInt16BE(len, 0); b.writeUInt16BE(type, 2); }
    value.copy(b, 4);
    return b;
}

/** A nested attribute (NLA_F_NESTED set, as the kernel sets it on its replies). */
export function nest(type: number, attrs: Buffer[]): Buffer {
    return attr(type | NETLINK.NLA_F_NESTED, Buffer.concat(attrs));
}

/** Parses a stream of attributes into type -> value (flag bits masked off, the last of a type wins). */
export function parseAttrs(b: Buffer): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    let off = 0;
    while (off + 4 <= b.length) {
        const len = LE ? b.readUInt16LE(off) : b.readUInt16BE(off);
        const type = (LE ? b.readUInt16LE(off + 2) : b.readUInt16BE(off + 2)) & NETLINK.NLA_TYPE_MASK;
        if (len < 4 || off + len > b.length) throw new Error(`malformed netlink attribute at offset ${off}`);
        out.set(type, b.subarray(off + 4, off + len));
        off += (len + 3) & ~3;
    }
    return out;
}

function need(attrs: Map<number, Buffer>, type: number, what: string): Buffer {
    const v = attrs.get(type);
    if (!v) throw new Error(`the kernel's reply has no ${what} attribute`);
    return v;
}

/** A generic netlink payload: the genl header {u8 cmd, u8 version, u16 reserved} and the attributes. */
export function ipvsMessage(cmd: number, attrs: Buffer[]): Buffer {
    return Buffer.concat([Buffer.from([cmd, IPVS.genlVersion, 0, 0]), ...attrs]);
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** Parses IPv4 or IPv6 text into the kernel's 16-byte union nf_inet_addr (IPv4 in the first 4 bytes). */
export function packAddress(family: Family, text: string): Buffer {
    const b = Buffer.alloc(16);
    if (family === "inet") parseIPv4(text).copy(b);
    else parseIPv6(text).copy(b);
    return b;
}

/** The text of an address: IPv4 dotted quad, IPv6 canonical compressed form (as inet_ntop writes it). */
export function unpackAddress(family: Family, b: Buffer): string {
    return family === "inet" ? formatIPv4(b) : formatIPv6(b);
}

/** An IPv4 netmask in dotted form from its 4 network-order bytes. */
function unpackNetmask(family: Family, b: Buffer): string | number {
    return family === "inet" ? formatIPv4(b) : readU32(b);
}

function packNetmask(family: Family, netmask: string | number): Buffer {
    if (family === "inet") {
        check(typeof netmask === "string", `an IPv4 netmask is a dotted mask like "255.255.255.255", got ${netmask}`);
        return parseIPv4(netmask as string);
    }
    // The kernel refuses prefix 0 with EINVAL (lab: 6.1); 0 passes here so that its errno stays visible.
    check(typeof netmask === "number" && Number.isInteger(netmask) && netmask >= 0 && netmask <= 128,
        `an IPv6 netmask is a prefix length 0..128, got ${netmask}`);
    return u32(netmask as number, "netmask");
}

function enumName<T extends string>(table: Record<T, number>, value: number, what: string): T {
    for (const k of Object.keys(table) as T[]) if (table[k] === value) return k;
    throw new Error(`the kernel reported an unknown ${what} ${value}`);
}
function enumValue<T extends string>(table: Record<T, number>, key: T, what: string): number {
    const v = table[key];
    check(v !== undefined, `unknown ${what} ${JSON.stringify(key)} (one of ${Object.keys(table).join(", ")})`);
    return v;
}

// ---------------------------------------------------------------------------------------------
// Stats

/** Unpacks a nested STATS (u32 counters and rates, u64 bytes) or STATS64 (all u64) attribute. */
export function unpackStats(b: Buffer): Stats {
    const a = parseAttrs(b);
    const S = IPVS.statsAttr;
    const n = (t: number) => {
        const v = a.get(t);
        if (!v) return 0;
        return v.length >= 8 ? readU64(v) : readU32(v);
    };
    return {
        conns: n(S.CONNS), inPkts: n(S.INPKTS), outPkts: n(S.OUTPKTS), inBytes: n(S.INBYTES), outBytes: n(S.OUTBYTES),
        cps: n(S.CPS), inPps: n(S.INPPS), outPps: n(S.OUTPPS), inBps: n(S.INBPS), outBps: n(S.OUTBPS),
    };
}

function statsOf(a: Map<number, Buffer>, stats: number, stats64: number): Stats | undefined {
    const s = a.get(stats64) ?? a.get(stats);
    return s ? unpackStats(s) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Services

export function isFwmark(id: VirtualServiceId): id is FwmarkServiceId {
    return (id as FwmarkServiceId).fwmark !== undefined;
}

/** How ipvsadm-like messages name a service: "tcp 10.0.0.200:80", "udp [fd00::200]:53", "fwmark 2000". */
export function describeService(id: VirtualServiceId): string {
    if (isFwmark(id)) return `fwmark ${id.fwmark}${id.family === "inet6" ? " (inet6)" : ""}`;
    return `${id.protocol} ${hostPort(id.family, id.address, id.port)}`;
}

function hostPort(family: Family, address: string, port: number): string {
    return family === "inet6" ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The identity attributes of a service: AF and FWMARK, or AF, PROTOCOL, ADDR and PORT. */
export function packServiceId(id: VirtualServiceId): Buffer[] {
    const A = IPVS.svcAttr;
    const out = [attr(A.AF, u16(enumValue(IPVS.af, id.family, "family"), "family"))];
    if (isFwmark(id)) {
        check(Number.isInteger(id.fwmark) && id.fwmark > 0, `fwmark must be > 0, got ${id.fwmark}`);
        out.push(attr(A.FWMARK, u32(id.fwmark, "fwmark")));
    } else {
        out.push(
            attr(A.PROTOCOL, u16(enumValue(IPVS.protocol, id.protocol, "protocol"), "protocol")),
            attr(A.ADDR, packAddress(id.family, id.address)),
            attr(A.PORT, be16(id.port, "port")),
        );
    }
    return out;
}

/** All attributes of a service, for NEW_SERVICE and SET_SERVICE (the flags mask is all ones: a full set). */
export function packService(svc: VirtualServiceId & VirtualServiceSettings): Buffer[] {
    const A = IPVS.svcAttr, F = IPVS.svcFlag;
    check((svc.schedFlags & ~(F.SCHED1 | F.SCHED2 | F.SCHED3)) === 0, `schedFlags has bits other than SCHED1..3: ${svc.schedFlags}`);
    const flags = (svc.persistent ? F.PERSISTENT : 0) | (svc.onePacket ? F.ONEPACKET : 0) | svc.schedFlags;
    const out = [
        ...packServiceId(svc),
        attr(A.SCHED_NAME, name(svc.scheduler, "scheduler")),
        attr(A.FLAGS, Buffer.concat([u32(flags, "flags"), u32(0xffffffff, "mask")])),
        attr(A.TIMEOUT, u32(svc.persistenceTimeout, "persistence timeout")),
        attr(A.NETMASK, packNetmask(svc.family, svc.netmask)),
    ];
    // Without PE_NAME the kernel removes the persistence engine on SET_SERVICE.
    if (svc.persistenceEngine !== undefined) out.push(attr(A.PE_NAME, name(svc.persistenceEngine, "persistence engine")));
    return out;
}

/** Unpacks the attributes inside a SERVICE attribute. HASHED is the kernel's own flag: masked out. */
export function unpackService(b: Buffer): VirtualService {
    const A = IPVS.svcAttr, F = IPVS.svcFlag;
    const a = parseAttrs(b);
    const family = enumName(IPVS.af, readU16(need(a, A.AF, "service AF")), "address family");
    const fwmark = a.get(A.FWMARK);
    const id: VirtualServiceId = fwmark && readU32(fwmark) !== 0
        ? { family, fwmark: readU32(fwmark) }
        : {
            family,
            protocol: enumName(IPVS.protocol, readU16(need(a, A.PROTOCOL, "service PROTOCOL")), "protocol"),
            address: unpackAddress(family, need(a, A.ADDR, "service ADDR")),
            port: need(a, A.PORT, "service PORT").readUInt16BE(0),
        };
    const flags = a.has(A.FLAGS) ? readU32(a.get(A.FLAGS)!) : 0;
    const svc: VirtualService = {
        ...id,
        scheduler: readName(need(a, A.SCHED_NAME, "service SCHED_NAME")),
        persistent: (flags & F.PERSISTENT) !== 0,
        onePacket: (flags & F.ONEPACKET) !== 0,
        schedFlags: flags & (F.SCHED1 | F.SCHED2 | F.SCHED3),
        persistenceTimeout: readU32(need(a, A.TIMEOUT, "service TIMEOUT")),
        netmask: unpackNetmask(family, need(a, A.NETMASK, "service NETMASK")),
    };
    const pe = a.get(A.PE_NAME);
    if (pe) svc.persistenceEngine = readName(pe);
    const stats = statsOf(a, A.STATS, A.STATS64);
    if (stats) svc.stats = stats;
    return svc;
}

// ---------------------------------------------------------------------------------------------
// Destinations (real servers)

export function describeDestination(d: RealServerId): string {
    return hostPort(d.addressFamily, d.address, d.port);
}

/** The identity attributes of a destination: ADDR, PORT and ADDR_FAMILY (always sent). */
export function packDestinationId(d: RealServerId): Buffer[] {
    const A = IPVS.destAttr;
    return [
        attr(A.ADDR, packAddress(d.addressFamily, d.address)),
        attr(A.PORT, be16(d.port, "port")),
        attr(A.ADDR_FAMILY, u16(enumValue(IPVS.af, d.addressFamily, "address family"), "address family")),
    ];
}

/** All attributes of a destination, for NEW_DEST and SET_DEST. Tunnel attributes go only with "tun". */
export function packDestination(d: RealServerId & DestinationSettings): Buffer[] {
    const A = IPVS.destAttr;
    const out = [
        ...packDestinationId(d),
        attr(A.FWD_METHOD, u32(enumValue(IPVS.forwarding, d.forwarding, "forwarding method"), "forwarding")),
        attr(A.WEIGHT, u32(d.weight, "weight")),
        attr(A.U_THRESH, u32(d.upperThreshold, "upper threshold")),
        attr(A.L_THRESH, u32(d.lowerThreshold, "lower threshold")),
    ];
    // The kernel refuses a GUE tunnel with port 0 (EINVAL) and another family than the service's for
    // anything but "tun" (EINVAL), both seen in the lab.
    if (d.forwarding === "tun") {
        out.push(
            attr(A.TUN_TYPE, u8(enumValue(IPVS.tunnelType, d.tunnelType ?? "ipip", "tunnel type"), "tunnel type")),
            attr(A.TUN_PORT, be16(d.tunnelPort ?? 0, "tunnel port")),
            attr(A.TUN_FLAGS, u16(enumValue(IPVS.tunnelFlags, d.tunnelFlags ?? "nocsum", "tunnel flags"), "tunnel flags")),
        );
    }
    return out;
}

/**
 * Unpacks the attributes inside a DEST attribute. `serviceFamily` stands in for ADDR_FAMILY on kernels
 * older than 3.18. Tunnel fields are reported only for "tun" (the kernel reports zeros otherwise).
 */
export function unpackDestination(b: Buffer, serviceFamily: Family = "inet"): RealServer {
    const A = IPVS.destAttr;
    const a = parseAttrs(b);
    const af = a.get(A.ADDR_FAMILY);
    const addressFamily = af ? enumName(IPVS.af, readU16(af), "address family") : serviceFamily;
    const fwd = readU32(need(a, A.FWD_METHOD, "dest FWD_METHOD")) & 0x7; // IP_VS_CONN_F_FWD_MASK
    const d: RealServer = {
        address: unpackAddress(addressFamily, need(a, A.ADDR, "dest ADDR")),
        port: need(a, A.PORT, "dest PORT").readUInt16BE(0),
        addressFamily,
        forwarding: enumName(IPVS.forwarding, fwd, "forwarding method"),
        weight: readU32(need(a, A.WEIGHT, "dest WEIGHT")),
        upperThreshold: readU32(need(a, A.U_THRESH, "dest U_THRESH")),
        lowerThreshold: readU32(need(a, A.L_THRESH, "dest L_THRESH")),
    };
    if (d.forwarding === "tun") {
        const t = a.get(A.TUN_TYPE), p = a.get(A.TUN_PORT), f = a.get(A.TUN_FLAGS);
        d.tunnelType = t ? enumName(IPVS.tunnelType, readU8(t), "tunnel type") : "ipip";
        d.tunnelPort = p ? p.readUInt16BE(0) : 0;
        // Bits, not an enum: the kernel prefers REMCSUM when both are set.
        const bits = f ? readU16(f) : 0;
        d.tunnelFlags = bits & IPVS.tunnelFlags.remcsum ? "remcsum" : bits & IPVS.tunnelFlags.csum ? "csum" : "nocsum";
    }
    const counter = (t: number) => (a.has(t) ? readU32(a.get(t)!) : undefined);
    const active = counter(A.ACTIVE_CONNS), inact = counter(A.INACT_CONNS), persist = counter(A.PERSIST_CONNS);
    if (active !== undefined) d.activeConns = active;
    if (inact !== undefined) d.inactConns = inact;
    if (persist !== undefined) d.persistConns = persist;
    const stats = statsOf(a, A.STATS, A.STATS64);
    if (stats) d.stats = stats;
    return d;
}

// ---------------------------------------------------------------------------------------------
// Sync daemons, timeouts, info

/** Attributes inside a DAEMON attribute, for NEW_DAEMON. STATE, MCAST_IFN and SYNC_ID are required. */
export function packDaemon(d: Daemon): Buffer[] {
    const A = IPVS.daemonAttr;
    const out = [
        attr(A.STATE, u32(enumValue(IPVS.syncState, d.state, "sync state"), "state")),
        attr(A.MCAST_IFN, name(d.mcastInterface, "multicast interface")),
        attr(A.SYNC_ID, u32(d.syncId, "sync id")),
    ];
    if (d.syncMaxlen !== undefined) out.push(attr(A.SYNC_MAXLEN, u16(d.syncMaxlen, "sync maxlen")));
    if (d.mcastGroup !== undefined) {
        out.push(d.mcastGroup.includes(":")
            ? attr(A.MCAST_GROUP6, parseIPv6(d.mcastGroup))
            : attr(A.MCAST_GROUP, parseIPv4(d.mcastGroup)));
    }
    // MCAST_PORT is host order (the kernel converts it when it binds), unlike every other port here.
    if (d.mcastPort !== undefined) out.push(attr(A.MCAST_PORT, u16(d.mcastPort, "multicast port")));
    if (d.mcastTtl !== undefined) out.push(attr(A.MCAST_TTL, u8(d.mcastTtl, "multicast ttl")));
    return out;
}

/** The attribute inside a DAEMON attribute for DEL_DAEMON. */
export function packDaemonState(state: SyncState): Buffer[] {
    return [attr(IPVS.daemonAttr.STATE, u32(enumValue(IPVS.syncState, state, "sync state"), "state"))];
}

export function unpackDaemon(b: Buffer): Daemon {
    const A = IPVS.daemonAttr;
    const a = parseAttrs(b);
    const d: Daemon = {
        state: enumName(IPVS.syncState, readU32(need(a, A.STATE, "daemon STATE")), "sync state"),
        mcastInterface: readName(need(a, A.MCAST_IFN, "daemon MCAST_IFN")),
        syncId: readU32(need(a, A.SYNC_ID, "daemon SYNC_ID")),
    };
    const maxlen = a.get(A.SYNC_MAXLEN), g4 = a.get(A.MCAST_GROUP), g6 = a.get(A.MCAST_GROUP6);
    const port = a.get(A.MCAST_PORT), ttl = a.get(A.MCAST_TTL);
    if (maxlen) d.syncMaxlen = readU16(maxlen);
    if (g4) d.mcastGroup = formatIPv4(g4);
    if (g6) d.mcastGroup = formatIPv6(g6);
    if (port) d.mcastPort = readU16(port);
    if (ttl) d.mcastTtl = readU8(ttl);
    return d;
}

/**
 * Top-level attributes for SET_CONFIG: only the timeouts given. The kernel treats 0 as "leave as is"
 * (ip_vs_set_timeout), so 0 cannot be set; it is refused here rather than silently ignored.
 */
export function packTimeouts(t: Partial<Timeouts>): Buffer[] {
    const A = IPVS.cmdAttr, out: Buffer[] = [];
    const one = (type: number, v: number | undefined, what: string) => {
        if (v === undefined) return;
        check(v > 0, `${what} timeout must be > 0 seconds (the kernel reads 0 as "unchanged"), got ${v}`);
        out.push(attr(type, u32(v, `${what} timeout`)));
    };
    one(A.TIMEOUT_TCP, t.tcp, "tcp");
    one(A.TIMEOUT_TCP_FIN, t.tcpFin, "tcpfin");
    one(A.TIMEOUT_UDP, t.udp, "udp");
    return out;
}

/** Unpacks the top-level attributes of a GET_CONFIG reply. */
export function unpackTimeouts(b: Buffer): Timeouts {
    const A = IPVS.cmdAttr;
    const a = parseAttrs(b);
    return {
        tcp: readU32(need(a, A.TIMEOUT_TCP, "TIMEOUT_TCP")),
        tcpFin: readU32(need(a, A.TIMEOUT_TCP_FIN, "TIMEOUT_TCP_FIN")),
        udp: readU32(need(a, A.TIMEOUT_UDP, "TIMEOUT_UDP")),
    };
}

/** Unpacks the top-level attributes of a GET_INFO reply. */
export function unpackInfo(b: Buffer): Info {
    const a = parseAttrs(b);
    const code = readU32(need(a, IPVS.infoAttr.VERSION, "INFO VERSION"));
    return {
        version: `${(code >> 16) & 0xff}.${(code >> 8) & 0xff}.${code & 0xff}`,
        versionCode: code,
        connTableSize: readU32(need(a, IPVS.infoAttr.CONN_TAB_SIZE, "INFO CONN_TAB_SIZE")),
    };
}

// ---------------------------------------------------------------------------------------------
// Requests (pure: each returns the generic netlink payload to send)

const C = IPVS.cmd, T = IPVS.cmdAttr;

export const requests = {
    services: () => ipvsMessage(C.GET_SERVICE, []),
    service: (id: VirtualServiceId) => ipvsMessage(C.GET_SERVICE, [nest(T.SERVICE, packServiceId(id))]),
    addService: (s: VirtualServiceId & VirtualServiceSettings) => ipvsMessage(C.NEW_SERVICE, [nest(T.SERVICE, packService(s))]),
    updateService: (s: VirtualServiceId & VirtualServiceSettings) => ipvsMessage(C.SET_SERVICE, [nest(T.SERVICE, packService(s))]),
    deleteService: (id: VirtualServiceId) => ipvsMessage(C.DEL_SERVICE, [nest(T.SERVICE, packServiceId(id))]),
    destinations: (id: VirtualServiceId) => ipvsMessage(C.GET_DEST, [nest(T.SERVICE, packServiceId(id))]),
    addDestination: (id: VirtualServiceId, d: RealServerId & DestinationSettings) =>
        ipvsMessage(C.NEW_DEST, [nest(T.SERVICE, packServiceId(id)), nest(T.DEST, packDestination(d))]),
    updateDestination: (id: VirtualServiceId, d: RealServerId & DestinationSettings) =>
        ipvsMessage(C.SET_DEST, [nest(T.SERVICE, packServiceId(id)), nest(T.DEST, packDestination(d))]),
    deleteDestination: (id: VirtualServiceId, d: RealServerId) =>
        ipvsMessage(C.DEL_DEST, [nest(T.SERVICE, packServiceId(id)), nest(T.DEST, packDestinationId(d))]),
    timeouts: () => ipvsMessage(C.GET_CONFIG, []),
    setTimeouts: (t: Partial<Timeouts>) => ipvsMessage(C.SET_CONFIG, packTimeouts(t)),
    daemons: () => ipvsMessage(C.GET_DAEMON, []),
    startDaemon: (d: Daemon) => ipvsMessage(C.NEW_DAEMON, [nest(T.DAEMON, packDaemon(d))]),
    stopDaemon: (state: SyncState) => ipvsMessage(C.DEL_DAEMON, [nest(T.DAEMON, packDaemonState(state))]),
    info: () => ipvsMessage(C.GET_INFO, []),
    zero: (id?: VirtualServiceId) => ipvsMessage(C.ZERO, id ? [nest(T.SERVICE, packServiceId(id))] : []),
};

/** A write to the table: its payload, and how to name it and its errno. */
export interface IpvsWrite {
    payload: Buffer;
    kind: IpvsOpKind;
    op: string;
}

/** Every write the handle can send, as data (so a batch of them can be sent at once). */
export const writes = {
    addService: (s: VirtualServiceId & VirtualServiceSettings): IpvsWrite =>
        ({ payload: requests.addService(s), kind: "add service", op: `add service ${describeService(s)}` }),
    updateService: (s: VirtualServiceId & VirtualServiceSettings): IpvsWrite =>
        ({ payload: requests.updateService(s), kind: "update service", op: `update service ${describeService(s)}` }),
    deleteService: (id: VirtualServiceId): IpvsWrite =>
        ({ payload: requests.deleteService(id), kind: "delete service", op: `delete service ${describeService(id)}` }),
    addDestination: (id: VirtualServiceId, d: RealServerId & DestinationSettings): IpvsWrite =>
        ({ payload: requests.addDestination(id, d), kind: "add destination", op: `add destination ${describeDestination(d)} to service ${describeService(id)}` }),
    updateDestination: (id: VirtualServiceId, d: RealServerId & DestinationSettings): IpvsWrite =>
        ({ payload: requests.updateDestination(id, d), kind: "update destination", op: `update destination ${describeDestination(d)} of service ${describeService(id)}` }),
    deleteDestination: (id: VirtualServiceId, d: RealServerId): IpvsWrite =>
        ({ payload: requests.deleteDestination(id, d), kind: "delete destination", op: `delete destination ${describeDestination(d)} from service ${describeService(id)}` }),
    setTimeouts: (t: Partial<Timeouts>): IpvsWrite =>
        ({ payload: requests.setTimeouts(t), kind: "set timeouts",
           op: `set timeouts ${Object.entries(t).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${v}`).join(" ")}` }),
    startDaemon: (d: Daemon): IpvsWrite =>
        ({ payload: requests.startDaemon(d), kind: "start daemon", op: `start ${d.state} sync daemon on ${d.mcastInterface} syncid ${d.syncId}` }),
    stopDaemon: (state: SyncState): IpvsWrite =>
        ({ payload: requests.stopDaemon(state), kind: "stop daemon", op: `stop ${state} sync daemon` }),
    zero: (id?: VirtualServiceId): IpvsWrite =>
        ({ payload: requests.zero(id), kind: "zero", op: id ? `zero service ${describeService(id)}` : "zero all services" }),
};

/** The nested attribute `type` of a reply's payload (genl header already removed). */
function nested(payload: Buffer, type: number, what: string): Buffer {
    return need(parseAttrs(payload), type, what);
}

// ---------------------------------------------------------------------------------------------
// The handle: one generic netlink socket, the IPVS family resolved once

const REQUEST_TIMEOUT_MS = 30_000;
const WRITE_WINDOW = 64;

/**
 * One generic netlink socket to the IPVS of the caller's network namespace. Requests are sent one
 * at a time (a netlink socket runs one dump at a time), in the order they were called.
 */
export class IpvsHandle {
    private queue: Promise<unknown> = Promise.resolve();

    private constructor(private readonly socket: NetlinkSocket, readonly familyId: number) {}

    /** Opens the socket and resolves the "IPVS" family id (the kernel loads ip_vs on demand). */
    static async open(): Promise<IpvsHandle> {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { createNetlink } = require("netlink") as typeof import("netlink");
        const socket = createNetlink(NETLINK.GENERIC);
        try {
            const payload = Buffer.concat([
                Buffer.from([NETLINK.CTRL_CMD_GETFAMILY, 1, 0, 0]),
                attr(NETLINK.CTRL_ATTR_FAMILY_NAME, Buffer.from(IPVS.genlName + "\0")),
            ]);
            const replies = await exchange(socket, NETLINK.GENL_ID_CTRL, payload, false, "resolve family",
                "resolve the IPVS generic netlink family");
            const id = replies.length ? parseAttrs(replies[0]).get(NETLINK.CTRL_ATTR_FAMILY_ID) : undefined;
            if (!id) throw new Error("the generic netlink controller did not return the IPVS family id");
            return new IpvsHandle(socket, readU16(id));
        } catch (e) {
            socket.close();
            throw e;
        }
    }

    /** Closes the socket; the handle cannot be used afterwards. */
    close(): void {
        this.socket.close();
    }

    private send(payload: Buffer, dump: boolean, kind: IpvsOpKind, op: string): Promise<Buffer[]> {
        const run = () => exchange(this.socket, this.familyId, payload, dump, kind, op);
        const p = this.queue.then(run, run);
        this.queue = p.catch(() => undefined);
        return p;
    }

    async services(): Promise<VirtualService[]> {
        const replies = await this.send(requests.services(), true, "list services", "list services");
        return replies.map(r => unpackService(nested(r, T.SERVICE, "SERVICE")));
    }

    /** The service, or undefined when the kernel answers ESRCH (no such service). */
    async service(id: VirtualServiceId): Promise<VirtualService | undefined> {
        try {
            const [r] = await this.send(requests.service(id), false, "get service", `get service ${describeService(id)}`);
            return r ? unpackService(nested(r, T.SERVICE, "SERVICE")) : undefined;
        } catch (e) {
            if (e instanceof IpvsError && e.code === "ESRCH") return undefined;
            throw e;
        }
    }

    /** Sends one write and waits for the kernel's answer. */
    async write(w: IpvsWrite): Promise<void> {
        await this.send(w.payload, false, w.kind, w.op);
    }

    /**
     * Sends writes WRITE_WINDOW at a time, each window in one datagram (the kernel takes its messages in
     * order), and collects every answer: one entry per write, undefined where it succeeded. A failure
     * does not stop the writes after it. The answers come back as 'message' events: their sequence
     * numbers are ours, not the library's.
     */
    async writeAll(ws: IpvsWrite[]): Promise<Array<IpvsError | undefined>> {
        const run = async () => {
            const { formatMessage } = require("netlink") as typeof import("netlink");
            const out: Array<IpvsError | undefined> = [];
            const port = this.socket.address().port;
            for (let i = 0; i < ws.length; i += WRITE_WINDOW) {
                const chunk = ws.slice(i, i + WRITE_WINDOW);
                const first = this.socket.generateSeq();
                for (let k = 1; k < chunk.length; k++) this.socket.generateSeq();
                const answers = new Map<number, IpvsError | undefined>();
                await new Promise<void>((resolve, reject) => {
                    const done = (e?: Error) => {
                        clearTimeout(timer);
                        this.socket.off("message", onMessage);
                        e ? reject(e) : resolve();
                    };
                    const onMessage = (msgs: NetlinkMessage[]) => {
                        for (const m of msgs) {
                            const k = m.seq - first;
                            if (m.type !== NETLINK.NLMSG_ERROR || k < 0 || k >= chunk.length) continue;
                            const code = LE ? m.data.readInt32LE(0) : m.data.readInt32BE(0);
                            answers.set(k, code === 0 ? undefined : new IpvsError(-code, chunk[k].kind, chunk[k].op));
                        }
                        if (answers.size === chunk.length) done();
                    };
                    const timer = setTimeout(() => done(new Error(`${chunk[0].op}: no answer from the kernel in ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS);
                    this.socket.on("message", onMessage);
                    const parts = chunk.flatMap((w, k) => formatMessage({
                        type: this.familyId, flags: NETLINK.NLM_F_REQUEST | NETLINK.NLM_F_ACK, seq: first + k, port, data: w.payload }));
                    this.socket.socket.send(parts, {}, (e) => e && done(new Error(`${chunk[0].op}: ${e.message}`)));
                });
                for (let k = 0; k < chunk.length; k++) out.push(answers.get(k));
            }
            return out;
        };
        const p = this.queue.then(run, run);
        this.queue = p.catch(() => undefined);
        return p;
    }

    async addService(svc: VirtualServiceId & VirtualServiceSettings): Promise<void> {
        await this.write(writes.addService(svc));
    }

    async updateService(svc: VirtualServiceId & VirtualServiceSettings): Promise<void> {
        await this.write(writes.updateService(svc));
    }

    /** Deletes the service and every destination in it. */
    async deleteService(id: VirtualServiceId): Promise<void> {
        await this.write(writes.deleteService(id));
    }

    /**
     * The destinations of a service. The kernel answers a dump for a missing service with nothing at
     * all, so an empty answer is checked: it throws ESRCH when the service does not exist.
     */
    async destinations(id: VirtualServiceId): Promise<RealServer[]> {
        const op = `list destinations of service ${describeService(id)}`;
        const replies = await this.send(requests.destinations(id), true, "list destinations", op);
        if (replies.length === 0 && !(await this.service(id))) throw new IpvsError(3 /* ESRCH */, "list destinations", op);
        return replies.map(r => unpackDestination(nested(r, T.DEST, "DEST"), id.family));
    }

    async addDestination(id: VirtualServiceId, dest: RealServerId & DestinationSettings): Promise<void> {
        await this.write(writes.addDestination(id, dest));
    }

    async updateDestination(id: VirtualServiceId, dest: RealServerId & DestinationSettings): Promise<void> {
        await this.write(writes.updateDestination(id, dest));
    }

    async deleteDestination(id: VirtualServiceId, dest: RealServerId): Promise<void> {
        await this.write(writes.deleteDestination(id, dest));
    }

    async timeouts(): Promise<Timeouts> {
        const [r] = await this.send(requests.timeouts(), false, "get timeouts", "get timeouts");
        return unpackTimeouts(r);
    }

    /** Sets the timeouts given; the others stay as they are. */
    async setTimeouts(t: Partial<Timeouts>): Promise<void> {
        await this.write(writes.setTimeouts(t));
    }

    /** The running sync daemons (0, 1 or 2: master and backup). */
    async daemons(): Promise<Daemon[]> {
        const replies = await this.send(requests.daemons(), true, "list daemons", "list sync daemons");
        return replies.map(r => unpackDaemon(nested(r, T.DAEMON, "DAEMON")));
    }

    async startDaemon(d: Daemon): Promise<void> {
        await this.write(writes.startDaemon(d));
    }

    async stopDaemon(state: SyncState): Promise<void> {
        await this.write(writes.stopDaemon(state));
    }

    async info(): Promise<Info> {
        const [r] = await this.send(requests.info(), false, "get info", "get info");
        return unpackInfo(r);
    }

    /** Zeroes the counters of one service, or of every service when none is given. */
    async zero(id?: VirtualServiceId): Promise<void> {
        await this.write(writes.zero(id));
    }
}

/**
 * Sends one request and returns the payloads (after the genl header) of the replies of this family.
 * An NLMSG_ERROR with a non-zero code becomes an IpvsError; socket failures become one too.
 */
async function exchange(socket: NetlinkSocket, family: number, payload: Buffer, dump: boolean,
    kind: IpvsOpKind, op: string): Promise<Buffer[]> {
    let msgs: NetlinkMessage[];
    try {
        [msgs] = await socket.request(family, payload,
            { flags: dump ? NETLINK.NLM_F_DUMP : 0, checkError: false, timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
        const errno = (e as { errno?: number }).errno;
        if (typeof errno === "number") throw new IpvsError(Math.abs(errno), kind, op);
        throw new Error(`${op}: ${(e as Error).message}`);
    }
    const out: Buffer[] = [];
    for (const m of msgs) {
        if (m.type === NETLINK.NLMSG_ERROR) {
            const code = LE ? m.data.readInt32LE(0) : m.data.readInt32BE(0);
            if (code !== 0) throw new IpvsError(-code, kind, op);
        } else if (m.type === family) {
            out.push(m.data.subarray(4));
        }
    }
    return out;
}
