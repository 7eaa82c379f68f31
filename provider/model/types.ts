// The small types every IPVS object is made of (families, protocols, forwarding and tunnel kinds), the
// timeouts, and the kernel's counters. Each object's own kernel form is in its file: service.ts,
// real-server.ts, sync.ts. Plain types only, no code.

export type Family = "inet" | "inet6";
export type Protocol = "tcp" | "udp" | "sctp";
export type ForwardingMethod = "nat" | "local" | "tun" | "dr";
export type TunnelType = "ipip" | "gue" | "gre";
export type TunnelFlags = "nocsum" | "csum" | "remcsum";

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
