// IPv6: clients reach [fd00::240]:80 on director1, which rewrites each connection to one of three real
// servers on the back network, round robin; they answer through director1, which therefore forwards
// IPv6 (net.ipv6.conf.all.forwarding, set by ipv6Forward and put back on destroy). As
// `ipvsadm -A -t [fd00::240]:80 -s rr` and three `ipvsadm -a -t [fd00::240]:80 -r [RIP]:80 -m`.
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    ipv6Forward: true,
    addresses: [{ address: "fd00::240", interface: "lan0" }],
});

const web = new lvs.VirtualService("web6",
    { director, protocol: "tcp", address: "fd00::240", port: 80, scheduler: "rr" });

export const realServers = ["fd01::21", "fd01::22", "fd01::23"].map((address, i) =>
    new lvs.RealServer(`web6-${i + 1}`, { service: web, address, forwarding: "nat" }).id);
export const vip = "[fd00::240]:80";
