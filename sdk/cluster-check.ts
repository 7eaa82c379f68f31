// The Cluster's validation: the whole declaration, as the resources' checks would see it, before anything
// is made. Every value known now (not an Output) goes through the rules of provider/model.
import * as pulumi from "@pulumi/pulumi";
import * as model from "../provider/model";

const clusterFields = ["director", "backup", "sync", "failover", "dos", "services", "nodes"];
const directorFields = ["connection", "interface", "timeouts", "address"];
/** The settings of a cluster's failover: a director's, but the priority, the interface and the peers
 * (each director's own), and unicast. */
export const failoverNames =
    ["virtualRouterId", "advertInterval", "downTimerAdverts", "preempt", "syncDaemons"] as const;
const nodeFields = ["connection", "arpInterface"];
/** The settings of a cluster's sync: a daemon's, but the interface (each director's own). */
export const syncNames = model.syncFieldNames.filter((f) => f !== "interface");
const serviceSpecFields: readonly string[] = [...model.serviceKeyFields, ...model.serviceSettingFields];
const serviceFields = [...serviceSpecFields, ...model.serviceHealthFields, "adopt", "realServers"];
const realServerSpecFields: readonly string[] = ["address", "port", ...model.realServerSettingFields];
const realServerFields = [...realServerSpecFields, "healthCheck", "adopt", "drain"];

/** A value known now: not a pulumi Output or a promise, which only the engine resolves (the resource's check
 * sees those). */
const isPlain = (v: unknown): boolean => !pulumi.Output.isInstance(v)
    && !(typeof v === "object" && v !== null && typeof (v as PromiseLike<unknown>).then === "function");
/** A value known now all the way down. */
const deepPlain = (v: unknown): boolean =>
    isPlain(v) && (typeof v !== "object" || v === null || Object.values(v).every(deepPlain));
const isRecord = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v) && isPlain(v);

/** Every problem of a declaration (of any shape: from JSON config, say), each as "property: reason". */
export function problemsOf(args: unknown): string[] {
    const problems: string[] = [];
    const add = (property: string, reason: string) => problems.push(property ? `${property}: ${reason}` : reason);
    const failures = (fs: model.Failure[], prefix: string) => {
        for (const f of fs) add(prefix ? `${prefix}.${f.property}` : f.property, f.reason);
    };
    const known = (o: unknown, allowed: readonly string[], property: string) =>
        failures(model.unknownFields(o, allowed, property, "field"), "");
    /** Plain (and then an object), or an Output / promise (left to the resource's check); anything else is a
     * problem. */
    const object = (v: unknown, property: string, what: string): v is Record<string, unknown> => {
        if (isRecord(v)) return true;
        if (isPlain(v)) add(property, `${model.show(v)} is not ${what}`);
        return false;
    };
    const iface = (v: unknown, property: string) => {
        if (isPlain(v)) { const p = model.interfaceNameProblem(v); if (p) add(property, p); }
    };
    const connection = (c: unknown, property: string) => {
        if (!object(c, property, "a connection: give at least host (and hostKey)")) return;
        known(c, model.connectionFields, property);
        if (c.proxy !== undefined) connection(c.proxy, `${property}.proxy`);
    };

    if (!isRecord(args)) { add("", `${model.show(args)} is not a cluster declaration`); return problems; }
    known(args, clusterFields, "");

    for (const which of ["director", "backup"] as const) {
        const d = args[which];
        if (d === undefined && which === "backup") continue;
        if (!isRecord(d)) {
            add(which, `${model.show(d)} is not a director: give its connection and interface`);
            continue;
        }
        known(d, directorFields, which);
        connection(d.connection, `${which}.connection`);
        iface(d.interface, `${which}.interface`);
        if (d.timeouts !== undefined && object(d.timeouts, `${which}.timeouts`, "a set of timeouts (tcp, tcpFin, udp)"))
            known(d.timeouts, model.timeoutFields, `${which}.timeouts`);
    }

    const sync = args.sync;
    if (sync !== undefined && object(sync, "sync", `a sync setting: give ${syncNames.join(", ")} or {}`)) {
        known(sync, syncNames, "sync");
        // The daemon as the agent takes it, with the settings known now (the interface is each director's,
        // checked there).
        const daemon: Record<string, unknown> = { state: "master", syncId: 0 };
        for (const f of syncNames)
            if (sync[f] !== undefined && isPlain(sync[f])) daemon[model.syncDaemonAttributes[f].kernel] = sync[f];
        for (const f of model.validateDaemon(daemon as unknown as model.Daemon)) {
            const field = syncNames.find((n) => model.syncDaemonAttributes[n].kernel === f.property);
            if (field) add(`sync.${field}`, f.reason);
        }
        if (!args.backup) add("sync", "connection sync needs a backup director");
    }

    const failover = args.failover;
    if (failover !== undefined && object(failover, "failover", "a failover: give virtualRouterId")) {
        known(failover, [...failoverNames, "unicast"], "failover");
        // The failover as each director takes it (its interface is checked with the director's).
        if (deepPlain(failover))
            for (const f of model.validateFailover({ ...model.pick(failover, failoverNames), interface: "lan0" }))
                add(f.property, f.reason);
        if (failover.unicast !== undefined && typeof failover.unicast !== "boolean")
            add("failover.unicast", `${model.show(failover.unicast)} is not a boolean`);
        if (!args.backup) add("failover", "failover needs a backup director");
        if (failover.unicast === true) for (const which of ["director", "backup"] as const) {
            const d = args[which];
            if (isRecord(d) && (typeof d.address !== "string" || !model.familyOf(d.address)))
                add(`${which}.address`, `${model.show(d.address)} is not an address: unicast failover needs ` +
                    "each director's own address on its interface (the other's VRRP peer)");
        }
    }

    const dos = args.dos;
    if (dos !== undefined && object(dos, "dos", "a set of DoS settings")) known(dos, model.dosProtectionFields, "dos");

    const services = args.services;
    if (!isRecord(services) || !Object.keys(services).length)
        add("services", "declare at least one service (a record of services by name)");
    const nodes = isRecord(args.nodes) ? args.nodes : {};

    // Which hosts take part in dr or tun, for which VIPs: each is prepared once, for one method.
    const roles = new Map<string, { forwarding: "dr" | "tun"; where: string }>();
    const prepared = new Set<string>(); // the addresses of every dr / tun real server, whether valid or not
    let scanned = isRecord(services) && Object.keys(services).length > 0; // every service's real servers were seen
    for (const [sname, s] of Object.entries(isRecord(services) ? services : {})) {
        const where = `services.${sname}`;
        if (!isRecord(s)) { add(where, `${model.show(s)} is not a service`); scanned = false; continue; }
        known(s, serviceFields, where);
        // A persistence that is not an object is the service table's rule: validateService names it, below.
        if (isRecord(s.persistence)) known(s.persistence, model.persistenceFields, `${where}.persistence`);
        if (s.address !== undefined && !isPlain(s.address))
            add(`${where}.address`, "the VIP must be a plain string here, not an Output " +
                "(the directors' addresses and the nodes' VIPs are made from it)");
        const spec = model.pick(s, serviceSpecFields);
        const key = model.pick(s, model.serviceKeyFields);
        // A rule may join several fields: with any of them unknown until the engine resolves it, the service's
        // own check decides.
        if (deepPlain(spec)) failures(model.validateService(spec as model.ServiceSpec), where);
        else if (typeof s.address === "string" && !model.familyOf(s.address))
            add(`${where}.address`, `${model.show(s.address)} is not an IPv4 or IPv6 address`);
        const keyValid = deepPlain(key) && !model.validateServiceKey(key as model.ServiceKey).length;
        if (s.adopt !== undefined && isPlain(s.adopt) && typeof s.adopt !== "boolean")
            add(`${where}.adopt`, `${model.show(s.adopt)} is not a boolean`);
        const health = model.pick(s, model.serviceHealthFields);
        if (deepPlain(health)) failures(model.validateServiceHealth(health), where);
        if (!Array.isArray(s.realServers)) {
            add(`${where}.realServers`, `${model.show(s.realServers)} is not a list of real servers`);
            scanned = false;
            continue;
        }

        const seen = new Map<string, string>();
        for (const [i, r] of (s.realServers as unknown[]).entries()) {
            const rwhere = `${where}.realServers[${i}]`;
            if (!isRecord(r)) {
                add(rwhere, `${model.show(r)} is not a real server: give at least its address`);
                scanned = false;
                continue;
            }
            known(r, realServerFields, rwhere);
            // A tunnel that is not an object: validateRealServer names it (the real-server table's rule), below.
            if (isRecord(r.tunnel)) known(r.tunnel, model.tunnelFields, `${rwhere}.tunnel`);
            if (r.drain !== undefined && object(r.drain, `${rwhere}.drain`, "a drain setting, e.g. { timeout: 300 }"))
                known(r.drain, ["timeout"], `${rwhere}.drain`);
            if (r.adopt !== undefined && isPlain(r.adopt) && typeof r.adopt !== "boolean")
                add(`${rwhere}.adopt`, `${model.show(r.adopt)} is not a boolean`);
            if (r.healthCheck !== undefined && deepPlain(r.healthCheck))
                failures(model.validateHealthCheck(r.healthCheck, "healthCheck"), rwhere);
            const plainFields = ["address", "port", "forwarding"].filter((f) => r[f] !== undefined && !isPlain(r[f]));
            for (const f of plainFields) add(`${rwhere}.${f}`, "must be a plain value here, not an Output " +
                `(${f === "port" ? "it names the real server's resources" : "it decides which hosts are prepared"})`);
            if (plainFields.length) { scanned = false; continue; }
            const rspec = model.pick(r, realServerSpecFields);
            if (keyValid && deepPlain(rspec)) failures(
                model.validateRealServer(rspec as unknown as model.RealServerSpec, key as model.ServiceKey), rwhere);
            else if (!model.familyOf(String(r.address)))
                add(`${rwhere}.address`, `${model.show(r.address)} is not an IPv4 or IPv6 address`);
            if (typeof r.address !== "string") continue;

            // One real server once per service (the kernel has one; the resource names would clash). Its port
            // is the service's when left out.
            const port = r.port !== undefined ? r.port : s.port;
            if (isPlain(port)) {
                const address = model.familyOf(r.address) ? model.canonicalAddress(r.address) : r.address;
                const id = `${address}:${String(port)}`;
                if (seen.has(id)) add(rwhere, `${r.address}${port === undefined ? "" : ` port ${String(port)}`} ` +
                    `is declared twice in this service (also ${seen.get(id)})`);
                else seen.set(id, `realServers[${i}]`);
            }

            const forwarding = (r.forwarding ?? "dr") as string;
            // a mistyped method is reported above; its node is not called unused
            if (forwarding !== "nat") prepared.add(r.address);
            if (forwarding !== "dr" && forwarding !== "tun") continue;
            if (s.address === undefined) {
                add(rwhere, `${r.address} is forwarded by ${forwarding}, which needs the service's VIP on its host; ` +
                    "a fwmark service has none: prepare the host with a RealServerNode of your own");
                continue;
            }
            if (!nodes[r.address]) {
                add(rwhere, `${r.address} is forwarded by ${forwarding}, so its host must be prepared: ` +
                    `give nodes[${JSON.stringify(r.address)}] (connection and arpInterface)`);
                continue;
            }
            const role = roles.get(r.address);
            if (role && role.forwarding !== forwarding) add(rwhere, `${r.address} is forwarded by ${forwarding} here ` +
                `and by ${role.forwarding} in ${role.where}: one host takes part in one of them`);
            else if (!role) roles.set(r.address, { forwarding, where: rwhere });
        }
    }

    if (args.nodes !== undefined && !isRecord(args.nodes))
        add("nodes", `${model.show(args.nodes)} is not a record of nodes by real-server address`);
    for (const [address, n] of Object.entries(nodes)) {
        const where = `nodes[${JSON.stringify(address)}]`;
        if (!isRecord(n)) {
            add(where, `${model.show(n)} is not a node: give its connection and arpInterface`);
            continue;
        }
        known(n, nodeFields, where);
        connection(n.connection, `${where}.connection`);
        iface(n.arpInterface, `${where}.arpInterface`);
        if (scanned && !prepared.has(address))
            add(where, `no real server forwarded by dr or tun has address ${address}, so nothing would be prepared ` +
                "on it (nodes are keyed by the address the services give their real servers)");
    }
    return problems;
}
