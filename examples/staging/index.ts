// A staging cluster, reproducible from one program: an HA pair of directors with failover (director1
// holds the VIPs while it runs, director2 takes them when it fails: VRRP by keepalived, virtual router
// 51), the same services on both and the connection-sync daemons following it (the master daemon on the
// holder of the VIPs, the backup on the other, syncid 51), the same DoS
// settings on both, two services over the three real servers, and on each real server a small web server
// that answers with its name and the address:port it listens on.
//   web   10.0.0.251:80  rr   NAT to 10.1.0.21-23:8251 (the back network; director1 is their route back)
//   site  10.0.0.252:80  wlc  direct routing to 10.0.0.21-23 (the VIP on their lo, ARP for it silenced)
// Each director checks every real server over http every 2 s (a real server is out until its first check
// passes, and quiesced while its checks fail); a DR real server is checked on its own address, since the
// director holds the VIP itself.
// The root Pulumi.yaml runs this program (`npm run demo` deploys it to the lab).
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";
import { WebServer } from "./backends";

const hosts = [
    { name: "rs1", lan: "10.0.0.21", back: "10.1.0.21" },
    { name: "rs2", lan: "10.0.0.22", back: "10.1.0.22" },
    { name: "rs3", lan: "10.0.0.23", back: "10.1.0.23" },
];

// The lab's CPUs are emulated: 2 s for an answer.
const healthCheck: lvs.HealthCheck = { type: "http", request: "/", statusCodes: "200", interval: 2, timeout: 2 };

const cluster = new lvs.Cluster("staging", {
    director: { connection: connection("director1"), interface: "lan0" },
    backup: { connection: connection("director2"), interface: "lan0" },
    sync: { syncId: 51 },
    // web's NAT real servers answer through director1's back address (the lab's fixed route): after a
    // failover only site (direct routing) keeps working. A site that fails NAT over also moves that
    // gateway address, as one more address of the directors' failover.
    failover: { virtualRouterId: 51, syncDaemons: "follow" },
    // Under a SYN flood: drop connection entries when available memory falls below 2048 pages.
    dos: { dropEntry: "auto", amemthresh: 2048 },
    services: {
        web: {
            protocol: "tcp", address: "10.0.0.251", port: 80, scheduler: "rr", healthCheck,
            realServers: hosts.map((h) => ({ address: h.back, port: 8251, forwarding: "nat" as const })),
        },
        site: {
            protocol: "tcp", address: "10.0.0.252", port: 80, scheduler: "wlc", healthCheck,
            realServers: hosts.map((h) => ({ address: h.lan, forwarding: "dr" as const })),
        },
    },
    nodes: Object.fromEntries(hosts.map((h) => [h.lan, { connection: connection(h.name), arpInterface: "lan0" }])),
});

// The web servers listen on the DR VIP too, which the cluster puts on each real server's lo first, and on
// their own address for the checks of the DR service.
for (const h of hosts)
    new WebServer(h.name, { connection: connection(h.name), name: h.name,
        listen: [`${h.back}:8251`, "10.0.0.252:80", `${h.lan}:80`] }, { dependsOn: cluster });

export const vips = cluster.vips;
export const realServers = cluster.realServers;
export const urls = { web: "http://10.0.0.251/", site: "http://10.0.0.252/" };
