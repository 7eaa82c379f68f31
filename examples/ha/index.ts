// A high-availability pair. director1 and director2 declare the same NAT service, 10.0.0.246:80 round
// robin over three real servers. director1 is the active director: it holds the VIP and is the real
// servers' gateway back (NAT needs the answers to pass through the director). Its sync daemon (master)
// multicasts its connections on lan0; director2's (backup, same sync id) receives them into its own
// connection table, so that a failover keeps the connections already open. As `ipvsadm --start-daemon
// master --mcast-interface lan0 --syncid 46` on director1, `ipvsadm --start-daemon backup ...` on
// director2, and the same `ipvsadm -A` / `-a ... -m` on both.
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";

export const vip = "10.0.0.246";
const syncId = 46;

const directors = [
    new lvs.Director("director1", {
        connection: connection("director1"),
        ipForward: true,
        addresses: [{ address: vip, interface: "lan0" }],
        sync: { master: { interface: "lan0", syncId } },
    }),
    // The standby holds no VIP. In real life keepalived (VRRP) moves the VIP, and the NAT gateway
    // address of the back network, to director2 when director1 fails, and swaps the sync daemons' roles;
    // this program declares the steady state, not the failover.
    new lvs.Director("director2", {
        connection: connection("director2"),
        sync: { backup: { interface: "lan0", syncId } },
    }),
];

const backends = ["10.1.0.21", "10.1.0.22", "10.1.0.23"];
for (const [i, director] of directors.entries()) {
    const name = `director${i + 1}`;
    const web = new lvs.VirtualService(`${name}-web`,
        { director, protocol: "tcp", address: vip, port: 80, scheduler: "rr" });
    for (const [k, address] of backends.entries())
        new lvs.RealServer(`${name}-web-${k + 1}`, { service: web, address, port: 8246, forwarding: "nat" });
}

export const service = `${vip}:80`;
export const sync = directors.map((d) => d.sync);
