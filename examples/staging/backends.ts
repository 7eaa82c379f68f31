// The staging backends: a small web server on a real server, as a dynamic resource of this example.
//
// Why not @pulumi/command (remote.Command), which is what one would use for this: its provider plugin is
// a Go program, and here plugins are built from Go modules like the Pulumi CLI, but the Go module proxy
// serves no version of github.com/pulumi/pulumi-command/provider (the repository has no provider/vX
// tags), and nothing may be fetched from GitHub. So this resource does what remote.Command would (a
// create and a delete command over SSH), reads the process back (a server that died is drift), and
// always pins the host key (remote.Command checks one only when its optional hostKey is given). See
// web-server.js.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { type ConnectionArgs, secretConnection } from "pulumi-lvs";

/**
 * What Pulumi serializes into the state: a stub that requires the implementation by package name when
 * it runs (as the SDK's own resources do), so nothing of this program, and no credential, is captured.
 * Its configure hands the stack's configuration to pulumi-lvs's SSH, which finds the named credentials there.
 */
const provider: pulumi.dynamic.ResourceProvider = {
    configure: async (req) => require("pulumi-lvs/lib/provider/resources").configure(req),
    check: (olds, news) => require("pulumi-lvs/examples/staging/web-server").check(olds, news),
    diff: (id, olds, news) => require("pulumi-lvs/examples/staging/web-server").diff(id, olds, news),
    create: (inputs) => require("pulumi-lvs/examples/staging/web-server").create(inputs),
    read: (id, props) => require("pulumi-lvs/examples/staging/web-server").read(id, props),
    delete: (id, props) => require("pulumi-lvs/examples/staging/web-server").delete(id, props),
};

export interface WebServerArgs {
    /** How to reach the host (a key or password in it becomes a secret, as in the SDK's resources). */
    connection: pulumi.Input<ConnectionArgs>;
    /** The name it answers with, and its files' name on the host (/var/tmp/pulumi-lvs-staging/NAME.*). */
    name: pulumi.Input<string>;
    /** The addresses it listens on, ADDRESS:PORT. */
    listen: pulumi.Input<pulumi.Input<string>[]>;
}

/** server.js running on a host, answering "NAME ADDRESS:PORT". Any change replaces it (the old one stops first). */
export class WebServer extends pulumi.dynamic.Resource {
    /** Its process on the host. */
    declare readonly pid: pulumi.Output<number>;
    declare readonly listen: pulumi.Output<string[]>;

    constructor(name: string, args: WebServerArgs, opts?: pulumi.CustomResourceOptions) {
        const script = fs.readFileSync(path.join(__dirname, "server.js"), "utf8");
        super(provider, name, { ...args, connection: secretConnection(args.connection), script, pid: undefined },
            opts, "staging", "WebServer");
    }
}
