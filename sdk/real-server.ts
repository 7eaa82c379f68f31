// RealServer: a real server behind a virtual service. Its fields are model.RealServerSpec's (each doc is
// there), as Pulumi inputs, with how a delete drains it.
import * as pulumi from "@pulumi/pulumi";
import type * as model from "../provider/model";
import type { ConnectionArgs } from "./connection";
import type { Inputs } from "./inputs";
import { holderOf, provider, secretOutputs } from "./provider";
import type { VirtualService } from "./virtual-service";

export interface RealServerArgs extends Inputs<model.RealServerSpec> {
    service: VirtualService;
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

/** How a delete drains a real server (model.Drain). */
export interface RealServerDrain extends Inputs<model.Drain> {}

/** A real server behind a virtual service. */
export class RealServer extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;
    declare readonly address: pulumi.Output<string>;
    declare readonly weight: pulumi.Output<number | undefined>;
    /** How a delete drains it (see RealServerArgs.drain). */
    declare readonly drain: pulumi.Output<model.Drain | undefined>;

    constructor(name: string, args: RealServerArgs, opts?: pulumi.CustomResourceOptions) {
        const { service, ...rest } = args;
        const o = { parent: service, ...opts };
        super(provider("realServer"), name,
            { ...rest, service: service.key, connection: service.connection, holder: holderOf("realServer", name, o) },
            secretOutputs(o), "lvs", "RealServer");
    }
}
