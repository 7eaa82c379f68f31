// The program of test/e2e/owners.test.ts: objects that one program (or two stacks) declares twice, or
// under new names, so that Pulumi creates the new resource before it deletes the old. Which groups of
// objects it declares, and how, is the stack config `stage`, each key a group (left out: not declared):
//   rename: "old" | "new"        10.0.0.230:80 rr over NAT 10.1.0.21-22:8230; the VirtualService and its
//                                RealServers are named old-* or new-* (a rename without aliases)
//   duplicate: "none" | "same"   10.0.0.231:80 rr over NAT 10.1.0.21-22:8231; with "same", a second
//                                RealServer (dup-1-again) declares 10.1.0.21:8231 as dup-1 does
//   conflict: <weight>           only 10.0.0.231:80 (as above) and 10.1.0.21:8231 with this weight (dup-1
//                                has 1): what another stack declares to collide with duplicate's
//   sync: "cluster" | "plain"    10.0.0.232:80 rr over NAT 10.1.0.21-22:8232 on director1 (VIP, master
//                                sync daemon, sync id 30) and director2 (backup daemon), as one lvs.Cluster
//                                or as the same Directors, VirtualServices and RealServers without it
//   mixed: true                  [fd00::234]:80 rr over 10.0.0.21-23:80 forwarded by tun (IPv4 real
//                                servers of an IPv6 service)
// Every VIP of a group goes on director1's lan0 through a Director's addresses.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";
import { connection } from "../../examples/lab";

interface Stage {
    rename?: "old" | "new";
    duplicate?: "none" | "same";
    conflict?: number;
    sync?: "cluster" | "plain";
    mixed?: boolean;
}

const stage = new pulumi.Config().requireObject<Stage>("stage");
const backends = ["10.1.0.21", "10.1.0.22"];
const syncId = 30;

// director1 for the groups other than sync: the VIPs of those declared, and ip_forward for NAT (on from
// boot in the lab; declared as a NAT director declares it).
const vips = [
    ...(stage.rename ? ["10.0.0.230"] : []),
    ...(stage.duplicate ? ["10.0.0.231"] : []),
    ...(stage.mixed ? ["fd00::234"] : []),
];
const nat = stage.rename !== undefined || stage.duplicate !== undefined || stage.conflict !== undefined;
const director1 = nat || stage.mixed
    ? new lvs.Director("director1", {
        connection: connection("director1"),
        ...(nat ? { ipForward: true } : {}),
        ...(vips.length ? { addresses: vips.map((address) => ({ address, interface: "lan0" })) } : {}),
    })
    : undefined;

if (stage.rename) {
    const prefix = stage.rename;
    const web = new lvs.VirtualService(`${prefix}-web`,
        { director: director1!, protocol: "tcp", address: "10.0.0.230", port: 80, scheduler: "rr" });
    for (const [i, address] of backends.entries())
        new lvs.RealServer(`${prefix}-web-${i + 1}`, { service: web, address, port: 8230, forwarding: "nat" });
}

if (stage.duplicate || stage.conflict !== undefined) {
    const dup = new lvs.VirtualService("dup",
        { director: director1!, protocol: "tcp", address: "10.0.0.231", port: 80, scheduler: "rr" });
    if (stage.duplicate) {
        for (const [i, address] of backends.entries())
            new lvs.RealServer(`dup-${i + 1}`, { service: dup, address, port: 8231, forwarding: "nat" });
        if (stage.duplicate === "same")
            new lvs.RealServer("dup-1-again", { service: dup, address: backends[0], port: 8231, forwarding: "nat" });
    }
    if (stage.conflict !== undefined)
        new lvs.RealServer("dup-1-weighted",
            { service: dup, address: backends[0], port: 8231, forwarding: "nat", weight: stage.conflict });
}

if (stage.sync) {
    const realServers = backends.map((address) => ({ address, port: 8232, forwarding: "nat" as const }));
    if (stage.sync === "cluster") {
        new lvs.Cluster("c", {
            director: { connection: connection("director1"), interface: "lan0" },
            backup: { connection: connection("director2"), interface: "lan0" },
            sync: { syncId },
            services: { web: { protocol: "tcp", address: "10.0.0.232", port: 80, scheduler: "rr", realServers } },
        });
    } else {
        // What the Cluster above makes, declared resource by resource (the same names, no component, no
        // aliases), but each real server as a RealServer of its own where the Cluster has one RealServers.
        const directors = [
            new lvs.Director("c-director", {
                connection: connection("director1"), ipForward: true,
                addresses: [{ address: "10.0.0.232", interface: "lan0" }],
                sync: { master: { interface: "lan0", syncId } },
            }),
            new lvs.Director("c-backup", {
                connection: connection("director2"), ipForward: true,
                sync: { backup: { interface: "lan0", syncId } },
            }),
        ];
        for (const [dname, director] of [["c-director", directors[0]], ["c-backup", directors[1]]] as const) {
            const web = new lvs.VirtualService(`${dname}-web`,
                { director, protocol: "tcp", address: "10.0.0.232", port: 80, scheduler: "rr" });
            for (const r of realServers)
                new lvs.RealServer(`${dname}-web-${r.address}-${r.port}`, { ...r, service: web });
        }
    }
}

if (stage.mixed) {
    const mixed = new lvs.VirtualService("mixed",
        { director: director1!, protocol: "tcp", address: "fd00::234", port: 80, scheduler: "rr" });
    for (const [i, address] of ["10.0.0.21", "10.0.0.22", "10.0.0.23"].entries())
        new lvs.RealServer(`mixed-${i + 1}`, { service: mixed, address, forwarding: "tun" });
}

export const declared = stage;
