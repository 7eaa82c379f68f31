// DosProtection: the IPVS defence strategies and related net.ipv4.vs sysctls of a director. Each field is
// one of model.dosAttributes (which names its sysctl and how its value is written); the docs are here.
import * as pulumi from "@pulumi/pulumi";
import type * as model from "../provider/model";
import type { ConnectionArgs } from "./connection";
import type { Director } from "./director";
import { holderOf, provider, secretOutputs } from "./provider";

export type { DefenseMode } from "../provider/model";

export interface DosProtectionArgs {
    director: Director;
    /** net.ipv4.vs.drop_entry: drop connection entries at random when memory is short. */
    dropEntry?: pulumi.Input<model.DefenseMode>;
    /** net.ipv4.vs.drop_packet: drop packets at the rate of amDroprate. */
    dropPacket?: pulumi.Input<model.DefenseMode>;
    /** net.ipv4.vs.secure_tcp: shorter timeouts for half-open connections. */
    secureTcp?: pulumi.Input<model.DefenseMode>;
    /** net.ipv4.vs.amemthresh: the available memory (pages) below which auto modes switch on. */
    amemthresh?: pulumi.Input<number>;
    /** net.ipv4.vs.am_droprate: drop 1 in this many packets (dropPacket). */
    amDroprate?: pulumi.Input<number>;
    /** net.ipv4.vs.expire_nodest_conn: expire a connection at once when its real server is gone. */
    expireNodestConn?: pulumi.Input<boolean>;
    /** net.ipv4.vs.expire_quiescent_template: expire persistence templates of a weight-0 real server. */
    expireQuiescentTemplate?: pulumi.Input<boolean>;
    /** net.ipv4.vs.conntrack: keep netfilter connection tracking for IPVS connections. */
    conntrack?: pulumi.Input<boolean>;
    /** net.ipv4.vs.conn_reuse_mode: 0-3, how a reused source port is rescheduled. */
    connReuseMode?: pulumi.Input<number>;
}

// The fields above are model.dosAttributes's, no more and no fewer: one added there and not here (or the
// other way round) fails the build.
type None<T extends never> = T;
type Unlisted = None<Exclude<model.DosField, keyof DosProtectionArgs>>;
type Unknown = None<Exclude<keyof DosProtectionArgs, model.DosField | "director">>;

/** The IPVS defence strategies and related net.ipv4.vs sysctls of a director; each restored on delete. */
export class DosProtection extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;

    constructor(name: string, args: DosProtectionArgs, opts?: pulumi.CustomResourceOptions) {
        const { director, ...rest } = args;
        const o = { parent: director, ...opts };
        super(provider("dosProtection"), name,
            { ...rest, connection: director.connection, holder: holderOf("dosProtection", name, o) },
            secretOutputs(o), "lvs", "DosProtection");
    }
}
