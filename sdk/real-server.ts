// RealServer: a real server behind a virtual service. Its fields are model.RealServerSpec's (each doc is
// there), as Pulumi inputs, with how a delete drains it.
import * as pulumi from "@pulumi/pulumi";
import type * as model from "../provider/model";
import type { ConnectionArgs } from "./connection";
import type { Inputs } from "./inputs";
import { holderOf, provider } from "./provider";
import type { VirtualService } from "./virtual-service";

export interface RealServerArgs extends Inputs<model.RealServerSpec> {
    service: VirtualService;
    /** Take over an existing real server of the same address with other settings, converging it. */
    adopt?: pulumi.Input<boolean>;
    /**
     * Its health check (the service's healthCheck when left out), run by the health daemon on the director.
     * While it fails, the real server takes no new connections (weight 0, or out of the table with onFailure
     * "remove"); it gets its declared weight back once it passes. A weight held down by its check is not
     * drift, and `up` never puts traffic back on it. Changing the check is an update in place.
     */
    healthCheck?: pulumi.Input<HealthCheck>;
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

/** A health check (model.HealthCheckSpec: each field's doc is there). */
export interface HealthCheck extends Inputs<model.HealthCheckSpec> {}

/** How a delete drains a real server (model.Drain). */
export interface RealServerDrain extends Inputs<model.Drain> {}

export interface RealServerHealthState {
    state: "up" | "down";
    effect: "declared" | "quiesced" | "removed" | "draining";
    since?: string;
    lastCheck?: string;
}

/** A real server behind a virtual service. */
export class RealServer extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;
    declare readonly address: pulumi.Output<string>;
    declare readonly weight: pulumi.Output<number | undefined>;
    /** How a delete drains it (see RealServerArgs.drain). */
    declare readonly drain: pulumi.Output<model.Drain | undefined>;
    /** Its health, as a refresh last read it from the director (absent without a check): up or down, what
     * that does to it (declared, quiesced, removed, draining), since when, and the last check's result. */
    declare readonly healthState: pulumi.Output<RealServerHealthState | undefined>;

    constructor(name: string, args: RealServerArgs, opts?: pulumi.CustomResourceOptions) {
        const { service, ...rest } = args;
        const o = { parent: service, ...opts };
        super(provider("realServer"), name,
            { ...rest, service: service.key, connection: service.connection, holder: holderOf("realServer", name, o) },
            o, "lvs", "RealServer");
    }
}
