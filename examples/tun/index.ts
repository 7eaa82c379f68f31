// IP tunnelling: clients reach 10.0.0.248:80 on director1, which forwards each connection to one of three
// real servers by wrapping every packet in IPIP (the outer header addressed to the real server's own
// address, so the real servers could be on any network the director routes to; here they are on the LAN).
// Each real server has module ipip loaded, holds the VIP on tunl0 (so the decapsulated packets are its
// own), turns off the reverse-path filter there (the client's address is not routed through tunl0),
// neither answers nor announces ARP for the VIP, and answers the client directly. As
// `ipvsadm -A -t VIP:80 -s rr` and three `-a ... -i`, plus `modprobe ipip`, `ip addr add VIP/32 dev tunl0`,
// `ip link set tunl0 up` and the rp_filter and arp_ignore / arp_announce sysctls on each real server.
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";

export const vip = "10.0.0.248";

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    addresses: [{ address: vip, interface: "lan0" }],
});

const web = new lvs.VirtualService("web", { director, protocol: "tcp", address: vip, port: 80, scheduler: "rr" });

const realServers = [
    { name: "rs1", address: "10.0.0.21" },
    { name: "rs2", address: "10.0.0.22" },
    { name: "rs3", address: "10.0.0.23" },
];
for (const rs of realServers) {
    // Tunnel type ipip is the default (gue and gre need a decapsulating device of their own on the real server).
    new lvs.RealServer(rs.name, { service: web, address: rs.address, forwarding: "tun" });
    new lvs.RealServerNode(`${rs.name}-node`,
        { connection: connection(rs.name), forwarding: "tun", vips: [vip], arpInterface: "lan0" });
}
