// Cluster: one declaration of a whole LVS cluster, made of the SDK's resources: a director (and
// optionally a backup with connection sync), its DoS settings, the services with their real servers,
// and the real-server hosts prepared for the forwarding method each takes part in.
import * as pulumi from "@pulumi/pulumi";
import * as model from "../provider/model";
import { problemsOf, syncNames } from "./cluster-check";
import type { ConnectionArgs } from "./connection";
import { Director, type DirectorArgs, type SyncDaemon } from "./director";
import { DosProtection, type DosProtectionArgs } from "./dos-protection";
import type { RealServerArgs } from "./real-server";
import { RealServerNode } from "./real-server-node";
import { RealServers } from "./real-servers";
import { VirtualService, type VirtualServiceArgs } from "./virtual-service";

export interface ClusterDirector {
    connection: pulumi.Input<ConnectionArgs>;
    /** The interface the VIPs go on (the director's) and that carries the sync daemon's multicast. */
    interface: string;
    /** IPVS connection timeouts in seconds, as a Director's (tcp, tcpFin, udp). */
    timeouts?: DirectorArgs["timeouts"];
    /** The director's own address on its interface: the other director's VRRP peer with unicast failover. */
    address?: string;
}

export interface ClusterNode {
    /** How to reach the real server's host. */
    connection: pulumi.Input<ConnectionArgs>;
    /** Its interface facing the directors (arp_ignore / arp_announce). */
    arpInterface: string;
}

/** A real server of a cluster's service: its address, port and forwarding are plain values (they name its
 * resources and decide which hosts are prepared). */
export type ClusterRealServer = Omit<RealServerArgs, "service" | "address" | "port" | "forwarding">
    & { address: string; port?: number; forwarding?: model.Forwarding };

export type ClusterService = Omit<VirtualServiceArgs, "director" | "address"> & {
    /** The VIP: held by the director on its interface. A plain value (the directors and nodes are made from it). */
    address?: string;
    realServers: ClusterRealServer[];
};

/**
 * The connection sync of a cluster: every setting of a Director's sync daemon but the interface, which
 * is each director's own. The master daemon on the director and the backup daemon on the backup take
 * the same settings, so a second cluster on the same LAN is kept apart by another syncId (a backup takes
 * only its master's id), group or port. Left out: the kernel's (syncId 0, maxLen from the MTU, group
 * 224.0.0.81, port 8848, ttl 1); maxLen, group, port and ttl need Linux 4.3 or newer.
 */
export type ClusterSync = Omit<SyncDaemon, "interface">;

/**
 * Failover of the VIPs between the director and the backup (VRRP by keepalived, as a Director's
 * failover): both declare the VIPs, the director with priority 200 and the backup with 100, so the director
 * holds them while it runs. With `sync`, each director declares both sync daemons (master and backup, the
 * same settings) and runs both (syncDaemons "both": the connections of whichever holds the VIPs reach the
 * other, after a failover and after the failback alike) or the one of its VRRP state ("follow").
 */
export interface ClusterFailover {
    /** 1 to 255: the same on both directors, and no other pair's on that network. */
    virtualRouterId: number;
    /** Seconds between advertisements (1): the backup takes over after `downTimerAdverts` are missed. */
    advertInterval?: number;
    /** Advertisements the backup misses before it takes over, 1 to 100 (3). */
    downTimerAdverts?: number;
    /** Whether the director takes the VIPs back from the backup when it comes back (true). */
    preempt?: boolean;
    /** VRRP to each other's `address` rather than to multicast 224.0.0.18 (false). */
    unicast?: boolean;
    /** With `sync`: "both" (each director runs a master and a backup daemon) or "follow" (the master daemon
     * only on the director that holds the VIPs, the backup on the other; keepalived's lvs_sync_daemon). */
    syncDaemons?: "both" | "follow";
}

export interface ClusterArgs {
    /** The director clients reach: it holds every service's VIP. */
    director: ClusterDirector;
    /**
     * A backup director with the same services and real servers, and no VIPs unless `failover` moves them
     * there. With `sync`, it receives the director's connections.
     */
    backup?: ClusterDirector;
    /** Connection sync: a master daemon on the director and a backup daemon on the backup, on their interfaces
     * (with failover, both on each). Needs `backup`. */
    sync?: ClusterSync;
    /** The VIPs move to the backup when the director fails (keepalived's VRRP). Needs `backup`. */
    failover?: ClusterFailover;
    /** The DoS settings of every director (a DosProtection on each). */
    dos?: Omit<DosProtectionArgs, "director">;
    /** The services by name. */
    services: Record<string, ClusterService>;
    /** The hosts of real servers forwarded by dr or tun, by the address the services give them. */
    nodes?: Record<string, ClusterNode>;
}

/**
 * A whole LVS cluster: a Director (and a backup Director), a DosProtection on each, each service as a
 * VirtualService on each director with its real servers (one RealServers: one resource and one request
 * for all of a service's, the plan showing each one's change), and a RealServerNode per dr / tun host.
 *
 * The whole declaration is checked first, as the resources' checks check theirs: an unknown key at any
 * level (a `schedular`, a `wieght` from a JSON config) is refused, naming it and the allowed keys, and
 * every value known now (not an Output) is checked by the same rules the providers and the agent apply.
 * All the problems are reported together as one Pulumi error (`pulumi.RunError`: the CLI prints it
 * without a stack trace), each naming its field, and nothing is made.
 *
 * Its outputs: the VIPs, and each service's real servers (address:port).
 */
export class Cluster extends pulumi.ComponentResource {
    readonly directors: Director[];
    readonly services: Record<string, VirtualService[]>;
    readonly nodes: Record<string, RealServerNode>;
    readonly vips: pulumi.Output<string[]>;
    readonly realServers: pulumi.Output<Record<string, string[]>>;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        const problems = problemsOf(args);
        if (problems.length) throw new pulumi.RunError(problems.length === 1 ? `Cluster ${name}: ${problems[0]}`
            : `Cluster ${name}:\n  ${problems.join("\n  ")}`);
        super("lvs:index:Cluster", name, {}, opts);

        const services = Object.entries(args.services);
        const vips = [...new Set(services.flatMap(([, s]) => (s.address ? [s.address] : [])))];
        const roles = new Map<string, { forwarding: "dr" | "tun"; vips: Set<string> }>();
        for (const [, s] of services) for (const r of s.realServers) {
            const forwarding = r.forwarding ?? "dr";
            if (forwarding === "nat") continue;
            const role = roles.get(r.address);
            if (role) role.vips.add(s.address!);
            else roles.set(r.address, { forwarding, vips: new Set([s.address!]) });
        }

        const nat = services.flatMap(([, s]) => s.realServers.filter((r) => r.forwarding === "nat")
            .map((r) => model.familyOf(r.address)));
        const sync = args.sync ? model.pick(args.sync as Record<string, unknown>, syncNames) : undefined;
        const daemon = (d: ClusterDirector) => ({ interface: d.interface, ...sync }) as SyncDaemon;
        const failover = args.failover;
        const other = (state: "master" | "backup") => (state === "master" ? args.backup : args.director);
        const directorArgs = (d: ClusterDirector, state: "master" | "backup"): DirectorArgs => ({
            connection: d.connection,
            timeouts: d.timeouts,
            ...(nat.includes("inet") ? { ipForward: true } : {}),
            ...(nat.includes("inet6") ? { ipv6Forward: true } : {}),
            ...(state === "master" || failover
                ? { addresses: vips.map((address) => ({ address, interface: d.interface })) } : {}),
            ...(sync ? { sync: failover ? { master: daemon(d), backup: daemon(d) } : { [state]: daemon(d) } } : {}),
            ...(failover ? { failover: {
                virtualRouterId: failover.virtualRouterId, priority: state === "master" ? 200 : 100,
                interface: d.interface,
                ...(failover.advertInterval !== undefined ? { advertInterval: failover.advertInterval } : {}),
                ...(failover.downTimerAdverts !== undefined ? { downTimerAdverts: failover.downTimerAdverts } : {}),
                ...(failover.preempt !== undefined ? { preempt: failover.preempt } : {}),
                ...(failover.syncDaemons !== undefined ? { syncDaemons: failover.syncDaemons } : {}),
                ...(failover.unicast ? { unicastPeers: [other(state)!.address!] } : {}),
            } } : {}),
        });
        const pairs: Array<[string, ClusterDirector, "master" | "backup"]> =
            [[`${name}-director`, args.director, "master"]];
        if (args.backup) pairs.push([`${name}-backup`, args.backup, "backup"]);

        this.directors = [];
        this.services = {};
        for (const [dname, d, state] of pairs) {
            const director = new Director(dname, directorArgs(d, state), { parent: this });
            this.directors.push(director);
            if (args.dos) new DosProtection(`${dname}-dos`, { ...args.dos, director });
            for (const [sname, s] of services) {
                const { realServers, ...settings } = s;
                const service = new VirtualService(`${dname}-${sname}`, { ...settings, director });
                (this.services[sname] ??= []).push(service);
                new RealServers(`${dname}-${sname}`, { service, realServers });
            }
        }
        this.nodes = {};
        for (const [address, role] of roles) {
            const n = args.nodes![address];
            this.nodes[address] = new RealServerNode(`${name}-node-${address.replace(/:/g, "_")}`, {
                connection: n.connection, forwarding: role.forwarding, vips: [...role.vips],
                arpInterface: n.arpInterface,
            }, { parent: this });
        }
        this.vips = pulumi.output(vips);
        const listed = Object.fromEntries(services.map(([sname, s]) =>
            [sname, s.realServers.map((r) => ({ address: r.address, port: r.port ?? s.port }))]));
        const named = (r: { address: string; port?: number }) => (r.port === undefined ? r.address
            : model.familyOf(r.address) === "inet6" ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`);
        this.realServers = pulumi.output(listed).apply((l) =>
            Object.fromEntries(Object.entries(l).map(([sname, rs]) => [sname, rs.map(named)])));
        this.registerOutputs({ vips: this.vips, realServers: this.realServers });
    }
}
