// The kernel facts both sides name: a kernel version, and the IPVS features that came after the baseline
// with the release that brought each (the agent's probe reports them; the providers read its report).

export interface KernelVersion {
    major: number;
    minor: number;
    patch: number;
}

/** The IPVS features that came after the baseline, with the kernel release that brought each. */
export const KERNEL_FEATURES = {
    sctp: { since: "2.6.34", what: "SCTP virtual services" },
    sipPersistenceEngine: { since: "2.6.37", what: "the sip persistence engine" },
    destAddressFamily: { since: "3.18", what: "real servers of another address family than the service" },
    schedulerFo: { since: "3.18", what: "the fo scheduler" },
    stats64: { since: "4.1", what: "64-bit statistics" },
    syncDaemonOptions: { since: "4.3", what: "sync daemon maxlen, multicast group, port and ttl" },
    schedulerOvf: { since: "4.3", what: "the ovf scheduler" },
    schedulerMh: { since: "4.18", what: "the mh scheduler" },
    tunnelGue: { since: "5.2", what: "GUE tunnelling to real servers" },
    tunnelGre: { since: "5.3", what: "GRE tunnelling to real servers" },
    tunnelChecksum: { since: "5.3", what: "tunnel checksum flags" },
    schedulerTwos: { since: "6.2", what: "the twos scheduler" },
} as const;

export type KernelFeature = keyof typeof KERNEL_FEATURES;
