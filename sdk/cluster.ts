// Cluster: one declaration of a whole LVS cluster, made of the resources in index.ts: a director (and
// optionally a backup with connection sync), its DoS settings, the services with their real servers,
// and the real-server hosts prepared for the forwarding method each takes part in.
import * as pulumi from "@pulumi/pulumi";
import * as model from "../provider/model";
import { interfaceNameProblem } from "../provider/model/interface";
import type { ConnectionArgs, DirectorArgs, DosProtectionArgs, RealServerArgs, SyncDaemon, VirtualServiceArgs } from "./index";
import { Director, DosProtection, RealServer, RealServerNode, VirtualService } from "./index";

export interface ClusterDirector {
    connection: pulumi.Input<ConnectionArgs>;
    /** The interface the VIPs go on (the director's) and that carries the sync daemon's multicast. */
    interface: string;
    /** IPVS connection timeouts in seconds, as a Director's (tcp, tcpFin, udp). */
    timeouts?: DirectorArgs["timeouts"];
}

export interface ClusterNode {
    /** How to reach the real server's host. */
    connection: pulumi.Input<ConnectionArgs>;
    /** Its interface facing the directors (arp_ignore / arp_announce). */
    arpInterface: string;
}

/** A real server of a cluster's service: its address, port and forwarding are plain values (they name its resources and decide which hosts are prepared). */
export type ClusterRealServer = Omit<RealServerArgs, "service" | "address" | "port" | "forwarding"> & { address: string; port?: number; forwarding?: model.Forwarding };

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

export interface ClusterArgs {
    /** The director clients reach: it holds every service's VIP. */
    director: ClusterDirector;
    /**
     * A backup director with the same services and real servers, and no VIPs (a failover tool such as
     * keepalived moves them). With `sync`, it receives the director's connections.
     */
    backup?: ClusterDirector;
    /** Connection sync: a master daemon on the director and a backup daemon on the backup, on their interfaces. Needs `backup`. */
    sync?: ClusterSync;
    /** The DoS settings of every director (a DosProtection on each). */
    dos?: Omit<DosProtectionArgs, "director">;
    /** The services by name. */
    services: Record<string, ClusterService>;
    /** The hosts of real servers forwarded by dr or tun, by the address the services give them. */
    nodes?: Record<string, ClusterNode>;
}

// ------------------------------------------------------------------------------------------------
// Validation: the whole declaration, as the resources' checks would see it, before anything is made.

const clusterFields = ["director", "backup", "sync", "dos", "services", "nodes"];
const directorFields = ["connection", "interface", "timeouts"];
const nodeFields = ["connection", "arpInterface"];
const syncNames = model.syncFieldNames.filter((f) => f !== "interface");
const serviceSpecFields: readonly string[] = [...model.serviceKeyFields, ...model.serviceSettingFields];
const serviceFields = [...serviceSpecFields, "adopt", "realServers"];
const realServerSpecFields: readonly string[] = ["address", "port", ...model.realServerSettingFields];
const realServerFields = [...realServerSpecFields, "adopt", "drain"];

/** A value known now: not a pulumi Output or a promise, which only the engine resolves (the resource's check sees those). */
const isPlain = (v: unknown): boolean => !pulumi.Output.isInstance(v) && !(typeof v === "object" && v !== null && typeof (v as PromiseLike<unknown>).then === "function");
/** A value known now all the way down. */
const deepPlain = (v: unknown): boolean => isPlain(v) && (typeof v !== "object" || v === null || Object.values(v).every(deepPlain));
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && isPlain(v);
const pick = (o: Record<string, unknown>, fields: readonly string[]) => Object.fromEntries(fields.filter((f) => o[f] !== undefined).map((f) => [f, o[f]]));

/** Every problem of a declaration, each as "property: reason". */
function problemsOf(args: ClusterArgs): string[] {
    const problems: string[] = [];
    const add = (property: string, reason: string) => problems.push(property ? `${property}: ${reason}` : reason);
    const failures = (fs: model.Failure[], prefix: string) => { for (const f of fs) add(prefix ? `${prefix}.${f.property}` : f.property, f.reason); };
    const known = (o: unknown, allowed: readonly string[], property: string) => failures(model.unknownFields(o, allowed, property, "field"), "");
    /** Plain (and then an object), or an Output / promise (left to the resource's check); anything else is a problem. */
    const object = (v: unknown, property: string, what: string): v is Record<string, unknown> => {
        if (isRecord(v)) return true;
        if (isPlain(v)) add(property, `${model.show(v)} is not ${what}`);
        return false;
    };
    const iface = (v: unknown, property: string) => { if (isPlain(v)) { const p = interfaceNameProblem(v); if (p) add(property, p); } };
    const connection = (c: unknown, property: string) => {
        if (!object(c, property, "a connection: give at least host (and hostKey)")) return;
        known(c, model.connectionFields, property);
        if (c.proxy !== undefined) connection(c.proxy, `${property}.proxy`);
    };

    if (!isRecord(args)) { add("", `${model.show(args)} is not a cluster declaration`); return problems; }
    known(args, clusterFields, "");

    for (const which of ["director", "backup"] as const) {
        const d = args[which] as unknown;
        if (d === undefined && which === "backup") continue;
        if (!isRecord(d)) { add(which, `${model.show(d)} is not a director: give its connection and interface`); continue; }
        known(d, directorFields, which);
        connection(d.connection, `${which}.connection`);
        iface(d.interface, `${which}.interface`);
        if (d.timeouts !== undefined && object(d.timeouts, `${which}.timeouts`, "a set of timeouts (tcp, tcpFin, udp)")) known(d.timeouts, model.timeoutFields, `${which}.timeouts`);
    }

    const sync = args.sync as unknown;
    if (sync !== undefined && object(sync, "sync", `a sync setting: give ${syncNames.join(", ")} or {}`)) {
        known(sync, syncNames, "sync");
        // The daemon as the agent takes it, with the settings known now (the interface is each director's, checked there).
        const daemon: Record<string, unknown> = { state: "master", syncId: 0 };
        for (const f of syncNames) if (sync[f] !== undefined && isPlain(sync[f])) daemon[model.syncDaemonAttributes[f].kernel] = sync[f];
        for (const f of model.validateDaemon(daemon as unknown as Parameters<typeof model.validateDaemon>[0])) {
            const field = syncNames.find((n) => model.syncDaemonAttributes[n].kernel === f.property);
            if (field) add(`sync.${field}`, f.reason);
        }
        if (!args.backup) add("sync", "connection sync needs a backup director");
    }

    const dos = args.dos as unknown;
    if (dos !== undefined && object(dos, "dos", "a set of DoS settings")) known(dos, model.dosProtectionFields, "dos");

    const services = args.services as unknown;
    if (!isRecord(services) || !Object.keys(services).length) add("services", "declare at least one service (a record of services by name)");
    const nodes = isRecord(args.nodes) ? (args.nodes as Record<string, unknown>) : {};

    // Which hosts take part in dr or tun, for which VIPs: each is prepared once, for one method.
    const roles = new Map<string, { forwarding: "dr" | "tun"; where: string }>();
    const prepared = new Set<string>(); // the addresses of every dr / tun real server, whether valid or not
    let scanned = isRecord(services) && Object.keys(services).length > 0; // every service's real servers were seen
    for (const [sname, s] of Object.entries(isRecord(services) ? services : {})) {
        const where = `services.${sname}`;
        if (!isRecord(s)) { add(where, `${model.show(s)} is not a service`); scanned = false; continue; }
        known(s, serviceFields, where);
        if (s.persistence !== undefined && object(s.persistence, `${where}.persistence`, "a persistence setting")) known(s.persistence, model.persistenceFields, `${where}.persistence`);
        if (s.address !== undefined && !isPlain(s.address)) add(`${where}.address`, "the VIP must be a plain string here, not an Output (the directors' addresses and the nodes' VIPs are made from it)");
        const spec = pick(s, serviceSpecFields);
        const key = pick(s, model.serviceKeyFields);
        // A rule may join several fields: with any of them unknown until the engine resolves it, the service's own check decides.
        if (deepPlain(spec)) failures(model.validateService(spec as model.ServiceSpec), where);
        else if (typeof s.address === "string" && !model.familyOf(s.address)) add(`${where}.address`, `${model.show(s.address)} is not an IPv4 or IPv6 address`);
        const keyValid = deepPlain(key) && !model.validateServiceKey(key as model.ServiceKey).length;
        if (s.adopt !== undefined && isPlain(s.adopt) && typeof s.adopt !== "boolean") add(`${where}.adopt`, `${model.show(s.adopt)} is not a boolean`);
        if (!Array.isArray(s.realServers)) { add(`${where}.realServers`, `${model.show(s.realServers)} is not a list of real servers`); scanned = false; continue; }

        const seen = new Map<string, string>();
        for (const [i, r] of (s.realServers as unknown[]).entries()) {
            const rwhere = `${where}.realServers[${i}]`;
            if (!isRecord(r)) { add(rwhere, `${model.show(r)} is not a real server: give at least its address`); scanned = false; continue; }
            known(r, realServerFields, rwhere);
            if (r.tunnel !== undefined && object(r.tunnel, `${rwhere}.tunnel`, "a tunnel setting")) known(r.tunnel, model.tunnelFields, `${rwhere}.tunnel`);
            if (r.drain !== undefined && object(r.drain, `${rwhere}.drain`, "a drain setting, e.g. { timeout: 300 }")) known(r.drain, ["timeout"], `${rwhere}.drain`);
            if (r.adopt !== undefined && isPlain(r.adopt) && typeof r.adopt !== "boolean") add(`${rwhere}.adopt`, `${model.show(r.adopt)} is not a boolean`);
            const plainFields = ["address", "port", "forwarding"].filter((f) => r[f] !== undefined && !isPlain(r[f]));
            for (const f of plainFields) add(`${rwhere}.${f}`, `must be a plain value here, not an Output (${f === "port" ? "it names the real server's resources" : "it decides which hosts are prepared"})`);
            if (plainFields.length) { scanned = false; continue; }
            const rspec = pick(r, realServerSpecFields);
            if (keyValid && deepPlain(rspec)) failures(model.validateRealServer(rspec as unknown as model.RealServerSpec, key as model.ServiceKey), rwhere);
            else if (!model.familyOf(String(r.address))) add(`${rwhere}.address`, `${model.show(r.address)} is not an IPv4 or IPv6 address`);
            if (typeof r.address !== "string") continue;

            // One real server once per service (the kernel has one; the resource names would clash). Its port is the service's when left out.
            const port = r.port !== undefined ? r.port : s.port;
            if (isPlain(port)) {
                const id = `${model.familyOf(r.address) ? model.canonicalAddress(r.address) : r.address}:${String(port)}`;
                if (seen.has(id)) add(rwhere, `${r.address}${port === undefined ? "" : ` port ${String(port)}`} is declared twice in this service (also ${seen.get(id)})`);
                else seen.set(id, `realServers[${i}]`);
            }

            const forwarding = (r.forwarding ?? "dr") as string;
            if (forwarding !== "nat") prepared.add(r.address); // a mistyped method is reported above; its node is not called unused
            if (forwarding !== "dr" && forwarding !== "tun") continue;
            if (s.address === undefined) { add(rwhere, `${r.address} is forwarded by ${forwarding}, which needs the service's VIP on its host; a fwmark service has none: prepare the host with a RealServerNode of your own`); continue; }
            if (!nodes[r.address]) { add(rwhere, `${r.address} is forwarded by ${forwarding}, so its host must be prepared: give nodes[${JSON.stringify(r.address)}] (connection and arpInterface)`); continue; }
            const role = roles.get(r.address);
            if (role && role.forwarding !== forwarding) add(rwhere, `${r.address} is forwarded by ${forwarding} here and by ${role.forwarding} in ${role.where}: one host takes part in one of them`);
            else if (!role) roles.set(r.address, { forwarding, where: rwhere });
        }
    }

    if (args.nodes !== undefined && !isRecord(args.nodes)) add("nodes", `${model.show(args.nodes)} is not a record of nodes by real-server address`);
    for (const [address, n] of Object.entries(nodes)) {
        const where = `nodes[${JSON.stringify(address)}]`;
        if (!isRecord(n)) { add(where, `${model.show(n)} is not a node: give its connection and arpInterface`); continue; }
        known(n, nodeFields, where);
        connection(n.connection, `${where}.connection`);
        iface(n.arpInterface, `${where}.arpInterface`);
        if (scanned && !prepared.has(address))
            add(where, `no real server forwarded by dr or tun has address ${address}, so nothing would be prepared on it (nodes are keyed by the address the services give their real servers)`);
    }
    return problems;
}

/**
 * A whole LVS cluster: a Director (and a backup Director), a DosProtection on each, each service as a
 * VirtualService on each director with its RealServers, and a RealServerNode per dr / tun host.
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
        if (problems.length) throw new pulumi.RunError(problems.length === 1 ? `Cluster ${name}: ${problems[0]}` : `Cluster ${name}:\n  ${problems.join("\n  ")}`);
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

        const nat = services.flatMap(([, s]) => s.realServers.filter((r) => r.forwarding === "nat").map((r) => model.familyOf(r.address)));
        const sync = args.sync ? pick(args.sync as Record<string, unknown>, syncNames) : undefined;
        const directorArgs = (d: ClusterDirector, state: "master" | "backup"): DirectorArgs => ({
            connection: d.connection,
            timeouts: d.timeouts,
            ...(nat.includes("inet") ? { ipForward: true } : {}),
            ...(nat.includes("inet6") ? { ipv6Forward: true } : {}),
            ...(state === "master" ? { addresses: vips.map((address) => ({ address, interface: d.interface })) } : {}),
            ...(sync ? { sync: { [state]: { interface: d.interface, ...sync } } } : {}),
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
