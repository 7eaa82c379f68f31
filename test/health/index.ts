// The program of test/e2e/health.test.ts: a Cluster of director1 and its backup director2 (each checks on
// its own) with NAT services on the back network:
// - web, 10.0.0.226:80 round robin over rs1 and rs2 port 8226, an http check of /.testpage every
//   `interval` seconds (1), timeout 2 s (the lab's CPUs are emulated), down after 2 failures, up after 2
//   successes; the sorry server rs3:8227 takes the traffic while neither is healthy;
// - alt, 10.0.0.226:8080 over the same real servers with the same check (one probe each for both
//   services); which of them it has is stack config (`altRealServers`, default both);
// - tls, 10.0.0.227:443 over rs2:8443, checked over https (SNI lab-rs, status 200, not verified);
// - dns, udp 10.0.0.227:53 over rs1:5353, checked by asking for www.lab's A record;
// - ops, 10.0.0.227:8081 over rs1 and rs2 port 8226, checked by a command on the director (bash connecting
//   to the address and port it is given), removed from the table when down, with a notify command that
//   logs each change of state to the file named by config `notifyLog`;
// - echo, udp 10.0.0.227:8082 over rs2:8226, checked by a datagram "ping" whose reply must name rs2.
// tls, dns and echo are checked every 3 s: no test times them, and a TLS handshake every second on each
// director kept the lab's emulated CPUs busy enough to slow every other step of the test.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";
import { connection } from "../../examples/lab";

const config = new pulumi.Config();
const interval = config.getNumber("interval") ?? 1;
const alt = config.getObject<string[]>("altRealServers") ?? ["10.1.0.21", "10.1.0.22"];
const notifyLog = config.require("notifyLog");
const check: lvs.HealthCheck = {
    type: "http", request: "/.testpage", receive: "test page", interval, timeout: 2, failureCount: 2, successCount: 2,
};
const nat = (address: string, port: number) => ({ address, port, forwarding: "nat" as const });

const cluster = new lvs.Cluster("hc", {
    director: { connection: connection("director1"), interface: "lan0" },
    backup: { connection: connection("director2"), interface: "lan0" },
    services: {
        web: {
            protocol: "tcp", address: "10.0.0.226", port: 80, scheduler: "rr", healthCheck: check,
            sorryServer: { address: "10.1.0.23", port: 8227, forwarding: "nat" },
            realServers: [nat("10.1.0.21", 8226), nat("10.1.0.22", 8226)],
        },
        alt: {
            protocol: "tcp", address: "10.0.0.226", port: 8080, scheduler: "rr", healthCheck: check,
            realServers: alt.map((a) => nat(a, 8226)),
        },
        tls: {
            protocol: "tcp", address: "10.0.0.227", port: 443,
            realServers: [{ ...nat("10.1.0.22", 8443),
                healthCheck: {
                type: "https", sni: "lab-rs", statusCodes: "200", interval: 3, timeout: 3, failureCount: 2 } }],
        },
        dns: {
            protocol: "udp", address: "10.0.0.227", port: 53,
            realServers: [{ ...nat("10.1.0.21", 5353), healthCheck: {
                type: "dns", request: "www.lab", receive: "^10\\.0\\.0\\.21$", interval: 3, timeout: 2,
                failureCount: 2 } }],
        },
        ops: {
            protocol: "tcp", address: "10.0.0.227", port: 8081,
            healthCheck: {
                type: "exec", command: ["/bin/bash", "-c", "exec 3<>/dev/tcp/$0/$1"], interval: 2, timeout: 2,
                onFailure: "remove", notify: ["/bin/sh", "-c", `echo "$0 $1:$2" >> ${notifyLog}`],
            },
            realServers: [nat("10.1.0.21", 8226), nat("10.1.0.22", 8226)],
        },
        echo: {
            protocol: "udp", address: "10.0.0.227", port: 8082,
            realServers: [{ ...nat("10.1.0.22", 8226), healthCheck: {
                type: "udp", request: "ping", receive: "^rs2-8226 ", interval: 3, timeout: 2, failureCount: 2 } }],
        },
    },
});
export const vips = cluster.vips;
