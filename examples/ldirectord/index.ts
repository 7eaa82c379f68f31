// The seeds' ldirectord setup, declared: a direct-routing service whose real servers are checked by
// fetching a test page, as this ldirectord.cf has it:
//
//     timeout = 10                  # the number of seconds until a real server is declared dead
//     checkinterval = 10            # the number of seconds between server checks
//     virtual = 10.0.0.225:80
//          protocol = tcp
//          scheduler = wlc
//          real = 10.0.0.21:80 gate 5
//          real = 10.0.0.22:80 gate 5
//          request = "/.testpage"
//          receive = "test page"
//
// ldirectord quiesces a failed real server (weight 0: quiescent = yes), and so does this program's check
// (onFailure "quiesce" is the default). The checks run in pulumi-lvs's health daemon on the director,
// which the first `up` installs beside the agent; heartbeat's part (moving the VIP) is a failover's.
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";

export const vip = "10.0.0.225";

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    addresses: [{ address: vip, interface: "lan0" }],
});

const www = new lvs.VirtualService("www", {
    director, protocol: "tcp", address: vip, port: 80, scheduler: "wlc",
    // The check every real server of the service takes (each may declare its own instead).
    healthCheck: {
        type: "http", request: "/.testpage", receive: "test page",
        interval: 10, timeout: 10, onFailure: "quiesce",
    },
});

for (const [name, address] of [["rs1", "10.0.0.21"], ["rs2", "10.0.0.22"]]) {
    new lvs.RealServer(name, { service: www, address, forwarding: "dr", weight: 5 });
    new lvs.RealServerNode(`${name}-node`,
        { connection: connection(name), forwarding: "dr", vips: [vip], arpInterface: "lan0" });
}
