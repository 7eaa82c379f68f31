// Cluster: one declaration of a whole LVS cluster, made of the resources in index.ts: a director (and
// optionally a backup with connection sync), its DoS settings, the services with their real servers,
// and the real-server hosts prepared for the forwarding method each takes part in.
import * as pulumi from "@pulumi/pulumi";
import * as model from "../provider/model";
import type { ConnectionArgs, DirectorArgs, DosProtectionArgs, RealServerArgs, VirtualServiceArgs } from "./index";
import { Director, DosProtection, RealServer, RealServerNode, VirtualService } from "./index";

export interface ClusterDirector {
    connection: pulumi.Input<ConnectionArgs>;
    /** The interface the VIPs go on (the director's) or that carries the sync daemon's multicast. */
    interface: string;
    timeouts?: DirectorArgs["timeouts"];
}

export interface ClusterNode {
    /** How to reach the real server's host. */
    connection: pulumi.Input<ConnectionArgs>;
    /** Its interface facing the directors (arp_ignore / arp_announce). */
    arpInterface: string;
}

/** A real server of a cluster's service: its address and forwarding are plain values (they decide which hosts are prepared). */
export type ClusterRealServer = Omit<RealServerArgs, "service" | "address" | "forwarding"> & { address: string; forwarding?: model.Forwarding };

export type ClusterService = Omit<VirtualServiceArgs, "director" | "address"> & {
    /** The VIP: held by the director on its interface. */
    address?: string;
    realServers: ClusterRealServer[];
};

export interface ClusterArgs {
    /** The director clients reach: it holds every service's VIP. */
    director: ClusterDirector;
    /**
     * A backup director with the same services and real servers, and no VIPs (a failover tool such as
     * keepalived moves them). With `sync`, it receives the director's connections.
     */
    backup?: ClusterDirector;
    /** Connection sync: a master daemon on the director and a backup daemon on the backup, on their interfaces. */
    sync?: { syncId?: pulumi.Input<number> };
    /** The DoS settings of every director. */
    dos?: Omit<DosProtectionArgs, "director">;
    /** The services by name. */
    services: Record<string, ClusterService>;
    /** The hosts of real servers forwarded by dr or tun, by the address the services give them. */
    nodes?: Record<string, ClusterNode>;
}

/** A whole LVS cluster. Its outputs: the VIPs, and each service's real servers (address:port). */
export class Cluster extends pulumi.ComponentResource {
    readonly directors: Director[];
    readonly services: Record<string, VirtualService[]>;
    readonly nodes: Record<string, RealServerNode>;
    readonly vips: pulumi.Output<string[]>;
    readonly realServers: pulumi.Output<Record<string, string[]>>;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:Cluster", name, {}, opts);
        const problems: string[] = [];
        const services = Object.entries(args.services ?? {});
        if (!services.length) problems.push("services: declare at least one service");
        for (const [sname, s] of services) if (!Array.isArray(s.realServers)) problems.push(`services.${sname}.realServers: ${JSON.stringify(s.realServers)} is not a list of real servers`);
        const vips = [...new Set(services.flatMap(([, s]) => (s.address ? [s.address] : [])))];
        for (const v of vips) if (!model.familyOf(v)) problems.push(`services: ${JSON.stringify(v)} is not an IPv4 or IPv6 address`);

        // Which hosts take part in dr or tun, for which VIPs: each is prepared once, for one method.
        const roles = new Map<string, { forwarding: "dr" | "tun"; vips: Set<string>; where: string }>();
        for (const [sname, s] of services) for (const [i, r] of (Array.isArray(s.realServers) ? s.realServers : []).entries()) {
            const forwarding = r.forwarding ?? "dr";
            if (forwarding === "nat") continue;
            const where = `services.${sname}.realServers[${i}]`;
            if (!s.address) { problems.push(`${where}: ${r.address} is forwarded by ${forwarding}, which needs the service's VIP on its host; a fwmark service has none: prepare the host with a RealServerNode of your own`); continue; }
            if (!args.nodes?.[r.address]) { problems.push(`${where}: ${r.address} is forwarded by ${forwarding}, so its host must be prepared: give nodes[${JSON.stringify(r.address)}] (connection and arpInterface)`); continue; }
            const role = roles.get(r.address);
            if (role && role.forwarding !== forwarding) problems.push(`${where}: ${r.address} is forwarded by ${forwarding} here and by ${role.forwarding} in ${role.where}: one host takes part in one of them`);
            else if (role) role.vips.add(s.address);
            else roles.set(r.address, { forwarding, vips: new Set([s.address]), where });
        }
        if (args.sync && !args.backup) problems.push("sync: connection sync needs a backup director");
        if (problems.length) throw new Error(`Cluster ${name}:\n  ${problems.join("\n  ")}`);

        const nat = services.flatMap(([, s]) => s.realServers.filter((r) => r.forwarding === "nat").map((r) => model.familyOf(r.address)));
        const directorArgs = (d: ClusterDirector, state: "master" | "backup"): DirectorArgs => ({
            connection: d.connection,
            timeouts: d.timeouts,
            ...(nat.includes("inet") ? { ipForward: true } : {}),
            ...(nat.includes("inet6") ? { ipv6Forward: true } : {}),
            ...(state === "master" ? { addresses: vips.map((address) => ({ address, interface: d.interface })) } : {}),
            ...(args.sync ? { sync: { [state]: { interface: d.interface, syncId: args.sync.syncId } } } : {}),
        });
        const pairs: Array<[string, ClusterDirector, "master" | "backup"]> = [[`${name}-director`, args.director, "master"]];
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
                for (const r of realServers) new RealServer(`${dname}-${sname}-${r.address.replace(/:/g, "_")}${r.port ? `-${r.port}` : ""}`, { ...r, service });
            }
        }
        this.nodes = {};
        for (const [address, role] of roles) {
            const n = args.nodes![address];
            this.nodes[address] = new RealServerNode(`${name}-node-${address.replace(/:/g, "_")}`,
                { connection: n.connection, forwarding: role.forwarding, vips: [...role.vips], arpInterface: n.arpInterface }, { parent: this });
        }
        this.vips = pulumi.output(vips);
        const listed = Object.fromEntries(services.map(([sname, s]) => [sname, s.realServers.map((r) => ({ address: r.address, port: r.port ?? s.port }))]));
        this.realServers = pulumi.output(listed).apply((l) => Object.fromEntries(Object.entries(l).map(([sname, rs]) => [sname,
            rs.map((r) => (r.port === undefined ? r.address : model.familyOf(r.address) === "inet6" ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`))])));
        this.registerOutputs({ vips: this.vips, realServers: this.realServers });
    }
}
