// DosProtection: the IPVS defence strategies and related net.ipv4.vs sysctls of a director. Its fields are
// model.DosProtectionSpec's (each doc is there, beside model.dosAttributes: its sysctl and how it is written).
import * as pulumi from "@pulumi/pulumi";
import type * as model from "../provider/model";
import type { ConnectionArgs } from "./connection";
import type { Director } from "./director";
import type { Inputs } from "./inputs";
import { holderOf, provider } from "./provider";

export type { DefenseMode } from "../provider/model";

export interface DosProtectionArgs extends Inputs<model.DosProtectionSpec> {
    director: Director;
}

/** The IPVS defence strategies and related net.ipv4.vs sysctls of a director; each restored on delete. */
export class DosProtection extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;

    constructor(name: string, args: DosProtectionArgs, opts?: pulumi.CustomResourceOptions) {
        const { director, ...rest } = args;
        const o = { parent: director, ...opts };
        super(provider("dosProtection"), name,
            { ...rest, connection: director.connection, holder: holderOf("dosProtection", name, o) },
            o, "lvs", "DosProtection");
    }
}
