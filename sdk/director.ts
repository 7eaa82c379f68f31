// Director: a machine that balances, with its IPVS settings (timeouts, forwarding, the VIPs it holds, the
// connection-sync daemons); every service on it lives on its node.
import * as pulumi from "@pulumi/pulumi";
import type * as model from "../provider/model";
import type { ConnectionArgs } from "./connection";
import type { Inputs } from "./inputs";
import { holderOf, provider, secretConnection } from "./provider";

export interface DirectorArgs {
    /** How to reach the director. */
    connection: pulumi.Input<ConnectionArgs>;
    /** IPVS connection timeouts in seconds (ipvsadm --set tcp tcpfin udp); restored on delete. */
    timeouts?: pulumi.Input<Inputs<Partial<model.Timeouts>>>;
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
    /**
     * Failover of the addresses between the directors of a pair: VRRP, spoken by keepalived (the node's
     * package; the agent runs an instance of its own, for VRRP only). The addresses are then not put on this
     * director but held by whichever director of the pair is the VRRP master (the running one of highest
     * priority), so where they are is not drift; refresh reports it in `vrrp`. Each director of the pair
     * declares the same virtualRouterId and addresses, and its own priority.
     */
    failover?: pulumi.Input<Failover>;
}

/** A director's failover (model.FailoverSpec). */
export interface Failover extends Inputs<model.FailoverSpec> {}

/** The failover as refresh finds it (model.FailoverState). */
export type FailoverState = model.FailoverState;

/** The sync daemons of a director, by state (model.SyncSpec): a director can run both. */
export type DirectorSync = { [S in keyof model.SyncSpec]: pulumi.Input<SyncDaemon> };

/** One sync daemon (model.SyncDaemonSpec): the settings left out are the kernel's. */
export interface SyncDaemon extends Inputs<model.SyncDaemonSpec> {}

/** An address the director holds on an interface (model.HostAddress). */
export interface DirectorAddress extends Inputs<model.HostAddress> {}

/** A sync daemon as an output. */
export type SyncDaemonState = model.SyncDaemonSpec;

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
    /** With failover: whether its keepalived runs, its VRRP state, and which addresses it holds now. */
    declare readonly vrrp: pulumi.Output<FailoverState | undefined>;

    constructor(name: string, args: DirectorArgs, opts?: pulumi.CustomResourceOptions) {
        super(provider("director"), name, {
            sync: undefined, vrrp: undefined, ...args, connection: secretConnection(args.connection),
            holder: holderOf("director", name, opts),
            kernel: undefined, ipvsVersion: undefined, agentVersion: undefined,
        }, opts, "lvs", "Director");
    }
}
