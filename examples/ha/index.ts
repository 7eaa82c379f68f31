// A high-availability pair with failover. director1 and director2 declare the same direct-routing
// service, 10.0.0.246:80 round robin over three real servers, and the same VIP with failover: VRRP
// (virtual router 46, an advertisement every second), spoken by keepalived, which pulumi-lvs runs on
// each director with a configuration of VRRP only. director1 (priority 200) holds the VIP while it runs;
// director2 (priority 100) takes it when two of director1's advertisements are missed, 2.61 s after the
// last (its keepalived killed, its interface down, the host gone), and gives it back when director1 returns,
// unless preempt is false (stack config `preempt`). Each director runs both sync daemons (sync id 46),
// so the open connections of whichever holds the VIP are in the other's connection table, and survive a
// failover and the failback. The real servers hold the VIP on lo with ARP for it silenced, and answer
// the clients directly. As keepalived.conf's vrrp_instance on each director (state BACKUP,
// down_timer_adverts 2, nopreempt when preempt is false), `ipvsadm --start-daemon master` and `backup`
// on both, the same `ipvsadm -A` / `-a ... -g` on both, and `ip addr add VIP/32 dev lo` and the arp
// sysctls on each real server.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";

export const vip = "10.0.0.246";
const syncId = 46;
const preempt = new pulumi.Config().getBoolean("preempt") ?? true;

const pair = [{ name: "director1", priority: 200 }, { name: "director2", priority: 100 }];
const realServers = ["rs1", "rs2", "rs3"].map((name, i) => ({ name, address: `10.0.0.2${i + 1}` }));

const directors = pair.map(({ name, priority }) => {
    const director = new lvs.Director(name, {
        connection: connection(name),
        addresses: [{ address: vip, interface: "lan0" }],
        failover: { virtualRouterId: 46, priority, interface: "lan0", advertInterval: 1, downTimerAdverts: 2,
            preempt },
        sync: { master: { interface: "lan0", syncId }, backup: { interface: "lan0", syncId } },
    });
    const web = new lvs.VirtualService(`${name}-web`,
        { director, protocol: "tcp", address: vip, port: 80, scheduler: "rr" });
    for (const rs of realServers)
        new lvs.RealServer(`${name}-web-${rs.name}`, { service: web, address: rs.address, forwarding: "dr" });
    return director;
});
for (const rs of realServers)
    new lvs.RealServerNode(`${rs.name}-node`,
        { connection: connection(rs.name), forwarding: "dr", vips: [vip], arpInterface: "lan0" });

export const service = `${vip}:80`;
/** Which director holds the VIP, as the last refresh found it (each director's VRRP state). */
export const vrrp = directors.map((d) => d.vrrp);
