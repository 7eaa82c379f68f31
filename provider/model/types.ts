// The data both sides of the wire share: the kernel's form of each IPVS object (what the agent writes and
// reads back, what a refresh compares) and the small types around them. Plain types only, no code.

export type Family = "inet" | "inet6";
export type Protocol = "tcp" | "udp" | "sctp";
export type ForwardingMethod = "nat" | "local" | "tun" | "dr";
export type TunnelType = "ipip" | "gue" | "gre";
export type TunnelFlags = "nocsum" | "csum" | "remcsum";
export type SyncState = "master" | "backup";

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

export interface RealServerId {
    address: string;
    port: number;
    /** The real server's own address family (may differ from the service's only for "tun"). */
    addressFamily: Family;
}
export interface DestinationSettings {
    forwarding: ForwardingMethod;
    weight: number;
    upperThreshold: number;
    lowerThreshold: number;
    /** Only meaningful for "tun"; sent and read back only then. */
    tunnelType?: TunnelType;
    tunnelPort?: number;
    tunnelFlags?: TunnelFlags;
}
export interface RealServer extends RealServerId, DestinationSettings {
    /** Read only counters, filled in by the kernel on reads. */
    activeConns?: number;
    inactConns?: number;
    persistConns?: number;
    stats?: Stats;
}

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

/** Connection timeouts in seconds (what `ipvsadm --set tcp tcpfin udp` sets). */
export interface Timeouts {
    tcp: number;
    tcpFin: number;
    udp: number;
}

export interface Info {
    /** "1.2.1" */
    version: string;
    versionCode: number;
    connTableSize: number;
}

export interface Stats {
    conns: number;
    inPkts: number;
    outPkts: number;
    inBytes: number;
    outBytes: number;
    cps: number;
    inPps: number;
    outPps: number;
    inBps: number;
    outBps: number;
}
