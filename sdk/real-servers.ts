// RealServers: the real servers of a virtual service as one resource (the form for large clusters). Each
// entry takes what a RealServer takes but its service; the plan shows each real server's change by its
// address:port, as it would show each RealServer's.
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection";
import { holderOf, provider } from "./provider";
import type { RealServerArgs, RealServerHealthState } from "./real-server";
import type { VirtualService } from "./virtual-service";

/** A real server of a RealServers' list: a RealServer's arguments but its service (each doc is there). */
export interface RealServerEntry extends Omit<RealServerArgs, "service"> {}

export interface RealServersArgs {
    service: VirtualService;
    /** The real servers, each once (by address and port). Adding one, removing one (drained first when it
     * says so) or changing one is an update of this resource, and the plan shows which. */
    realServers: pulumi.Input<pulumi.Input<RealServerEntry>[]>;
}

/**
 * The real servers of a virtual service, declared together: one resource in the state and one request to
 * the director for all of them, where a RealServer each is one resource and one request each. What a
 * RealServer does, each entry does: its settings, its health check, its drain when it is removed (or
 * when this resource is deleted), its adoption of a real server made by hand.
 */
export class RealServers extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;
    /** The real servers by address:port ([address]:port for IPv6), each with its settings (the kernel's
     * after a refresh) and its health (healthState, as a RealServer's). */
    declare readonly realServers:
        pulumi.Output<Record<string, RealServerEntry & { healthState?: RealServerHealthState }>>;

    constructor(name: string, args: RealServersArgs, opts?: pulumi.CustomResourceOptions) {
        const { service, ...rest } = args;
        const o = { parent: service, ...opts };
        super(provider("realServers"), name,
            { ...rest, service: service.key, connection: service.connection, holder: holderOf("realServers", name, o) },
            o, "lvs", "RealServers");
    }
}
