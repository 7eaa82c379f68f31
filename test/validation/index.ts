// The program of test/e2e/validation.test.ts, which only previews it: a valid declaration of every
// resource kind (director1 with a VIP, a NAT service 10.0.0.235:80 with one real server, rs1 prepared
// for direct routing, DoS settings), and the stack config `patch`, which breaks one rule at a time as
// a JSON or YAML config would: its keys are merged into one resource's arguments (the keys of
// `connection` into director1's connection), and `duplicate` declares a second real server ("realServer":
// 10.1.0.21:8235 again, weight 42) or a second service ("service": 10.0.0.235:80 again, lblcr).
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";
import { connection } from "../../examples/lab";

interface Patch {
    connection?: Record<string, unknown>;
    director?: Record<string, unknown>;
    service?: Record<string, unknown>;
    realServer?: Record<string, unknown>;
    node?: Record<string, unknown>;
    dos?: Record<string, unknown>;
    duplicate?: "realServer" | "service";
}

const patch = new pulumi.Config().getObject<Patch>("patch") ?? {};

const director = new lvs.Director("director1", {
    connection: { ...connection("director1"), ...patch.connection },
    addresses: [{ address: "10.0.0.235", interface: "lan0" }],
    ...patch.director,
} as lvs.DirectorArgs);

const service = new lvs.VirtualService("first-vs", {
    director, protocol: "tcp", address: "10.0.0.235", port: 80, scheduler: "rr", ...patch.service,
} as lvs.VirtualServiceArgs);

new lvs.RealServer("first-rs", {
    service, address: "10.1.0.21", port: 8235, forwarding: "nat", ...patch.realServer,
} as lvs.RealServerArgs);

new lvs.RealServerNode("rs1", {
    connection: connection("rs1"), forwarding: "dr", vips: ["10.0.0.235"], arpInterface: "lan0", ...patch.node,
} as lvs.RealServerNodeArgs);

new lvs.DosProtection("dos", { director, amemthresh: 2048, ...patch.dos } as lvs.DosProtectionArgs);

if (patch.duplicate === "realServer")
    new lvs.RealServer("second-rs", { service, address: "10.1.0.21", port: 8235, forwarding: "nat", weight: 42 });
if (patch.duplicate === "service")
    new lvs.VirtualService("second-vs",
        { director, protocol: "tcp", address: "10.0.0.235", port: 80, scheduler: "lblcr" });
