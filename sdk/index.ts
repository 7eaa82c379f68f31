// pulumi-lvs: Linux Virtual Server (IPVS) clusters as Pulumi resources.
//
//   const d = new lvs.Director("lb1", { connection: { host, hostKey, privateKey } });
//   const web = new lvs.VirtualService("web", { director: d, protocol: "tcp", address: "10.0.0.240", port: 80, scheduler: "rr" });
//   new lvs.RealServer("web-1", { service: web, address: "10.1.0.21", forwarding: "nat" });
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import type { Family, Forwarding, Persistence, Protocol, Scheduler, SchedulerFlag, ServiceKey, Tunnel } from "../provider/model";

export type { Family, Forwarding, Persistence, Protocol, Scheduler, SchedulerFlag, ServiceKey, Tunnel };

/** How to reach a node over SSH (the arguments of pulumi-command's connections). */
export interface ConnectionArgs {
    /** Address or name of the node. */
    host: pulumi.Input<string>;
    /** SSH port (22). */
    port?: pulumi.Input<number>;
    /** Login user (root); another user needs `sudo`. */
    user?: pulumi.Input<string>;
    /** Private key text (OpenSSH or PEM). Kept secret. */
    privateKey?: pulumi.Input<string>;
    /** Passphrase of the private key. Kept secret. */
    privateKeyPassword?: pulumi.Input<string>;
    /** Password. Kept secret. */
    password?: pulumi.Input<string>;
    /** Path of an ssh-agent socket. */
    agentSocket?: pulumi.Input<string>;
    /** The node's host key, pinned: "ssh-ed25519 AAAA..." or "SHA256:...". Required unless insecureIgnoreHostKey. */
    hostKey?: pulumi.Input<string>;
    /** Accept any host key (throwaway machines only). */
    insecureIgnoreHostKey?: pulumi.Input<boolean>;
    /** A jump host to reach the node through. */
    proxy?: pulumi.Input<ConnectionArgs>;
    /** Run the agent with `sudo -n`. */
    sudo?: pulumi.Input<boolean>;
    /** Seconds for one connection attempt (15). */
    dialTimeout?: pulumi.Input<number>;
    /** Connection attempts before giving up (5), with backoff. */
    dialRetries?: pulumi.Input<number>;
}

type Kind = "director" | "virtualService" | "realServer" | "realServerNode" | "dosProtection";

/**
 * The provider Pulumi serializes into the state: a stub that requires this package when it runs, so
 * refresh and delete run the installed version's code, and nothing (no credential) is captured.
 */
function provider(kind: Kind): pulumi.dynamic.ResourceProvider {
    return {
        check: (olds, news) => require("pulumi-lvs/lib/provider/resources")[kind].check(olds, news),
        diff: (id, olds, news) => require("pulumi-lvs/lib/provider/resources")[kind].diff(id, olds, news),
        create: (inputs) => require("pulumi-lvs/lib/provider/resources")[kind].create(inputs),
        read: (id, props) => require("pulumi-lvs/lib/provider/resources")[kind].read(id, props),
        update: (id, olds, news) => require("pulumi-lvs/lib/provider/resources")[kind].update(id, olds, news),
        delete: (id, props) => require("pulumi-lvs/lib/provider/resources")[kind].delete(id, props),
    };
}

/** The credentials of a connection become secrets, in the inputs and in the state. */
function secretConnection(c: pulumi.Input<ConnectionArgs>): pulumi.Input<ConnectionArgs> {
    if (pulumi.Output.isInstance(c) || typeof (c as PromiseLike<unknown>).then === "function") return pulumi.secret(c);
    const plain = c as ConnectionArgs;
    const secret = <T>(v: pulumi.Input<T> | undefined) => (v === undefined ? undefined : pulumi.secret(v));
    return {
        ...plain,
        privateKey: secret(plain.privateKey),
        privateKeyPassword: secret(plain.privateKeyPassword),
        password: secret(plain.password),
        ...(plain.proxy ? { proxy: secretConnection(plain.proxy) } : {}),
    };
}

/**
 * The name a resource holds the objects it declares on its nodes by (each object stays while any holder
 * is left): made of what its URN is made of (the parent's URN, or the project and stack; its kind and
 * name), so a resource keeps it across runs, and across an interrupted create retried, while a renamed
 * resource, a second declaration, a resource moved to another parent and another stack's each have
 * their own.
 */
function holderOf(kind: Kind, name: string, opts?: pulumi.CustomResourceOptions): pulumi.Output<string> {
    // The parent's URN as a plain value: an Output of it would make the resource depend on its parent, and
    // on a component that means on all the component's children, the resource itself among them.
    const parent = opts?.parent;
    const urn = parent ? new Promise<string>((resolve) => parent.urn.apply(resolve)) : Promise.resolve(`${pulumi.getProject()}::${pulumi.getStack()}`);
    return pulumi.output(urn).apply((p) => `${kind}/${createHash("sha256").update(`${p}\0${kind}\0${name}`).digest("hex").slice(0, 16)}`);
}

const secretOutputs = (opts?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions =>
    ({ ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] });

export interface DirectorArgs {
    /** How to reach the director. */
    connection: pulumi.Input<ConnectionArgs>;
    /** IPVS connection timeouts in seconds (ipvsadm --set tcp tcpfin udp); restored on delete. */
    timeouts?: pulumi.Input<{ tcp?: pulumi.Input<number>; tcpFin?: pulumi.Input<number>; udp?: pulumi.Input<number> }>;
    /** net.ipv4.ip_forward, which NAT needs; restored on delete. */
    ipForward?: pulumi.Input<boolean>;
    /** net.ipv6.conf.all.forwarding, which NAT of IPv6 services needs; restored on delete. */
    ipv6Forward?: pulumi.Input<boolean>;
    /** Addresses (the VIPs) the director holds, as host addresses on an interface; removed on delete. */
    addresses?: pulumi.Input<pulumi.Input<DirectorAddress>[]>;
    /**
     * The IPVS connection-sync daemons (ipvsadm --start-daemon master|backup): a master multicasts the
     * director's connections, a backup receives another director's, so a director that takes over the
     * VIPs (keepalived, ...) keeps the connections already open. One of each per director (network
     * namespace). A daemon running with other settings is restarted with these; one declared before and
     * not now is stopped, and delete stops those it declares. Refresh reports the running ones, so a
     * daemon stopped by hand is drift (one of a state the resource does not declare is not its own).
     */
    sync?: pulumi.Input<DirectorSync>;
}

/** The sync daemons of a director, by state. A director can run both (a pair that syncs both ways). */
export interface DirectorSync {
    master?: pulumi.Input<SyncDaemon>;
    backup?: pulumi.Input<SyncDaemon>;
}

/** One sync daemon. The settings left out are the kernel's: maxlen from the interface's MTU, group
 * 224.0.0.81, port 8848, ttl 1. maxLen, group, port and ttl need Linux 4.3 or newer. */
export interface SyncDaemon {
    /** The interface it sends (master) or listens (backup) on, e.g. eth0 (--mcast-interface). */
    interface: pulumi.Input<string>;
    /** 0 to 255 (0): a backup takes only the messages of a master with its id (--syncid). */
    syncId?: pulumi.Input<number>;
    /** The largest sync message in bytes, 1 to 65507 (--sync-maxlen). */
    maxLen?: pulumi.Input<number>;
    /** The multicast group, IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) (--mcast-group). */
    group?: pulumi.Input<string>;
    /** The UDP port, 1 to 65535 (--mcast-port). */
    port?: pulumi.Input<number>;
    /** The multicast TTL, 1 to 255 (--mcast-ttl). */
    ttl?: pulumi.Input<number>;
}

export interface DirectorAddress {
    address: pulumi.Input<string>;
    /** The interface, e.g. eth0. */
    interface: pulumi.Input<string>;
    /** 32 or 128 by default. */
    prefixLength?: pulumi.Input<number>;
}

/** A sync daemon as an output. */
export type SyncDaemonState = { interface: string; syncId?: number; maxLen?: number; group?: string; port?: number; ttl?: number };

/** A machine that balances: its IPVS settings, and the node every service on it lives on. */
export class Director extends pulumi.dynamic.Resource {
    /** The connection (secret). */
    declare readonly connection: pulumi.Output<ConnectionArgs>;
    /** The kernel release of the director. */
    declare readonly kernel: pulumi.Output<string>;
    /** IPVS version, e.g. 1.2.1. */
    declare readonly ipvsVersion: pulumi.Output<string>;
    /** Version of the node agent. */
    declare readonly agentVersion: pulumi.Output<string>;
    /** The declared sync daemons as they run (after a refresh: a stopped one is missing). */
    declare readonly sync: pulumi.Output<{ master?: SyncDaemonState; backup?: SyncDaemonState } | undefined>;

    constructor(name: string, args: DirectorArgs, opts?: pulumi.CustomResourceOptions) {
        super(provider("director"), name, {
            sync: undefined, ...args, connection: secretConnection(args.connection), holder: holderOf("director", name, opts),
            kernel: undefined, ipvsVersion: undefined, agentVersion: undefined,
        }, secretOutputs(opts), "lvs", "Director");
    }
}

interface ServiceSettings {
    /** Scheduler (wlc). rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos (kernel permitting). */
    scheduler?: pulumi.Input<Scheduler>;
    /** sh-fallback, sh-port (with sh); mh-fallback, mh-port (with mh). */
    schedulerFlags?: pulumi.Input<pulumi.Input<SchedulerFlag>[]>;
    /** Make the service persistent (ipvsadm -p, -M, --pe). */
    persistence?: pulumi.Input<Persistence>;
    /** One-packet scheduling, for UDP (ipvsadm -o). */
    onePacket?: pulumi.Input<boolean>;
    /** Take over an existing service of the same address with other settings, converging it. */
    adopt?: pulumi.Input<boolean>;
}

export interface VirtualServiceArgs extends ServiceSettings {
    director: Director;
    /** tcp, udp or sctp, with address and port; or fwmark (and family) instead. */
    protocol?: pulumi.Input<Protocol>;
    address?: pulumi.Input<string>;
    /** 0 means any port (only for a persistent service). */
    port?: pulumi.Input<number>;
    /** A firewall mark (> 0) instead of protocol, address and port. */
    fwmark?: pulumi.Input<number>;
    /** inet (default) or inet6, for a fwmark service. */
    family?: pulumi.Input<Family>;
}

/** A virtual service on a director: what clients connect to. */
export class VirtualService extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;
    declare readonly protocol: pulumi.Output<Protocol | undefined>;
    declare readonly address: pulumi.Output<string | undefined>;
    declare readonly port: pulumi.Output<number | undefined>;
    declare readonly fwmark: pulumi.Output<number | undefined>;
    declare readonly family: pulumi.Output<Family | undefined>;
    declare readonly scheduler: pulumi.Output<Scheduler>;
    /** The service's identity, as real servers refer to it. */
    readonly key: pulumi.Output<ServiceKey>;

    constructor(name: string, args: VirtualServiceArgs, opts?: pulumi.CustomResourceOptions) {
        const { director, ...rest } = args;
        const o = { parent: director, ...opts };
        super(provider("virtualService"), name, { ...rest, connection: director.connection, holder: holderOf("virtualService", name, o) }, secretOutputs(o), "lvs", "VirtualService");
        this.key = pulumi.all([this.protocol, this.address, this.port, this.fwmark, this.family]).apply(([protocol, address, port, fwmark, family]) =>
            (fwmark !== undefined && fwmark !== null ? { fwmark, ...(family ? { family } : {}) } : { protocol, address, port }) as ServiceKey);
    }
}

export interface RealServerArgs {
    service: VirtualService;
    address: pulumi.Input<string>;
    /** The port it listens on: the service's port by default; only NAT may map it to another. */
    port?: pulumi.Input<number>;
    /** dr (default), tun or nat. */
    forwarding?: pulumi.Input<Forwarding>;
    /** 0 to 2147483647 (1); 0 takes no new connections. */
    weight?: pulumi.Input<number>;
    /** Stop sending new connections above this many (0: no limit). */
    upperThreshold?: pulumi.Input<number>;
    /** Resume below this many. */
    lowerThreshold?: pulumi.Input<number>;
    /** For tun: ipip (default), gue (with port) or gre, and the checksum mode. */
    tunnel?: pulumi.Input<Tunnel>;
    /** Take over an existing real server of the same address with other settings, converging it. */
    adopt?: pulumi.Input<boolean>;
    /**
     * Drain before removing: when this real server is deleted (or replaced: the new one is made first), its
     * weight goes to 0 so it takes no new connections, the delete waits until its active connections have
     * ended or `timeout` passes, and only then removes it (what is still open then is left to the kernel,
     * as after a plain delete: with net.ipv4.vs.expire_nodest_conn 1 it is cut off at once). Without it,
     * delete removes the real server at once. Not part of its identity:
     * changing it alone updates the state and leaves the kernel as it is. While the delete waits, the
     * director's other changes in the same run go on (the wait does not hold the node's lock).
     */
    drain?: pulumi.Input<RealServerDrain>;
}

export interface RealServerDrain {
    /** The deadline in whole seconds, 0 to 86400 (300): how long the delete waits for active connections to end. */
    timeout?: pulumi.Input<number>;
}

/** A real server behind a virtual service. */
export class RealServer extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;
    declare readonly address: pulumi.Output<string>;
    declare readonly weight: pulumi.Output<number | undefined>;
    /** How a delete drains it (see RealServerArgs.drain). */
    declare readonly drain: pulumi.Output<{ timeout?: number } | undefined>;

    constructor(name: string, args: RealServerArgs, opts?: pulumi.CustomResourceOptions) {
        const { service, ...rest } = args;
        const o = { parent: service, ...opts };
        super(provider("realServer"), name, { ...rest, service: service.key, connection: service.connection, holder: holderOf("realServer", name, o) },
            secretOutputs(o), "lvs", "RealServer");
    }
}

export interface RealServerNodeArgs {
    /** How to reach the real server. */
    connection: pulumi.Input<ConnectionArgs>;
    /** dr: the VIPs go on lo; tun: on tunl0 (module ipip loaded, rp_filter off on tunl0 and all). */
    forwarding: pulumi.Input<"dr" | "tun">;
    /** The VIPs the real server accepts, IPv4 and / or IPv6; held as host addresses (/32, /128), removed on delete. */
    vips: pulumi.Input<pulumi.Input<string>[]>;
    /** The interface facing the director, e.g. eth0: arp_ignore 1 and arp_announce 2 on it and on all. */
    arpInterface: pulumi.Input<string>;
}

/**
 * The real-server side of direct routing and tunnelling: the VIPs on lo (dr) or tunl0 (tun), and no
 * ARP answers or announcements for them. Every sysctl goes back on delete to the value it had before.
 */
export class RealServerNode extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;
    declare readonly vips: pulumi.Output<string[]>;
    /** The sysctls it holds, by name, as the kernel reports them. */
    declare readonly sysctls: pulumi.Output<Record<string, number>>;

    constructor(name: string, args: RealServerNodeArgs, opts?: pulumi.CustomResourceOptions) {
        super(provider("realServerNode"), name, { ...args, connection: secretConnection(args.connection), holder: holderOf("realServerNode", name, opts), sysctls: undefined },
            secretOutputs(opts), "lvs", "RealServerNode");
    }
}

/** off (0), auto (1 or 2: the kernel switches by available memory), always (3). */
export type DefenseMode = "off" | "auto" | "always";

export interface DosProtectionArgs {
    director: Director;
    /** net.ipv4.vs.drop_entry: drop connection entries at random when memory is short. */
    dropEntry?: pulumi.Input<DefenseMode>;
    /** net.ipv4.vs.drop_packet: drop packets at the rate of amDroprate. */
    dropPacket?: pulumi.Input<DefenseMode>;
    /** net.ipv4.vs.secure_tcp: shorter timeouts for half-open connections. */
    secureTcp?: pulumi.Input<DefenseMode>;
    /** net.ipv4.vs.amemthresh: the available memory (pages) below which auto modes switch on. */
    amemthresh?: pulumi.Input<number>;
    /** net.ipv4.vs.am_droprate: drop 1 in this many packets (dropPacket). */
    amDroprate?: pulumi.Input<number>;
    /** net.ipv4.vs.expire_nodest_conn: expire a connection at once when its real server is gone. */
    expireNodestConn?: pulumi.Input<boolean>;
    /** net.ipv4.vs.expire_quiescent_template: expire persistence templates of a weight-0 real server. */
    expireQuiescentTemplate?: pulumi.Input<boolean>;
    /** net.ipv4.vs.conntrack: keep netfilter connection tracking for IPVS connections. */
    conntrack?: pulumi.Input<boolean>;
    /** net.ipv4.vs.conn_reuse_mode: 0-3, how a reused source port is rescheduled. */
    connReuseMode?: pulumi.Input<number>;
}

/** The IPVS defence strategies and related net.ipv4.vs sysctls of a director; each restored on delete. */
export class DosProtection extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;

    constructor(name: string, args: DosProtectionArgs, opts?: pulumi.CustomResourceOptions) {
        const { director, ...rest } = args;
        const o = { parent: director, ...opts };
        super(provider("dosProtection"), name, { ...rest, connection: director.connection, holder: holderOf("dosProtection", name, o) },
            secretOutputs(o), "lvs", "DosProtection");
    }
}
export * from "./cluster";
