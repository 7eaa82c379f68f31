// Persistence: two ways to keep a client on one real server, on director1 with NAT.
// - 10.0.0.243:443: persistent for 10 minutes, with netmask 255.255.255.0, so every client of one /24
//   network lands on the same real server (what a TLS session cache, or clients behind a pool of proxies,
//   want). As `ipvsadm -A -t 10.0.0.243:443 -s rr -p 600 -M 255.255.255.0` and three `-a ... -m`.
// - 10.0.0.244:0: port 0, the catch-all: one persistent service for every TCP port of the VIP, so a
//   client that opens several ports (FTP, a web page and its websocket) keeps one real server for all of
//   them; each connection goes to the port it asked for (real servers on port 0). As
//   `ipvsadm -A -t 10.0.0.244:0 -s rr -p 300` and three `-a -t 10.0.0.244:0 -r RIP:0 -m`.
import * as lvs from "pulumi-lvs";
import { connection } from "../lab";

const director = new lvs.Director("director1", {
    connection: connection("director1"),
    ipForward: true,
    addresses: [{ address: "10.0.0.243", interface: "lan0" }, { address: "10.0.0.244", interface: "lan0" }],
});

const https = new lvs.VirtualService("https", {
    director, protocol: "tcp", address: "10.0.0.243", port: 443, scheduler: "rr",
    persistence: { timeout: 600, netmask: "255.255.255.0" },
});

const anyPort = new lvs.VirtualService("any-port", {
    director, protocol: "tcp", address: "10.0.0.244", port: 0, scheduler: "rr",
    persistence: { timeout: 300 },
});

const backends = ["10.1.0.21", "10.1.0.22", "10.1.0.23"];
export const httpsRealServers = backends.map((address, i) =>
    new lvs.RealServer(`https-${i + 1}`, { service: https, address, forwarding: "nat" }).id);
export const anyPortRealServers = backends.map((address, i) =>
    new lvs.RealServer(`any-port-${i + 1}`, { service: anyPort, address, port: 0, forwarding: "nat" }).id);
