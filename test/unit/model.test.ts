// The shared model (provider/model): validation tables for services, real servers and sync daemons
// (each failure names the property, the value and the rule), ipvsadm's defaults, canonical addresses
// and service names. The limits are ipvsadm 1.31's and the 6.1 kernel's, as the lab shows them (ipvsadm
// refuses what is listed invalid here, unless a row says the model is deliberately stricter).
import { describe, expect, it } from "vitest";
import * as model from "../../provider/model";
import type { Daemon } from "../../provider/model";
import { SCHEDULERS } from "../../provider/model";

type Row<T> = [name: string, spec: T, property: string, words: string[]];

/** Exactly one failure, on `property`, whose reason holds every word (the value and the rule). */
function expectOne(failures: model.Failure[], property: string, words: string[]) {
    expect(failures.map((f) => f.property)).toEqual([property]);
    for (const w of words) expect(failures[0].reason).toContain(w);
}

const tcp = (address: string, port: number): model.ServiceSpec => ({ protocol: "tcp", address, port });

describe("services", () => {
    const valid: Array<[string, model.ServiceSpec]> = [
        ["tcp IPv4", tcp("10.0.0.1", 80)],
        ["udp IPv6 rr", { protocol: "udp", address: "fd00::1", port: 53, scheduler: "rr" }],
        ["sctp", { protocol: "sctp", address: "10.0.0.1", port: 3868 }],
        ["port 65535", tcp("10.0.0.1", 65535)],
        ["port 0 when persistent", { ...tcp("10.0.0.1", 0), persistence: {} }],
        ["fwmark 1", { fwmark: 1 }],
        ["fwmark 2^32-1, inet6", { fwmark: 0xffffffff, family: "inet6" }],
        ["family given and matching", { ...tcp("10.0.0.1", 80), family: "inet" }],
        ["persistence at ipvsadm's limits",
            { ...tcp("10.0.0.1", 443), persistence: { timeout: 2678400, netmask: "255.255.255.0" } }],
        ["persistence timeout 1", { ...tcp("10.0.0.1", 443), persistence: { timeout: 1 } }],
        ["netmask 0.0.0.0 (one template for all clients; ipvsadm -M 0.0.0.0)",
            { ...tcp("10.0.0.1", 443), persistence: { netmask: "0.0.0.0" } }],
        ["netmask 128.0.0.0", { ...tcp("10.0.0.1", 443), persistence: { netmask: "128.0.0.0" } }],
        ["IPv6 prefix 1", { ...tcp("fd00::1", 443), persistence: { netmask: 1 } }],
        ["IPv6 prefix 128", { ...tcp("fd00::1", 443), persistence: { netmask: 128 } }],
        ["fwmark inet6 prefix 64", { fwmark: 7, family: "inet6", persistence: { netmask: 64 } }],
        ["sh with both flags", { ...tcp("10.0.0.1", 80), scheduler: "sh", schedulerFlags: ["sh-fallback", "sh-port"] }],
        ["mh-port", { ...tcp("10.0.0.1", 80), scheduler: "mh", schedulerFlags: ["mh-port"] }],
        ["sip on udp", { protocol: "udp", address: "10.0.0.1", port: 5060, persistence: { engine: "sip" } }],
        ["one-packet udp", { protocol: "udp", address: "10.0.0.1", port: 514, onePacket: true }],
        ["one-packet fwmark (ipvsadm -A -f 4001 -o)", { fwmark: 4001, onePacket: true }],
        ...SCHEDULERS.map((s): [string, model.ServiceSpec] =>
            [`scheduler ${s}`, { ...tcp("10.0.0.1", 80), scheduler: s }]),
    ];
    it.each(valid)("accepts %s", (_, s) => {
        expect(model.validateService(s)).toEqual([]);
    });

    const invalid: Array<Row<model.ServiceSpec>> = [
        ["protocol icmp", { ...tcp("10.0.0.1", 80), protocol: "icmp" as never }, "protocol",
            ['"icmp"', '"tcp", "udp" or "sctp"']],
        ["no protocol", { address: "10.0.0.1", port: 80 }, "protocol", ["undefined", "fwmark"]],
        ["address out of range", tcp("10.0.0.256", 80), "address", ['"10.0.0.256"', "IPv4 or IPv6 address"]],
        ["address with leading zeros", tcp("010.0.0.1", 80), "address", ['"010.0.0.1"']],
        ["IPv6 address with a zone (ipvsadm: illegal virtual server address)", tcp("fe80::1%lo", 80), "address",
            ['"fe80::1%lo"', "IPv4 or IPv6 address"]],
        ["a host name", tcp("www.example.com", 80), "address", ['"www.example.com"']],
        ["port 65536", tcp("10.0.0.1", 65536), "port", ["65536", "0 to 65535"]],
        ["port -1", tcp("10.0.0.1", -1), "port", ["-1", "0 to 65535"]],
        ["port 80.5", tcp("10.0.0.1", 80.5), "port", ["80.5", "integer"]],
        ["port as text", tcp("10.0.0.1", "80" as never), "port", ['"80"', "integer"]],
        ["port 0 not persistent (ipvsadm: zero port for non-persistent service)", tcp("10.0.0.1", 0), "port",
            ["port 0", "persistence"]],
        ["family against the address", { ...tcp("10.0.0.1", 80), family: "inet6" }, "family", ['"inet6"', "10.0.0.1"]],
        ["fwmark 0 (ipvsadm: invalid fwmark value)", { fwmark: 0 }, "fwmark", ["0", "1 to 4294967295"]],
        ["fwmark 2^32", { fwmark: 2 ** 32 }, "fwmark", ["4294967296", "1 to 4294967295"]],
        ["fwmark with an address", { fwmark: 1, address: "10.0.0.1" }, "address", ["fwmark service has no address"]],
        ["fwmark family ipv6", { fwmark: 1, family: "ipv6" as never }, "family", ['"ipv6"', '"inet" or "inet6"']],
        ["scheduler roundrobin", { ...tcp("10.0.0.1", 80), scheduler: "roundrobin" as never }, "scheduler",
            ['"roundrobin"', "wlc"]],
        ["sh-port on rr (ipvsadm: incompatible scheduler flag)",
            { ...tcp("10.0.0.1", 80), scheduler: "rr", schedulerFlags: ["sh-port"] }, "schedulerFlags",
            ["sh-port", "sh scheduler", "rr"]],
        ["sh-port on the default wlc", { ...tcp("10.0.0.1", 80), schedulerFlags: ["sh-port"] }, "schedulerFlags",
            ["sh-port", "wlc"]],
        ["unknown flag", { ...tcp("10.0.0.1", 80), scheduler: "sh", schedulerFlags: ["sh-sticky" as never] },
            "schedulerFlags", ['"sh-sticky"', "sh-fallback"]],
        ["flags as one word, not a list",
            { ...tcp("10.0.0.1", 80), scheduler: "sh", schedulerFlags: "sh-port" as never }, "schedulerFlags",
            ['"sh-port"', "not a list of scheduler flags"]],
        ["persistence timeout 0 (ipvsadm: invalid timeout)", { ...tcp("10.0.0.1", 80), persistence: { timeout: 0 } },
            "persistence.timeout", ["0", "1 to 2678400"]],
        ["persistence timeout over 31 days (ipvsadm: invalid timeout)",
            { ...tcp("10.0.0.1", 80), persistence: { timeout: 2678401 } }, "persistence.timeout",
            ["2678401", "1 to 2678400"]],
        ["non-contiguous netmask (ipvsadm takes it; the model is stricter)",
            { ...tcp("10.0.0.1", 80), persistence: { netmask: "255.0.255.0" } }, "persistence.netmask",
            ['"255.0.255.0"', "contiguous"]],
        ["prefix length on IPv4", { ...tcp("10.0.0.1", 80), persistence: { netmask: 24 } }, "persistence.netmask",
            ["24", "IPv4 netmask"]],
        ["IPv6 prefix 0 (ipvsadm: illegal ipv6 netmask)", { ...tcp("fd00::1", 80), persistence: { netmask: 0 } },
            "persistence.netmask", ["0", "1 to 128"]],
        ["IPv6 prefix 129", { ...tcp("fd00::1", 80), persistence: { netmask: 129 } }, "persistence.netmask",
            ["129", "1 to 128"]],
        ["dotted mask on IPv6", { ...tcp("fd00::1", 80), persistence: { netmask: "255.255.255.0" } },
            "persistence.netmask", ['"255.255.255.0"', "IPv6 prefix length"]],
        ["engine http", { protocol: "udp", address: "10.0.0.1", port: 80, persistence: { engine: "http" as never } },
            "persistence.engine", ['"http"', '"sip"']],
        ["sip on tcp (ipvsadm takes it; the engine only parses UDP)",
            { ...tcp("10.0.0.1", 5060), persistence: { engine: "sip" } }, "persistence.engine", ["UDP", "tcp"]],
        ["one-packet tcp (ipvsadm: only for UDP virtual services)", { ...tcp("10.0.0.1", 80), onePacket: true },
            "onePacket", ["UDP", "tcp"]],
        ["one-packet as text", { protocol: "udp", address: "10.0.0.1", port: 80, onePacket: "yes" as never },
            "onePacket", ['"yes"', "boolean"]],
    ];
    it.each(invalid)("refuses %s", (_, s, property, words) => {
        expectOne(model.validateService(s), property, words);
    });

    it("reports every failure of one service, each on its own property", () => {
        expect(model.validateService({ protocol: "icmp" as never, address: "x", port: 1e6 }).map((f) => f.property))
            .toEqual(["protocol", "address", "port"]);
    });
});

describe("real servers", () => {
    const svc4 = tcp("10.0.0.1", 80);
    const svc6 = tcp("fd00::1", 80);
    const fwm = { fwmark: 7 };
    const valid: Array<[string, model.RealServerSpec, model.ServiceKey]> = [
        ["defaults", { address: "10.0.0.21" }, svc4],
        ["dr with the service's port", { address: "10.0.0.21", port: 80 }, svc4],
        ["nat with a port mapping", { address: "10.1.0.21", port: 8080, forwarding: "nat" }, svc4],
        ["nat to port 0 (ipvsadm keeps 0)", { address: "10.1.0.21", port: 0, forwarding: "nat" }, svc4],
        ["weight 0", { address: "10.0.0.21", weight: 0 }, svc4],
        ["weight 65536 and INT_MAX (ipvsadm -w takes up to 2147483647)", { address: "10.0.0.21", weight: 2147483647 },
            svc4],
        ["thresholds", { address: "10.0.0.21", upperThreshold: 10, lowerThreshold: 5 }, svc4],
        ["equal thresholds (ipvsadm -x 10 -y 10)", { address: "10.0.0.21", upperThreshold: 10, lowerThreshold: 10 },
            svc4],
        ["upper threshold INT_MAX", { address: "10.0.0.21", upperThreshold: 2147483647 }, svc4],
        ["IPv6 in IPv6", { address: "fd00::21" }, svc6],
        ["IPv4 real server of an IPv6 service through a tunnel", { address: "10.0.0.22", forwarding: "tun" }, svc6],
        ["gue with port and csum",
            { address: "10.0.0.22", forwarding: "tun", tunnel: { type: "gue", port: 6080, checksum: "csum" } }, svc4],
        ["gue remcsum",
            { address: "10.0.0.22", forwarding: "tun", tunnel: { type: "gue", port: 5555, checksum: "remcsum" } },
            svc4],
        ["gre nocsum", { address: "10.0.0.22", forwarding: "tun", tunnel: { type: "gre", checksum: "nocsum" } }, svc4],
        ["fwmark service, any port", { address: "10.1.0.21", port: 8080, forwarding: "nat" }, fwm],
    ];
    it.each(valid)("accepts %s", (_, r, s) => {
        expect(model.validateRealServer(r, s)).toEqual([]);
    });

    const invalid: Array<Row<model.RealServerSpec>> = [
        ["address out of range", { address: "10.0.0.300" }, "address", ['"10.0.0.300"', "IPv4 or IPv6 address"]],
        ["address with a zone", { address: "fe80::21%lan0", forwarding: "tun" }, "address", ['"fe80::21%lan0"']],
        ["IPv6 real server of an IPv4 service by dr", { address: "fd00::21" }, "address",
            ["fd00::21", "inet6", "inet", '"tun"']],
        ["forwarding masq", { address: "10.0.0.21", forwarding: "masq" as never }, "forwarding",
            ['"masq"', '"dr", "tun" or "nat"']],
        ["dr to another port", { address: "10.0.0.21", port: 8080 }, "port", ["8080", "80", '"nat"']],
        ["port 70000", { address: "10.0.0.21", port: 70000, forwarding: "nat" }, "port", ["70000", "0 to 65535"]],
        ["weight -1 (ipvsadm: illegal weight)", { address: "10.0.0.21", weight: -1 }, "weight",
            ["-1", "0 to 2147483647"]],
        ["weight 2^31 (ipvsadm: illegal weight)", { address: "10.0.0.21", weight: 2147483648 }, "weight",
            ["2147483648", "0 to 2147483647"]],
        ["weight 1.5", { address: "10.0.0.21", weight: 1.5 }, "weight", ["1.5"]],
        ["upper threshold 2^31 (ipvsadm: illegal u_threshold)", { address: "10.0.0.21", upperThreshold: 2147483648 },
            "upperThreshold", ["2147483648", "0 (none) to 2147483647"]],
        ["lower threshold alone (kernel: ERANGE)", { address: "10.0.0.21", lowerThreshold: 5 }, "lowerThreshold",
            ["5", "needs an upper threshold"]],
        ["lower above upper", { address: "10.0.0.21", upperThreshold: 10, lowerThreshold: 11 }, "lowerThreshold",
            ["11", "above the upper threshold 10"]],
        ["tunnel settings with dr", { address: "10.0.0.21", tunnel: { type: "gre" } }, "tunnel", ['"tun"', '"dr"']],
        ["tunnel type vxlan", { address: "10.0.0.21", forwarding: "tun", tunnel: { type: "vxlan" as never } },
            "tunnel.type", ['"vxlan"', '"ipip", "gue" or "gre"']],
        ["gue without its port", { address: "10.0.0.21", forwarding: "tun", tunnel: { type: "gue" } }, "tunnel.port",
            ["GUE", "1 to 65535"]],
        ["ipip with a port", { address: "10.0.0.21", forwarding: "tun", tunnel: { port: 6080 } }, "tunnel.port",
            ["only a GUE tunnel"]],
        ["ipip with a checksum (ipvsadm: illegal with the ipip tunnel type)",
            { address: "10.0.0.21", forwarding: "tun", tunnel: { checksum: "nocsum" } }, "tunnel.checksum", ["ipip"]],
        ["gre remcsum", { address: "10.0.0.21", forwarding: "tun", tunnel: { type: "gre", checksum: "remcsum" } },
            "tunnel.checksum", ["remcsum", "GUE"]],
    ];
    it.each(invalid)("refuses %s", (_, r, property, words) => {
        expectOne(model.validateRealServer(r, svc4), property, words);
    });
});

describe("sync daemons", () => {
    const master: Daemon = { state: "master", mcastInterface: "lan0", syncId: 0 };
    const valid: Array<[string, Daemon]> = [
        ["the least", master],
        ["backup, every field at ipvsadm's limits",
            { state: "backup", mcastInterface: "x".repeat(15), syncId: 255, syncMaxlen: 65507,
                mcastGroup: "239.255.255.255", mcastPort: 65535, mcastTtl: 255 }],
        ["IPv6 group", { ...master, mcastGroup: "ff02::51", mcastPort: 1, mcastTtl: 1, syncMaxlen: 1 }],
        ["interface with a dot and a dash", { ...master, mcastInterface: "br-lan.100" }],
    ];
    it.each(valid)("accepts %s", (_, d) => {
        expect(model.validateDaemon(d)).toEqual([]);
    });

    const invalid: Array<Row<Partial<Daemon>>> = [
        ["state primary", { state: "primary" as never }, "state", ['"primary"', '"master" or "backup"']],
        // One rule for every interface name (provider/model/interface.ts), in its own words.
        ["empty interface", { mcastInterface: "" }, "mcastInterface", ['""', "1-15"]],
        ["16-character interface", { mcastInterface: "x".repeat(16) }, "mcastInterface", ["x".repeat(16), "1-15"]],
        ["interface with a slash", { mcastInterface: "a/b" }, "mcastInterface", ['"a/b"', "'/'"]],
        ["interface with a colon (an alias, not a device)", { mcastInterface: "lan0:1" }, "mcastInterface",
            ['"lan0:1"', "':'"]],
        ["interface with a space", { mcastInterface: "lan 0" }, "mcastInterface", ['"lan 0"']],
        ["interface ..", { mcastInterface: ".." }, "mcastInterface", ['".."']],
        ["sync id 256 (ipvsadm: illegal syncid)", { syncId: 256 }, "syncId", ["256", "0 to 255"]],
        ["sync maxlen 0 (ipvsadm: illegal sync-maxlen)", { syncMaxlen: 0 }, "syncMaxlen", ["0", "1 to 65507"]],
        ["sync maxlen 65508 (ipvsadm: illegal sync-maxlen)", { syncMaxlen: 65508 }, "syncMaxlen",
            ["65508", "1 to 65507"]],
        ["unicast group (ipvsadm: invalid IPv4 mcast-group)", { mcastGroup: "10.0.0.1" }, "mcastGroup",
            ['"10.0.0.1"', "multicast"]],
        ["unicast IPv6 group", { mcastGroup: "fd00::1" }, "mcastGroup", ['"fd00::1"', "ff00::/8"]],
        ["port 0 (ipvsadm: illegal mcast-port)", { mcastPort: 0 }, "mcastPort", ["0", "1 to 65535"]],
        ["ttl 0 (ipvsadm: illegal mcast-ttl)", { mcastTtl: 0 }, "mcastTtl", ["0", "1 to 255"]],
        ["ttl 256", { mcastTtl: 256 }, "mcastTtl", ["256", "1 to 255"]],
    ];
    it.each(invalid)("refuses %s", (_, d, property, words) => {
        expectOne(model.validateDaemon({ ...master, ...d } as Daemon), property, words);
    });

    it("daemonDiff compares only what was declared, groups canonically", () => {
        const live: Daemon = { state: "master", mcastInterface: "lan0", syncId: 1, syncMaxlen: 1472,
            mcastGroup: "ff02::51", mcastPort: 8848, mcastTtl: 1 };
        expect(model.daemonDiff({ state: "master", mcastInterface: "lan0", syncId: 1, mcastGroup: "FF02:0::51" }, live))
            .toEqual([]);
        expect(model.daemonDiff({ state: "master", mcastInterface: "lan0", syncId: 2, mcastTtl: 2 }, live))
            .toEqual(["syncId 1 -> 2", "mcastTtl 1 -> 2"]);
    });
});

describe("ipvsadm's defaults", () => {
    it("a service: wlc, not persistent, no flags, the kernel's netmask", () => {
        expect(model.normalizeService(tcp("10.0.0.1", 80))).toEqual({
            family: "inet", protocol: "tcp", address: "10.0.0.1", port: 80, scheduler: "wlc", schedFlags: 0,
            persistent: false, onePacket: false, persistenceTimeout: 0, netmask: "255.255.255.255",
        });
    });
    it("a persistent service: 360 s (ipvsadm -p), /32; IPv6 /128; fwmark family inet", () => {
        expect(model.normalizeService({ ...tcp("10.0.0.1", 0), persistence: {} }))
            .toMatchObject({ persistent: true, persistenceTimeout: 360, netmask: "255.255.255.255" });
        expect(model.normalizeService({ ...tcp("FD00:0::1", 443), persistence: { timeout: 60 } }))
            .toMatchObject({ family: "inet6", address: "fd00::1", persistenceTimeout: 60, netmask: 128 });
        expect(model.normalizeService({ fwmark: 7 })).toEqual(expect.objectContaining({ family: "inet", fwmark: 7 }));
        expect(model.normalizeService({ fwmark: 7 })).not.toHaveProperty("address");
    });
    it("engine, flags and one-packet are carried", () => {
        expect(model.normalizeService({ protocol: "udp", address: "10.0.0.1", port: 5060, onePacket: true,
            persistence: { engine: "sip" } }))
            .toMatchObject({ onePacket: true, persistenceEngine: "sip" });
        expect(model.normalizeService({ ...tcp("10.0.0.1", 80), scheduler: "sh",
            schedulerFlags: ["sh-fallback", "sh-port"] }).schedFlags).toBe(0x8 | 0x10); // IP_VS_SVC_F_SCHED1 | SCHED2
    });
    it("a real server: dr, weight 1, no thresholds, the service's port (0 under a fwmark)", () => {
        expect(model.normalizeRealServer({ address: "10.0.0.21" }, tcp("10.0.0.1", 80))).toEqual({
            address: "10.0.0.21", port: 80, addressFamily: "inet", forwarding: "dr", weight: 1, upperThreshold: 0,
            lowerThreshold: 0,
        });
        expect(model.normalizeRealServer({ address: "10.0.0.21" }, { fwmark: 7 }).port).toBe(0);
        expect(model.normalizeRealServer({ address: "10.1.0.21", port: 8080, forwarding: "nat", weight: 0 },
            tcp("10.0.0.1", 80)))
            .toMatchObject({ port: 8080, forwarding: "nat", weight: 0 });
    });
    it("a tunnel: ipip and port 0 unless told; checksum only when given", () => {
        expect(model.normalizeRealServer({ address: "10.0.0.22", forwarding: "tun" }, tcp("FD00::1", 80)))
            .toEqual({ address: "10.0.0.22", port: 80, addressFamily: "inet", forwarding: "tun", weight: 1,
                upperThreshold: 0, lowerThreshold: 0, tunnelType: "ipip", tunnelPort: 0 });
        expect(model.normalizeRealServer({ address: "10.0.0.22", forwarding: "tun",
            tunnel: { type: "gue", port: 6080, checksum: "remcsum" } }, tcp("10.0.0.1", 80)))
            .toMatchObject({ tunnelType: "gue", tunnelPort: 6080, tunnelFlags: "remcsum" });
    });
});

describe("addresses and names", () => {
    it.each([
        ["10.0.0.1", "10.0.0.1"], ["FD00::1", "fd00::1"], ["fd00:0:0:0:0:0:0:1", "fd00::1"],
        ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
        ["::", "::"], ["::1", "::1"], ["fe80:0000::0001", "fe80::1"], ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
        ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ])("canonicalAddress(%j) is %j (inet_ntop's form)", (a, want) => {
        expect(model.canonicalAddress(a)).toBe(want);
    });

    it.each([
        [tcp("10.0.0.1", 80), "tcp/10.0.0.1:80"],
        [{ protocol: "udp", address: "fd00::1", port: 53 } as model.ServiceKey, "udp/[fd00::1]:53"],
        [{ protocol: "sctp", address: "10.0.0.1", port: 0 } as model.ServiceKey, "sctp/10.0.0.1:0"],
        [{ fwmark: 7 }, "fwmark/inet/7"],
        [{ fwmark: 7, family: "inet6" } as model.ServiceKey, "fwmark/inet6/7"],
    ])("serviceName(%j) is %j", (k, want) => {
        expect(model.serviceName(k)).toBe(want);
    });

    it("one service, however its address is spelt, has one name through serviceId", () => {
        expect(model.serviceName(model.serviceId(tcp("FD00:0::1", 80))))
            .toBe(model.serviceName(model.serviceId(tcp("fd00::1", 80))));
    });
});
