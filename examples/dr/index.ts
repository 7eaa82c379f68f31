// Direct routing: clients reach 10.0.0.245:80 on director1, which forwards each connection to one of
// three real servers on the same LAN by rewriting only the destination MAC. Each real server holds the
// VIP on lo (so it accepts the packets) and neither answers nor announces ARP for it (so only the
// director does), and answers the client directly. As `ipvsadm -A -t VIP:80 -s wlc` and three
// `-a ... -g`, plus `ip addr add VIP/32 dev lo` and the arp_ignore / arp_announce sysctls on each real server.
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";

export const vip = "10.0.0.245";

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    addresses: [{ address: vip, interface: "lan0" }],
});

// Under a SYN flood: drop connection entries when memory is short, keep TCP timeouts as they are.
new lvs.DosProtection("director1-dos", { director, dropEntry: "auto", secureTcp: "off", amemthresh: 2048 });

const web = new lvs.VirtualService("web", { director, protocol: "tcp", address: vip, port: 80, scheduler: "wlc" });

const realServers = [
    { name: "rs1", address: "10.0.0.21" },
    { name: "rs2", address: "10.0.0.22" },
    { name: "rs3", address: "10.0.0.23" },
];
for (const rs of realServers) {
    new lvs.RealServer(rs.name, { service: web, address: rs.address, forwarding: "dr" });
    new lvs.RealServerNode(`${rs.name}-node`,
        { connection: connection(rs.name), forwarding: "dr", vips: [vip], arpInterface: "lan0" });
}
