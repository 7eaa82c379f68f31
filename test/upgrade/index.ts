// The program of test/e2e/upgrade.test.ts: one resource of each kind, on addresses of its own. director1
// holds the VIP 10.0.0.238 with ip_forward, timeouts and a master sync daemon (sync id 38), a DoS setting,
// a persistent NAT service on port 80 over rs1's back address (port 8238, weight from stack config
// `weight`, drained on delete) and a DR service on port 81 over rs3, whose node holds the VIP on lo.
// Stack config `sloppyTcp` adds an attribute the earlier build does not have (DosProtection.sloppyTcp).
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";
import { connection } from "../../examples/lab";

const config = new pulumi.Config();
const vip = "10.0.0.238";

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    addresses: [{ address: vip, interface: "lan0" }],
    ipForward: true,
    timeouts: { tcp: 838, tcpFin: 38, udp: 238 },
    sync: { master: { interface: "lan0", syncId: 38 } },
});
const sloppy = config.getBoolean("sloppyTcp") ? { sloppyTcp: true } : {};
new lvs.DosProtection("dos", { director, expireNodestConn: true, ...sloppy });

const nat = new lvs.VirtualService("nat", { director, protocol: "tcp", address: vip, port: 80, scheduler: "rr",
    persistence: {} });
new lvs.RealServer("nat-rs1", { service: nat, address: "10.1.0.21", port: 8238, forwarding: "nat",
    weight: config.getNumber("weight") ?? 2, drain: { timeout: 0 } });

const dr = new lvs.VirtualService("dr", { director, protocol: "tcp", address: vip, port: 81, scheduler: "wlc" });
new lvs.RealServer("dr-rs3", { service: dr, address: "10.0.0.23", forwarding: "dr" });
new lvs.RealServerNode("rs3-node", { connection: connection("rs3"), forwarding: "dr", vips: [vip],
    arpInterface: "lan0" });
