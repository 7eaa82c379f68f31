// VirtualService: what clients connect to, on a director. Its fields are model.ServiceSpec's (each doc is
// there), as Pulumi inputs.
import * as pulumi from "@pulumi/pulumi";
import type * as model from "../provider/model";
import type { ConnectionArgs } from "./connection";
import type { Director } from "./director";
import type { Inputs } from "./inputs";
import type { HealthCheck } from "./real-server";
import { holderOf, provider } from "./provider";

export interface VirtualServiceArgs extends Inputs<model.ServiceSpec>,
    Inputs<Omit<model.ServiceHealthSpec, "healthCheck">> {
    /** The health check its real servers take unless they declare their own (RealServerArgs.healthCheck). */
    healthCheck?: pulumi.Input<HealthCheck>;
    director: Director;
    /** Take over an existing service of the same address with other settings, converging it. */
    adopt?: pulumi.Input<boolean>;
}

/** A virtual service on a director: what clients connect to. */
export class VirtualService extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;
    declare readonly protocol: pulumi.Output<model.Protocol | undefined>;
    declare readonly address: pulumi.Output<string | undefined>;
    declare readonly port: pulumi.Output<number | undefined>;
    declare readonly fwmark: pulumi.Output<number | undefined>;
    declare readonly family: pulumi.Output<model.Family | undefined>;
    declare readonly scheduler: pulumi.Output<model.Scheduler>;
    /** The service's identity, as real servers refer to it. */
    readonly key: pulumi.Output<model.ServiceKey>;

    constructor(name: string, args: VirtualServiceArgs, opts?: pulumi.CustomResourceOptions) {
        const { director, ...rest } = args;
        const o = { parent: director, ...opts };
        super(provider("virtualService"), name,
            { ...rest, connection: director.connection, holder: holderOf("virtualService", name, o) },
            o, "lvs", "VirtualService");
        this.key = pulumi.all([this.protocol, this.address, this.port, this.fwmark, this.family])
            .apply(([protocol, address, port, fwmark, family]) => (fwmark !== undefined && fwmark !== null
                ? { fwmark, ...(family ? { family } : {}) } : { protocol, address, port }) as model.ServiceKey);
    }
}
