// How the examples reach their machines: stack config `hosts` (name -> host, port, hostKey, as in the
// lab's lab.json) and the secret `privateKey`. With your own machines, write the connection inline.
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "pulumi-lvs";

export function connection(name: string): ConnectionArgs {
    const config = new pulumi.Config();
    const h = config.requireObject<Record<string, { host: string; port: number; hostKey: string }>>("hosts")[name];
    if (!h) throw new Error(`stack config "hosts" has no host ${name}`);
    return { host: h.host, port: h.port, hostKey: h.hostKey, privateKey: config.requireSecret("privateKey") };
}
