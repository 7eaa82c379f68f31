// The IPVS generic netlink wire constants, in one table, and the netlink ones around them. The facts come
// from shared/reference/ipvs-netlink.md, checked against the lab kernel (Debian 6.1).
// FLUSH (command 17) is deliberately absent: the agent can never send it.
import type { Family, ForwardingMethod, Protocol, SyncState, TunnelFlags, TunnelType } from "../../model";
import { SCHED_BITS } from "../../model/schedulers";

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
    /** Name lengths include the terminating NUL (IP_VS_SCHEDNAME_MAXLEN, IP_VS_PENAME_MAXLEN,
     * IP_VS_IFNAME_MAXLEN). */
    nameMax: 16,
} as const;

/** Generic netlink controller and netlink header constants. */
export const NETLINK = {
    GENERIC: 16, GENL_ID_CTRL: 16, CTRL_CMD_GETFAMILY: 3, CTRL_ATTR_FAMILY_ID: 1, CTRL_ATTR_FAMILY_NAME: 2,
    NLMSG_ERROR: 2, NLMSG_DONE: 3, NLM_F_REQUEST: 0x1, NLM_F_ACK: 0x4, NLM_F_DUMP: 0x300, NLA_F_NESTED: 0x8000,
    NLA_TYPE_MASK: 0x3fff,
} as const;
