// NAT (masquerading): clients reach 10.0.0.240:80 on director1, which rewrites each connection to one
// of five real servers on the back network, round robin. The real servers answer through director1
// (their route back), which reverses the rewrite. As `ipvsadm -A -t VIP:80 -s rr` and five `-a ... -m`.
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    ipForward: true,
    addresses: [{ address: "10.0.0.240", interface: "lan0" }],
});

const web = new lvs.VirtualService("web",
    { director, protocol: "tcp", address: "10.0.0.240", port: 80, scheduler: "rr" });

const backends = [
    { address: "10.1.0.21", port: 80 },
    { address: "10.1.0.21", port: 8080 },
    { address: "10.1.0.22", port: 80 },
    { address: "10.1.0.22", port: 8080 },
    { address: "10.1.0.23", port: 80 },
];
export const realServers = backends.map((b, i) =>
    new lvs.RealServer(`web-${i + 1}`, { service: web, ...b, forwarding: "nat" }).id);
export const vip = "10.0.0.240:80";
