// Scaffolding until the provider lands: one dynamic resource that adds a virtual service on a director
// over SSH (ssh2, pinned host key) with ipvsadm, and deletes it on destroy.
import * as pulumi from "@pulumi/pulumi";

interface Inputs {
    host: string;
    port: number;
    hostKey: string;
    privateKey: string;
    service: string; // ipvsadm service address, e.g. "10.0.0.250:80"
}

function ipvsadm(conn: Inputs, args: string): Promise<void> {
    const { Client } = require("ssh2");
    const pinned = Buffer.from(conn.hostKey.split(" ")[1], "base64");
    return new Promise((resolve, reject) => {
        const c = new Client();
        c.on("error", reject).on("ready", () =>
            c.exec(`ipvsadm ${args}`, (err: Error | undefined, stream: any) => {
                if (err) return reject(err);
                let errOut = "";
                stream.stderr.on("data", (d: Buffer) => (errOut += d));
                stream.on("data", () => undefined).on("close", (code: number) => {
                    c.end();
                    code === 0 ? resolve() : reject(new Error(`ipvsadm ${args}: ${errOut}`));
                });
            }),
        ).connect({ host: conn.host, port: conn.port, username: "root", privateKey: conn.privateKey,
            hostVerifier: (key: Buffer) => key.equals(pinned) });
    });
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Inputs) {
        await ipvsadm(inputs, `-A -t ${inputs.service} -s rr`);
        return { id: inputs.service, outs: inputs };
    },
    async delete(_id: string, props: Inputs) {
        await ipvsadm(props, `-D -t ${props.service}`);
    },
};

class SmokeService extends pulumi.dynamic.Resource {
    constructor(name: string, args: Record<string, pulumi.Input<unknown>>) {
        super(provider, name, args, {});
    }
}

const config = new pulumi.Config();
new SmokeService("smoke", {
    host: config.require("host"),
    port: config.requireNumber("port"),
    hostKey: config.require("hostKey"),
    privateKey: config.requireSecret("privateKey"),
    service: config.require("service"),
});
