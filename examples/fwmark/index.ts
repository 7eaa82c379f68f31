// Firewall-mark service: every port of 10.0.0.241 and 10.0.0.242 on director1 is one virtual service,
// because the firewall marks those packets with mark 1 and IPVS balances by the mark, not by address and
// port. The service is persistent, so a client's connections to either VIP, on any port, all go to the
// same real server for 5 minutes. The real servers have port 0: each connection keeps the port the
// client asked for. NAT, as `ipvsadm -A -f 1 -s rr -p` and three `-a -f 1 -r RIP:0 -m`.
//
// The mark itself is the firewall's job, not this program's; on director1, for example:
//   nft add table ip lvs
//   nft add chain ip lvs prerouting '{ type filter hook prerouting priority mangle; }'
//   nft add rule ip lvs prerouting ip daddr '{ 10.0.0.241, 10.0.0.242 }' meta mark set 1
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    ipForward: true,
    addresses: [{ address: "10.0.0.241", interface: "lan0" }, { address: "10.0.0.242", interface: "lan0" }],
});

const marked = new lvs.VirtualService("marked",
    { director, fwmark: 1, scheduler: "rr", persistence: { timeout: 300 } });

export const realServers = ["10.1.0.21", "10.1.0.22", "10.1.0.23"].map((address, i) =>
    new lvs.RealServer(`marked-${i + 1}`, { service: marked, address, port: 0, forwarding: "nat" }).id);
export const fwmark = 1;
