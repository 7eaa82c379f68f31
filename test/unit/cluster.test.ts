// The Cluster component's resource graph and its errors, under Pulumi's mocks (no engine, no host).
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import * as model from "../../provider/model";

const made: Array<{ type: string; name: string; inputs: Record<string, any> }> = [];
beforeAll(() => {
    pulumi.runtime.setMocks({
        newResource: (a) => {
            made.push({ type: a.type, name: a.name, inputs: a.inputs });
            return { id: `${a.name}-id`, state: a.inputs };
        },
        call: () => ({}),
    }, "project", "stack", false);
});

const connection = (host: string) => ({
    host, hostKey: "SHA256:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", privateKey: "k",
});
const out = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
type Args = import("../../sdk").ClusterArgs;

const staging = (): Args => ({
    director: { connection: connection("d1"), interface: "lan0" },
    backup: { connection: connection("d2"), interface: "lan0" },
    sync: { syncId: 51 },
    dos: { dropEntry: "auto" },
    nodes: {
        "10.0.0.21": { connection: connection("rs1"), arpInterface: "lan0" },
        "10.0.0.22": { connection: connection("rs2"), arpInterface: "eth1" },
    },
    services: {
        web: {
            protocol: "tcp", address: "10.0.0.251", port: 80, scheduler: "rr",
            realServers: [{ address: "10.1.0.21", port: 8251, forwarding: "nat" }],
        },
        site: {
            protocol: "tcp", address: "10.0.0.252", port: 80,
            realServers: [{ address: "10.0.0.21" }, { address: "10.0.0.22", forwarding: "dr" }],
        },
    },
});

async function cluster(args: Partial<Args> = {}) {
    const lvs = await import("../../sdk");
    made.length = 0;
    const c = new lvs.Cluster("staging", { ...staging(), ...args });
    // Registration runs on promise chains: wait for every resource's id, then for the mocks to be called.
    await Promise.all([...c.directors, ...Object.values(c.services).flat(), ...Object.values(c.nodes)]
        .map((r) => out(r.id)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { c, made: [...made] };
}
const byType = (m: typeof made, t: string) => m.filter((r) => r.type.endsWith(`lvs:${t}`));

/** The error a declaration fails with (any shape of args: from JSON config, say). */
async function failure(args: unknown): Promise<Error> {
    const lvs = await import("../../sdk");
    made.length = 0;
    try { new lvs.Cluster("staging", args as Args); } catch (e) { return e as Error; }
    throw new Error("the Cluster was made");
}
/** The problems an error lists, one per line, without the header. */
const problems = (e: Error) => e.message.replace(/^Cluster staging:(\n  | )/, "").split("\n  ");
/** The staging declaration with `edit` applied to a copy. */
const edited = (edit: (a: any) => void) => { const a = staging() as any; edit(a); return a; };

describe("Cluster", () => {
    it("makes a director pair with sync and DoS, each service and real server on both, " +
        "and one node per dr host", async () => {
        const { c, made } = await cluster();
        const directors = byType(made, "Director");
        expect(directors.map((d) => d.name).sort()).toEqual(["staging-backup", "staging-director"]);
        directors.sort((a, b) => b.name.localeCompare(a.name));
        expect(directors[0].inputs).toMatchObject({
            ipForward: true,
            addresses: [{ address: "10.0.0.251", interface: "lan0" }, { address: "10.0.0.252", interface: "lan0" }],
            sync: { master: { interface: "lan0", syncId: 51 } },
        });
        expect(directors[1].inputs.addresses).toBeUndefined();
        expect(directors[1].inputs.sync).toEqual({ backup: { interface: "lan0", syncId: 51 } });
        expect(byType(made, "DosProtection").map((d) => d.name).sort())
            .toEqual(["staging-backup-dos", "staging-director-dos"]);
        expect(byType(made, "VirtualService").map((s) => s.name).sort()).toEqual(
            ["staging-backup-site", "staging-backup-web", "staging-director-site", "staging-director-web"]);
        const lists = byType(made, "RealServers");
        expect(lists.map((l) => [l.name, l.inputs.realServers.map((r: { address: string }) => r.address)]).sort())
            .toEqual([
                ["staging-backup-site", ["10.0.0.21", "10.0.0.22"]], ["staging-backup-web", ["10.1.0.21"]],
                ["staging-director-site", ["10.0.0.21", "10.0.0.22"]], ["staging-director-web", ["10.1.0.21"]]]);
        expect(byType(made, "RealServer")).toHaveLength(0);
        expect(byType(made, "RealServerNode")
            .map((n) => [n.name, n.inputs.forwarding, n.inputs.vips, n.inputs.arpInterface]).sort())
            .toEqual([
                ["staging-node-10.0.0.21", "dr", ["10.0.0.252"], "lan0"],
                ["staging-node-10.0.0.22", "dr", ["10.0.0.252"], "eth1"]]);
        expect(await out(c.vips)).toEqual(["10.0.0.251", "10.0.0.252"]);
        expect(await out(c.realServers)).toEqual({ web: ["10.1.0.21:8251"], site: ["10.0.0.21:80", "10.0.0.22:80"] });
    });

    it("a single director without NAT needs no forwarding, no sync and no DoS", async () => {
        const { made } = await cluster({ backup: undefined, sync: undefined, dos: undefined,
            nodes: { "10.0.0.21": { connection: connection("rs1"), arpInterface: "lan0" } },
            services: { site: { protocol: "tcp", address: "fd00::252", port: 80,
                realServers: [{ address: "10.0.0.21", forwarding: "tun" }] } } });
        const [d] = byType(made, "Director");
        expect(d.inputs.ipForward).toBeUndefined();
        expect(d.inputs.sync).toBeUndefined();
        expect(byType(made, "Director")).toHaveLength(1);
        expect(byType(made, "DosProtection")).toHaveLength(0);
    });

    it("passes every sync setting to the master daemon on the director and the backup daemon on the backup, " +
        "each on its own interface", async () => {
        const sync = { syncId: 52, maxLen: 1400, group: "239.1.2.3", port: 8852, ttl: 2 };
        const { made } = await cluster({ sync, backup: { connection: connection("d2"), interface: "eth1" } });
        const d = Object.fromEntries(byType(made, "Director").map((r) => [r.name, r.inputs]));
        expect(d["staging-director"].sync).toEqual({ master: { interface: "lan0", ...sync } });
        expect(d["staging-backup"].sync).toEqual({ backup: { interface: "eth1", ...sync } });
    });

    it("takes sync settings that are Outputs, and `sync: {}` (the kernel's settings)", async () => {
        const { made } = await cluster({ sync: { syncId: pulumi.output(53), group: pulumi.output("ff02::81") } });
        const d = Object.fromEntries(byType(made, "Director").map((r) => [r.name, r.inputs]));
        expect(d["staging-director"].sync).toEqual({ master: { interface: "lan0", syncId: 53, group: "ff02::81" } });
        const { made: made2 } = await cluster({ sync: {} });
        expect(byType(made2, "Director").map((r) => r.inputs.sync)
            .sort((a, b) => Object.keys(a)[0].localeCompare(Object.keys(b)[0])))
            .toEqual([{ backup: { interface: "lan0" } }, { master: { interface: "lan0" } }]);
    });

    it("fails with a pulumi RunError (printed without a stack trace) naming the field, and makes nothing", async () => {
        const e = await failure(edited((a) => { a.services.web.schedular = "rr"; }));
        expect(pulumi.RunError.isInstance(e)).toBe(true);
        expect(e).toBeInstanceOf(pulumi.RunError);
        const allowed = [...model.serviceKeyFields, ...model.serviceSettingFields, ...model.serviceHealthFields,
            "adopt", "realServers"].join(", ");
        expect(e.message)
            .toBe(`Cluster staging: services.web.schedular: unknown field "schedular" (allowed: ${allowed})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(made).toEqual([]); // not even the component
    });

    it("refuses unknown keys at every level, naming each with the allowed ones", async () => {
        const e = await failure(edited((a) => {
            a.servics = {};
            a.director.interfaces = "lan0";
            a.director.connection.hostkey = "SHA256:y";
            a.director.connection.proxy = { host: "jump", hostKey: "SHA256:z", privateKey: "k", usr: "me" };
            a.director.timeouts = { tcp: 900, tcpfin: 120 };
            a.backup.timeout = { tcp: 900 };
            a.sync.syncid = 1;
            a.dos.dropentry = "auto";
            a.services.web.persistence = { timeout: 60, netmsk: "255.255.255.0" };
            a.services.web.realServers[0].wieght = 2;
            a.services.web.realServers[0].drain = { timout: 10 };
            a.services.site.realServers[1] = {
                address: "10.0.0.22", forwarding: "tun", tunnel: { type: "gue", port: 6080, csum: "csum" },
            };
            a.nodes["10.0.0.21"].arpinterface = "lan0";
            a.nodes["10.0.0.22"].connection.passwrd = "x";
        }));
        const list = (f: readonly string[]) => f.join(", ");
        const unknown = (property: string, allowed: readonly string[]) =>
            `${property}: unknown field "${property.split(".").pop()}" (allowed: ${list(allowed)})`;
        expect(problems(e)).toEqual([
            unknown("servics", ["director", "backup", "sync", "failover", "dos", "services", "nodes"]),
            unknown("director.interfaces", ["connection", "interface", "timeouts", "address"]),
            unknown("director.connection.hostkey", model.connectionFields),
            unknown("director.connection.proxy.usr", model.connectionFields),
            unknown("director.timeouts.tcpfin", ["tcp", "tcpFin", "udp"]),
            unknown("backup.timeout", ["connection", "interface", "timeouts", "address"]),
            unknown("sync.syncid", ["syncId", "maxLen", "group", "port", "ttl"]),
            unknown("dos.dropentry", model.dosProtectionFields),
            unknown("services.web.persistence.netmsk", model.persistenceFields),
            unknown("services.web.realServers[0].wieght",
                ["address", "port", ...model.realServerSettingFields, "healthCheck", "adopt", "drain"]),
            unknown("services.web.realServers[0].drain.timout", ["timeout"]),
            unknown("services.site.realServers[1].tunnel.csum", model.tunnelFields),
            unknown('nodes["10.0.0.21"].arpinterface', ["connection", "arpInterface"]),
            unknown('nodes["10.0.0.22"].connection.passwrd', model.connectionFields),
        ]);
    });

    it("with failover, both directors declare the VIPs with their priorities (200, 100), and run both sync " +
        "daemons", async () => {
        const { made } = await cluster({
            failover: { virtualRouterId: 51, advertInterval: 0.5, downTimerAdverts: 2, preempt: false,
                syncDaemons: "follow" } });
        const d = Object.fromEntries(byType(made, "Director").map((r) => [r.name, r.inputs]));
        const vips = [{ address: "10.0.0.251", interface: "lan0" }, { address: "10.0.0.252", interface: "lan0" }];
        for (const [name, priority] of [["staging-director", 200], ["staging-backup", 100]] as const) {
            expect(d[name].addresses, name).toEqual(vips);
            expect(d[name].failover, name).toEqual(
                { virtualRouterId: 51, priority, interface: "lan0", advertInterval: 0.5, downTimerAdverts: 2,
                    preempt: false, syncDaemons: "follow" });
            expect(d[name].sync, name).toEqual(
                { master: { interface: "lan0", syncId: 51 }, backup: { interface: "lan0", syncId: 51 } });
        }
        const { made: unicast } = await cluster({ failover: { virtualRouterId: 51, unicast: true },
            director: { connection: connection("d1"), interface: "lan0", address: "10.0.0.11" },
            backup: { connection: connection("d2"), interface: "lan0", address: "10.0.0.12" } });
        const u = Object.fromEntries(byType(unicast, "Director").map((r) => [r.name, r.inputs.failover]));
        expect(u["staging-director"].unicastPeers).toEqual(["10.0.0.12"]);
        expect(u["staging-backup"].unicastPeers).toEqual(["10.0.0.11"]);
    });

    it("refuses a failover without a backup, with bad settings, or unicast without the directors' addresses",
        async () => {
            const e = await failure(edited((a) => {
                a.failover = { virtualRouterId: 256, advertInterval: 0.001, preempt: "no", unicast: true, vrid: 1 };
                a.backup.address = "d2";
            }));
            expect(problems(e)).toEqual([
                'failover.vrid: unknown field "vrid" (allowed: virtualRouterId, advertInterval, downTimerAdverts, ' +
                    'preempt, syncDaemons, unicast)',
                "failover.virtualRouterId: 256 is not a virtual router id: an integer from 1 to 255",
                "failover.advertInterval: 0.001 is not an advertisement interval: 0.01 to 40.95 seconds, in hundredths",
                'failover.preempt: "no" is not a boolean',
                "director.address: undefined is not an address: unicast failover needs each director's own address " +
                    "on its interface (the other's VRRP peer)",
                'backup.address: "d2" is not an address: unicast failover needs each director\'s own address on its ' +
                    "interface (the other's VRRP peer)",
            ]);
            const alone = await failure(edited((a) => {
                delete a.backup; delete a.sync; a.failover = { virtualRouterId: 1 };
            }));
            expect(problems(alone)).toEqual(["failover: failover needs a backup director"]);
        });

    it("checks each sync setting as a Director's daemon is checked", async () => {
        const e = await failure(edited((a) => {
            a.sync = { syncId: 256, maxLen: 70000, group: "10.0.0.1", port: 0, ttl: 300 };
        }));
        expect(problems(e)).toEqual([
            "sync.syncId: 256 is not a sync id: an integer from 0 to 255",
            "sync.maxLen: 70000 is not a sync message length: 1 to 65507 bytes (one UDP datagram)",
            'sync.group: "10.0.0.1" is not a multicast group (224.0.0.0/4 or ff00::/8)',
            "sync.port: 0 is not a port: 1 to 65535",
            "sync.ttl: 300 is not a TTL: 1 to 255",
        ]);
        expect(problems(await failure(edited((a) => { a.sync = { group: "ff02::81", syncId: 1.5 }; }))))
            .toEqual(["sync.syncId: 1.5 is not a sync id: an integer from 0 to 255"]);
    });

    it("checks plain values with the providers' rules: services, real servers, interfaces", async () => {
        const e = await failure(edited((a) => {
            a.director.interface = "lan 0";
            a.backup.interface = "a-very-long-interface-name";
            a.services.web.scheduler = "round-robin";
            a.services.web.port = 0;
            a.services.web.persistence = { netmask: "255.0.255.0" };
            a.services.web.adopt = "yes";
            a.services.web.realServers[0].weight = -1;
            a.services.site.realServers[0].port = 8080;
            a.services.site.realServers[1].tunnel = { type: "gre" };
            a.nodes["10.0.0.22"].arpInterface = "eth/1";
        }));
        expect(problems(e)).toEqual([
            `director.interface: ${model.interfaceNameProblem("lan 0")}`,
            `backup.interface: interface name "a-very-long-interface-name" is invalid ` +
                `(must be 1-15 printable ASCII characters, no '/', ':' or whitespace, not '.' or '..')`,
            expect.stringMatching(new RegExp(/^services\.web\.scheduler: "round-robin" /.source +
                /is not an IPVS scheduler: use one of rr, wrr, /.source)),
            'services.web.persistence.netmask: "255.0.255.0" is not an IPv4 netmask like "255.255.255.0" ' +
                '(contiguous ones)',
            'services.web.adopt: "yes" is not a boolean',
            "services.web.realServers[0].weight: -1 is not a weight: an integer from 0 to 2147483647 " +
                "(0 takes no new connections)",
            'services.site.realServers[0].port: with forwarding "dr" a real server listens on ' +
                'the service\'s port 80, not 8080; leave port out or use "nat"',
            'services.site.realServers[1].tunnel: tunnel settings need forwarding "tun", not "dr"',
            `nodes["10.0.0.22"].arpInterface: interface name "eth/1" is invalid ` +
                `(must be 1-15 printable ASCII characters, no '/', ':' or whitespace, not '.' or '..')`,
        ]);
    });

    it("names a persistence or a tunnel that is not an object once, by the rule of its table", async () => {
        const e = await failure(edited((a) => {
            a.services.web.persistence = 5;
            a.services.site.realServers[1].tunnel = "gre";
        }));
        expect(problems(e)).toEqual([
            "services.web.persistence: 5 is not a persistence setting: an object, e.g. { timeout: 360 } " +
                "(or {} for ipvsadm's defaults)",
            'services.site.realServers[1].tunnel: "gre" is not a tunnel setting: an object, ' +
                'e.g. { type: "gue", port: 6080 }',
        ]);
    });

    it("leaves values that are Outputs to the resources' checks, and takes the rest", async () => {
        const { made } = await cluster({
            director: {
                connection: pulumi.output(connection("d1")), interface: "lan0", timeouts: pulumi.output({ tcp: 900 }),
            },
            services: {
                web: {
                    protocol: "tcp", address: "10.0.0.251", port: pulumi.output(80),
                    scheduler: pulumi.output("rr") as any,
                    realServers: [{ address: "10.1.0.21", port: 8251, forwarding: "nat", weight: pulumi.output(3) }],
                },
                site: {
                    protocol: "tcp", address: "10.0.0.252", port: 80,
                    persistence: Promise.resolve({ timeout: 60 }) as any,
                    realServers: [{ address: "10.0.0.21" }, { address: "10.0.0.22" }],
                },
            },
        });
        expect(byType(made, "RealServers").flatMap((l) => l.inputs.realServers)).toHaveLength(6);
        // Only what is known now: an Output port hides the real servers' rules, not the service's scheduler check
        // of a plain value.
        const e = await failure({
            ...staging(), nodes: undefined, services: {
                web: {
                    protocol: "tcp", address: "10.0.0.251", port: pulumi.output(80), scheduler: "rr", wieght: 1,
                    realServers: [
                        { address: pulumi.output("10.1.0.21"), forwarding: "nat" },
                        { address: "10.1.0.22", port: pulumi.output(8251), forwarding: "nat" },
                        { address: "10.1.0.23", forwarding: "nat", weight: -1 },
                        { address: "10.1.0.23", forwarding: "nat" },
                    ],
                },
            },
        });
        expect(problems(e)).toEqual([
            expect.stringMatching(/^services\.web\.wieght: unknown field "wieght"/),
            "services.web.realServers[0].address: must be a plain value here, not an Output " +
                "(it decides which hosts are prepared)",
            "services.web.realServers[1].port: must be a plain value here, not an Output " +
                "(it names the real server's resources)",
            // The service's port is unknown: the real servers' rules wait for the resources' checks, and so does
            // the twice declared one.
        ]);
    });

    it("names every problem at once: sync without a backup, a bad VIP, a dr host without a node, " +
        "a twice declared real server, one host in dr and tun, an unused node", async () => {
        const e = await failure({
            ...staging(),
            backup: undefined,
            services: {
                a: { protocol: "tcp", address: "10.0.0.300", port: 80, realServers: [] },
                b: {
                    protocol: "tcp", address: "10.0.0.252", port: 80, realServers: [
                        { address: "10.0.0.23" }, { address: "10.0.0.21", forwarding: "dr" },
                        { address: "10.0.0.21", port: 80 },
                    ],
                },
                c: {
                    protocol: "tcp", address: "10.0.0.253", port: 80,
                    realServers: [{ address: "10.0.0.21", forwarding: "tun" }],
                },
            },
            nodes: {
                "10.0.0.21": { connection: connection("rs1"), arpInterface: "lan0" },
                "10.0.0.99": { connection: connection("rs9"), arpInterface: "lan0" },
            },
        });
        expect(pulumi.RunError.isInstance(e)).toBe(true);
        expect(e.message).toBe([
            "Cluster staging:",
            "  sync: connection sync needs a backup director",
            '  services.a.address: "10.0.0.300" is not an IPv4 or IPv6 address',
            '  services.b.realServers[0]: 10.0.0.23 is forwarded by dr, so its host must be prepared: ' +
                'give nodes["10.0.0.23"] (connection and arpInterface)',
            "  services.b.realServers[2]: 10.0.0.21 port 80 is declared twice in this service (also realServers[1])",
            "  services.c.realServers[0]: 10.0.0.21 is forwarded by tun here " +
                "and by dr in services.b.realServers[1]: one host takes part in one of them",
            '  nodes["10.0.0.99"]: no real server forwarded by dr or tun has address 10.0.0.99, ' +
                'so nothing would be prepared on it ' +
                '(nodes are keyed by the address the services give their real servers)',
        ].join("\n"));
    });

    it("refuses declarations of the wrong shape without a TypeError", async () => {
        expect(problems(await failure(undefined))).toEqual(["undefined is not a cluster declaration"]);
        expect(problems(await failure({ director: "d1", services: { web: null }, nodes: [] }))).toEqual([
            'director: "d1" is not a director: give its connection and interface',
            'services.web: null is not a service',
            'nodes: [] is not a record of nodes by real-server address',
        ]);
        // Nodes are not called unused when some service's real servers could not be read.
        expect(problems(await failure({ ...staging(), services: {} })))
            .toEqual(["services: declare at least one service (a record of services by name)"]);
        expect(problems(await failure({
            ...staging(), services: { d: { protocol: "tcp", address: "10.0.0.254", port: 80 } },
        }))).toEqual(["services.d.realServers: undefined is not a list of real servers"]);
        expect(problems(await failure({
            ...staging(),
            services: { d: { protocol: "tcp", address: "10.0.0.254", port: 80, realServers: [null, "10.0.0.21"] } },
        }))).toEqual([
            "services.d.realServers[0]: null is not a real server: give at least its address",
            'services.d.realServers[1]: "10.0.0.21" is not a real server: give at least its address',
        ]);
    });
});
