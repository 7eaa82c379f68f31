// The program of test/e2e/drain.test.ts: director1 holds the VIP 10.0.0.247 and balances port 80 round
// robin over NAT real servers on port 8247 of rs1-rs3. Which real servers exist, and whether each one
// drains when it is removed, is stack config, so the test can remove one under load:
//   realServers: [{ "address": "10.1.0.21", "drain": true }, ...]   (default: all three, each draining)
// A draining one is declared with drain: { timeout: 60 }.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";
import { connection } from "../../examples/lab";

const config = new pulumi.Config();
const declared = config.getObject<Array<{ address: string; drain?: boolean }>>("realServers") ??
    ["10.1.0.21", "10.1.0.22", "10.1.0.23"].map((address) => ({ address, drain: true }));

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    ipForward: true,
    addresses: [{ address: "10.0.0.247", interface: "lan0" }],
});

const web = new lvs.VirtualService("web",
    { director, protocol: "tcp", address: "10.0.0.247", port: 80, scheduler: "rr" });

export const realServers = declared.map((r) =>
    new lvs.RealServer(`web-${r.address}`, {
        service: web, address: r.address, port: 8247, forwarding: "nat",
        ...(r.drain === false ? {} : { drain: { timeout: 60 } }),
    }).id);
export const vip = "10.0.0.247:80";
