// The program of test/e2e/real-servers.test.ts: director1 holds the VIP 10.0.0.239 and balances port 80
// round robin over NAT real servers on port 8239 of rs1-rs3, declared as one RealServers (the list form).
// The list is stack config, each entry as a RealServers entry takes it:
//   realServers: [{ "address": "10.1.0.21", "weight": 2, "drain": { "timeout": 60 } }, ...]
// (default: all three, port 8239, forwarding nat, each draining within 60 s); an entry's port and forwarding
// default to 8239 and nat here.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";
import { connection } from "../../examples/lab";

const config = new pulumi.Config();
const declared = config.getObject<lvs.RealServerEntry[]>("realServers") ??
    ["10.1.0.21", "10.1.0.22", "10.1.0.23"].map((address) => ({ address, drain: { timeout: 60 } }));

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    ipForward: true,
    addresses: [{ address: "10.0.0.239", interface: "lan0" }],
});

const web = new lvs.VirtualService("web",
    { director, protocol: "tcp", address: "10.0.0.239", port: 80, scheduler: "rr" });

const list = new lvs.RealServers("web", {
    service: web,
    realServers: declared.map((r) => ({ port: 8239, forwarding: "nat" as const, ...r })),
});
export const realServers = list.realServers.apply((r) => Object.keys(r));
export const vip = "10.0.0.239:80";
