// The Cluster component's resource graph and its errors, under Pulumi's mocks (no engine, no host).
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";

const made: Array<{ type: string; name: string; inputs: Record<string, any> }> = [];
beforeAll(() => {
    pulumi.runtime.setMocks({
        newResource: (a) => { made.push({ type: a.type, name: a.name, inputs: a.inputs }); return { id: `${a.name}-id`, state: a.inputs }; },
        call: () => ({}),
    }, "project", "stack", false);
});

const connection = (host: string) => ({ host, hostKey: "SHA256:x", privateKey: "k" });
const out = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

async function cluster(args: Partial<import("../../sdk").ClusterArgs> = {}) {
    const lvs = await import("../../sdk");
    made.length = 0;
    const c = new lvs.Cluster("staging", {
        director: { connection: connection("d1"), interface: "lan0" },
        backup: { connection: connection("d2"), interface: "lan0" },
        sync: { syncId: 51 },
        dos: { dropEntry: "auto" },
        nodes: { "10.0.0.21": { connection: connection("rs1"), arpInterface: "lan0" }, "10.0.0.22": { connection: connection("rs2"), arpInterface: "eth1" } },
        services: {
            web: { protocol: "tcp", address: "10.0.0.251", port: 80, scheduler: "rr", realServers: [{ address: "10.1.0.21", port: 8251, forwarding: "nat" }] },
            site: { protocol: "tcp", address: "10.0.0.252", port: 80, realServers: [{ address: "10.0.0.21" }, { address: "10.0.0.22", forwarding: "dr" }] },
        },
        ...args,
    });
    // Registration runs on promise chains: wait for every resource's id, then for the mocks to be called.
    await Promise.all([...c.directors, ...Object.values(c.services).flat(), ...Object.values(c.nodes)].map((r) => out(r.id)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { c, made: [...made] };
}
const byType = (m: typeof made, t: string) => m.filter((r) => r.type.endsWith(`lvs:${t}`));

describe("Cluster", () => {
    it("makes a director pair with sync and DoS, each service and real server on both, and one node per dr host", async () => {
        const { c, made } = await cluster();
        const directors = byType(made, "Director");
        expect(directors.map((d) => d.name).sort()).toEqual(["staging-backup", "staging-director"]);
        directors.sort((a, b) => b.name.localeCompare(a.name));
        expect(directors[0].inputs).toMatchObject({ ipForward: true, addresses: [{ address: "10.0.0.251", interface: "lan0" }, { address: "10.0.0.252", interface: "lan0" }],
            sync: { master: { interface: "lan0", syncId: 51 } } });
        expect(directors[1].inputs.addresses).toBeUndefined();
        expect(directors[1].inputs.sync).toEqual({ backup: { interface: "lan0", syncId: 51 } });
        expect(byType(made, "DosProtection").map((d) => d.name).sort()).toEqual(["staging-backup-dos", "staging-director-dos"]);
        expect(byType(made, "VirtualService").map((s) => s.name).sort()).toEqual(["staging-backup-site", "staging-backup-web", "staging-director-site", "staging-director-web"]);
        expect(byType(made, "RealServer")).toHaveLength(6);
        expect(byType(made, "RealServerNode").map((n) => [n.name, n.inputs.forwarding, n.inputs.vips, n.inputs.arpInterface]).sort()).toEqual([
            ["staging-node-10.0.0.21", "dr", ["10.0.0.252"], "lan0"], ["staging-node-10.0.0.22", "dr", ["10.0.0.252"], "eth1"]]);
        expect(await out(c.vips)).toEqual(["10.0.0.251", "10.0.0.252"]);
        expect(await out(c.realServers)).toEqual({ web: ["10.1.0.21:8251"], site: ["10.0.0.21:80", "10.0.0.22:80"] });
    });

    it("a single director without NAT needs no forwarding, no sync and no DoS", async () => {
        const { made } = await cluster({ backup: undefined, sync: undefined, dos: undefined,
            services: { site: { protocol: "tcp", address: "fd00::252", port: 80, realServers: [{ address: "10.0.0.21", forwarding: "dr" }] } } });
        const [d] = byType(made, "Director");
        expect(d.inputs.ipForward).toBeUndefined();
        expect(d.inputs.sync).toBeUndefined();
        expect(byType(made, "Director")).toHaveLength(1);
        expect(byType(made, "DosProtection")).toHaveLength(0);
    });

    it("names every problem: a dr host without a node, one host in dr and tun, sync without a backup, a bad VIP", async () => {
        await expect(cluster({
            backup: undefined,
            services: {
                a: { protocol: "tcp", address: "10.0.0.300", port: 80, realServers: [] },
                d: { protocol: "tcp", address: "10.0.0.254", port: 80 } as never,
                b: { protocol: "tcp", address: "10.0.0.252", port: 80, realServers: [{ address: "10.0.0.23" }, { address: "10.0.0.21", forwarding: "dr" }] },
                c: { protocol: "tcp", address: "10.0.0.253", port: 80, realServers: [{ address: "10.0.0.21", forwarding: "tun" }] },
            },
        })).rejects.toThrow([
            "Cluster staging:",
            "  services.d.realServers: undefined is not a list of real servers",
            '  services: "10.0.0.300" is not an IPv4 or IPv6 address',
            '  services.b.realServers[0]: 10.0.0.23 is forwarded by dr, so its host must be prepared: give nodes["10.0.0.23"] (connection and arpInterface)',
            "  services.c.realServers[0]: 10.0.0.21 is forwarded by tun here and by dr in services.b.realServers[1]: one host takes part in one of them",
            "  sync: connection sync needs a backup director",
        ].join("\n"));
    });
});
