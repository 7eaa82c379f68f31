// The program of test/e2e/faults.test.ts: director1 holds the VIP 10.0.0.236 and has one NAT service on
// it per port of stack config `ports` (default [80]), each round robin over six real servers: ports 8236
// and 8237 of rs1-rs3's back addresses. Many ports make many creates, so the test can kill the engine
// while some are in flight. Nothing here needs traffic.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";
import { connection } from "../../examples/lab";

const config = new pulumi.Config();
const ports = config.getObject<number[]>("ports") ?? [80];

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    addresses: [{ address: "10.0.0.236", interface: "lan0" }],
});

export const realServers = ports.flatMap((port) => {
    const service = new lvs.VirtualService(`web-${port}`,
        { director, protocol: "tcp", address: "10.0.0.236", port, scheduler: "rr" });
    return ["10.1.0.21", "10.1.0.22", "10.1.0.23"].flatMap((address) => [8236, 8237].map((rsPort) =>
        new lvs.RealServer(`web-${port}-${address}-${rsPort}`,
            { service, address, port: rsPort, forwarding: "nat" }).id));
});
