// RealServerNode: the real-server side of direct routing and tunnelling, on the real server's own host.
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection";
import { holderOf, provider, secretConnection } from "./provider";

export interface RealServerNodeArgs {
    /** How to reach the real server. */
    connection: pulumi.Input<ConnectionArgs>;
    /** dr: the VIPs go on lo; tun: on tunl0 (module ipip loaded, rp_filter off on tunl0 and all). */
    forwarding: pulumi.Input<"dr" | "tun">;
    /** The VIPs the real server accepts, IPv4 and / or IPv6; held as host addresses (/32, /128), removed on delete. */
    vips: pulumi.Input<pulumi.Input<string>[]>;
    /** The interface facing the director, e.g. eth0: arp_ignore 1 and arp_announce 2 on it and on all. */
    arpInterface: pulumi.Input<string>;
}

/**
 * The real-server side of direct routing and tunnelling: the VIPs on lo (dr) or tunl0 (tun), and no
 * ARP answers or announcements for them. Every sysctl goes back on delete to the value it had before.
 */
export class RealServerNode extends pulumi.dynamic.Resource {
    declare readonly connection: pulumi.Output<ConnectionArgs>;
    declare readonly vips: pulumi.Output<string[]>;
    /** The sysctls it holds, by name, as the kernel reports them. */
    declare readonly sysctls: pulumi.Output<Record<string, number>>;

    constructor(name: string, args: RealServerNodeArgs, opts?: pulumi.CustomResourceOptions) {
        const holder = holderOf("realServerNode", name, opts);
        super(provider("realServerNode"), name,
            { ...args, connection: secretConnection(args.connection), holder, sysctls: undefined },
            opts, "lvs", "RealServerNode");
    }
}
