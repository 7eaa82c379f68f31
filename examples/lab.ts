// How the examples reach their machines: stack config `hosts` (name -> host, port, hostKey, as in the
// lab's lab.json), and the lab's key as the credentials named "lab" in the stack's configuration
// (`pulumi config set --secret --path 'lvs:credentials.lab.privateKey' < KEYFILE`): no resource carries it.
// A stack with the secret `privateKey` set gives the key inline instead (each resource a secret copy).
// With your own machines, write the connection inline.
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "pulumi-lvs";

export function connection(name: string): ConnectionArgs {
    const config = new pulumi.Config();
    const h = config.requireObject<Record<string, { host: string; port: number; hostKey: string }>>("hosts")[name];
    if (!h) throw new Error(`stack config "hosts" has no host ${name}`);
    const inline = config.getSecret("privateKey");
    return { host: h.host, port: h.port, hostKey: h.hostKey,
        ...(inline ? { privateKey: inline } : { credentials: "lab" }) };
}
