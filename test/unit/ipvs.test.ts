// The IPVS codec without a kernel: pack -> unpack round trips (property based), golden bytes for the
// fields whose byte order is easy to get wrong, the errno table and the scheduler flag names.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as os from "os";
import {
    attr, describeService, IPVS, IpvsError, ipvsMessage, nest, packAddress, packDaemon, packDestination,
    packDestinationId, packService, packServiceId, packTimeouts, parseAttrs, requests, unpackAddress, unpackDaemon,
    unpackDestination, unpackService, unpackStats, unpackTimeouts, unpackInfo,
} from "../../provider/agent/ipvs";
import { schedFlagBits, schedFlagNames } from "../../provider/model/schedulers";
import type { Daemon, RealServer, Timeouts, VirtualService } from "../../provider/model/types";

const LE = os.endianness() === "LE";
const hex = (b: Buffer | Buffer[]) => (Array.isArray(b) ? Buffer.concat(b) : b).toString("hex");
const u32h = (v: number) => {
    const b = Buffer.alloc(4); LE ? b.writeUInt32LE(v) : b.writeUInt32BE(v); return b.toString("hex");
};
const u16h = (v: number) => {
    const b = Buffer.alloc(2); LE ? b.writeUInt16LE(v) : b.writeUInt16BE(v); return b.toString("hex");
};
const u64 = (v: bigint) => { const b = Buffer.alloc(8); LE ? b.writeBigUInt64LE(v) : b.writeBigUInt64BE(v); return b; };
const u32 = (v: number) => Buffer.from(u32h(v), "hex");

// ---- generators: addresses come out in canonical form, as the kernel's answers are unpacked

// IPv6 bytes with long zero runs often, so that "::" compression and its edge cases get exercised
const word = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
const ipv6Bytes = fc.array(word, { minLength: 8, maxLength: 8 }).map(ws => {
    const b = Buffer.alloc(16);
    ws.forEach((w, i) => b.writeUInt16BE(w, i * 2));
    return b;
});
const ipv4 = fc.ipV4();
const ipv6 = ipv6Bytes.map(b => unpackAddress("inet6", b));
const addressOf = (family: "inet" | "inet6") => (family === "inet" ? ipv4 : ipv6);
const family = fc.constantFrom("inet" as const, "inet6" as const);
const u32Arb = fc.integer({ min: 0, max: 0xffffffff });
const port = fc.integer({ min: 0, max: 65535 });
const schedName = fc.constantFrom(
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh");

const service: fc.Arbitrary<VirtualService> = family.chain(f => fc.record({
    id: fc.oneof(
        fc.record({ family: fc.constant(f), fwmark: fc.integer({ min: 1, max: 0xffffffff }) }),
        fc.record({
            family: fc.constant(f), protocol: fc.constantFrom("tcp" as const, "udp" as const, "sctp" as const),
            address: addressOf(f), port,
        }),
    ),
    scheduler: schedName,
    persistent: fc.boolean(),
    onePacket: fc.boolean(),
    schedFlags: fc.subarray([IPVS.svcFlag.SCHED1, IPVS.svcFlag.SCHED2, IPVS.svcFlag.SCHED3])
        .map(bs => bs.reduce((a, b) => a | b, 0)),
    persistenceTimeout: u32Arb,
    netmask: f === "inet" ? ipv4 as fc.Arbitrary<string | number> : fc.integer({ min: 0, max: 128 }),
    persistenceEngine: fc.option(fc.constantFrom("sip", "x"), { nil: undefined }),
})).map(({ id, persistenceEngine, ...rest }) => {
    const s: VirtualService = { ...id, ...rest };
    if (persistenceEngine !== undefined) s.persistenceEngine = persistenceEngine;
    return s;
});

const destination: fc.Arbitrary<RealServer> = family.chain(f => fc.record({
    address: addressOf(f),
    port,
    addressFamily: fc.constant(f),
    weight: u32Arb,
    upperThreshold: u32Arb,
    lowerThreshold: u32Arb,
    forwarding: fc.constantFrom("nat" as const, "local" as const, "tun" as const, "dr" as const),
    tunnel: fc.record({
        tunnelType: fc.constantFrom("ipip" as const, "gue" as const, "gre" as const),
        tunnelPort: port,
        tunnelFlags: fc.constantFrom("nocsum" as const, "csum" as const, "remcsum" as const),
    }),
})).map(({ tunnel, ...d }) => (d.forwarding === "tun" ? { ...d, ...tunnel } : d));

const daemon: fc.Arbitrary<Daemon> = fc.record({
    state: fc.constantFrom("master" as const, "backup" as const),
    mcastInterface: fc.stringMatching(/^[a-z][a-z0-9.@-]{0,14}$/),
    syncId: u32Arb,
    syncMaxlen: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    mcastGroup: fc.option(fc.oneof(ipv4, ipv6), { nil: undefined }),
    mcastPort: fc.option(port, { nil: undefined }),
    mcastTtl: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
}, { requiredKeys: ["state", "mcastInterface", "syncId"] }).map(d =>
    Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) as unknown as Daemon);

const positive = fc.integer({ min: 1, max: 0xffffffff });

describe("pack -> unpack round trips", () => {
    it("virtual services: IPv4, IPv6, fwmark, every setting", () => {
        fc.assert(fc.property(service, s => {
            expect(unpackService(Buffer.concat(packService(s)))).toEqual(s);
        }), { numRuns: 2000 });
    });

    it("virtual services inside a whole NEW_SERVICE message", () => {
        fc.assert(fc.property(service, s => {
            const msg = requests.addService(s);
            expect(msg[0]).toBe(IPVS.cmd.NEW_SERVICE);
            const top = parseAttrs(msg.subarray(4));
            expect(unpackService(top.get(IPVS.cmdAttr.SERVICE)!)).toEqual(s);
        }), { numRuns: 300 });
    });

    it("real servers: every forwarding method, tunnels, thresholds, both families", () => {
        fc.assert(fc.property(destination, d => {
            expect(unpackDestination(Buffer.concat(packDestination(d)))).toEqual(d);
        }), { numRuns: 2000 });
    });

    it("real server identity alone keeps address, port and family", () => {
        fc.assert(fc.property(destination, d => {
            const a = parseAttrs(Buffer.concat(packDestinationId(d)));
            expect([...a.keys()].sort((x, y) => x - y))
                .toEqual([IPVS.destAttr.ADDR, IPVS.destAttr.PORT, IPVS.destAttr.ADDR_FAMILY]);
            expect(unpackAddress(d.addressFamily, a.get(IPVS.destAttr.ADDR)!)).toBe(d.address);
        }));
    });

    it("sync daemons, with and without the optional settings, IPv4 and IPv6 groups", () => {
        fc.assert(fc.property(daemon, d => {
            expect(unpackDaemon(Buffer.concat(packDaemon(d)))).toEqual(d);
        }), { numRuns: 1000 });
    });

    it("timeouts: all three, and a partial set sends only what it names", () => {
        fc.assert(fc.property(positive, positive, positive, (tcp, tcpFin, udp) => {
            const t: Timeouts = { tcp, tcpFin, udp };
            expect(unpackTimeouts(Buffer.concat(packTimeouts(t)))).toEqual(t);
        }));
        fc.assert(fc.property(fc.option(positive, { nil: undefined }), fc.option(positive, { nil: undefined }),
            (tcp, udp) => {
                const a = parseAttrs(Buffer.concat(packTimeouts({ tcp, udp })));
                expect(a.has(IPVS.cmdAttr.TIMEOUT_TCP)).toBe(tcp !== undefined);
                expect(a.has(IPVS.cmdAttr.TIMEOUT_TCP_FIN)).toBe(false);
                expect(a.has(IPVS.cmdAttr.TIMEOUT_UDP)).toBe(udp !== undefined);
            }));
    });

    it("IPv6 text: bytes -> text -> bytes is the identity", () => {
        fc.assert(fc.property(ipv6Bytes, b => {
            expect(packAddress("inet6", unpackAddress("inet6", b)).equals(b)).toBe(true);
        }), { numRuns: 3000 });
    });

    it("IPv6 text is the canonical compressed form (the WHATWG URL serializer agrees, bar dotted tails)", () => {
        fc.assert(fc.property(ipv6Bytes, b => {
            const text = unpackAddress("inet6", b);
            if (text.includes(".")) return; // glibc-style ::a.b.c.d / ::ffff:a.b.c.d, checked below
            expect(text).toBe(new URL(`http://[${text.toUpperCase()}]/`).hostname.slice(1, -1));
        }), { numRuns: 3000 });
    });

    it("IPv4 text: bytes -> text -> bytes", () => {
        fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), a => {
            const b = Buffer.concat([Buffer.from(a), Buffer.alloc(12)]);
            expect(packAddress("inet", unpackAddress("inet", b)).equals(b)).toBe(true);
        }));
    });
});

describe("addresses", () => {
    it.each([
        ["FD00:0:0::0200", "fd00::200"],
        ["fd00:0000:0000:0000:0000:0000:0000:0219", "fd00::219"],
        ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
        ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
        ["0:0:0:0:0:0:0:0", "::"],
        ["0::1", "::1"],
        ["1:0:0:0:0:0:0:0", "1::"],
        ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
        ["::FFFF:a00:1", "::ffff:10.0.0.1"],
        ["::10.0.0.1", "::10.0.0.1"],
        ["fe80::1:2", "fe80::1:2"],
    ])("%s unpacks as %s", (input, canonical) => {
        expect(unpackAddress("inet6", packAddress("inet6", input))).toBe(canonical);
    });

    it.each(["10.0.0.256", "10.0.0", "10.0.0.01", "a.b.c.d", "fd00::1"])("%s is not IPv4", text => {
        expect(() => packAddress("inet", text)).toThrow(/not an IPv4 address/);
    });
    it.each(["fd00:::1", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "fe80::1%eth0", "10.0.0.1",
        "::1:2:3:4:5:6:7:8"])(
        "%s is not IPv6", text => {
            expect(() => packAddress("inet6", text)).toThrow(/not an IPv6 address/);
        });
});

describe("golden bytes", () => {
    it("service identity: AF u16 host order, PROTOCOL u16, ADDR 16 bytes, PORT big-endian", () => {
        const b = packServiceId({ family: "inet", protocol: "tcp", address: "10.0.0.200", port: 80 });
        expect(hex(b[0])).toBe(u16h(6) + u16h(1) + u16h(2) + "0000");
        expect(hex(b[1])).toBe(u16h(6) + u16h(2) + u16h(6) + "0000");
        expect(hex(b[2])).toBe(u16h(20) + u16h(3) + "0a0000c8" + "00".repeat(12));
        expect(hex(b[3])).toBe(u16h(6) + u16h(4) + "0050" + "0000");
        expect(b).toHaveLength(4);
    });

    it("fwmark identity: AF and FWMARK (u32 host order) only", () => {
        const b = packServiceId({ family: "inet6", fwmark: 2000 });
        expect(hex(b)).toBe(u16h(6) + u16h(1) + u16h(10) + "0000" + u16h(8) + u16h(5) + u32h(2000));
    });

    it("flags struct is {flags, mask} in host order, mask all ones; IPv4 netmask bytes in network order", () => {
        const a = parseAttrs(Buffer.concat(packService({
            family: "inet", protocol: "udp", address: "10.0.0.201", port: 53, scheduler: "sh", persistent: true,
            onePacket: true, schedFlags: IPVS.svcFlag.SCHED2, persistenceTimeout: 300, netmask: "255.255.255.0",
        })));
        expect(hex(a.get(IPVS.svcAttr.FLAGS)!)).toBe(u32h(0x1 | 0x4 | 0x10) + "ffffffff");
        expect(hex(a.get(IPVS.svcAttr.NETMASK)!)).toBe("ffffff00");
        expect(hex(a.get(IPVS.svcAttr.TIMEOUT)!)).toBe(u32h(300));
        expect(a.get(IPVS.svcAttr.SCHED_NAME)!.toString("latin1")).toBe("sh\0");
        expect(a.has(IPVS.svcAttr.PE_NAME)).toBe(false);
    });

    it("IPv6 netmask is the prefix length as a host-order u32", () => {
        const a = parseAttrs(Buffer.concat(packService({
            family: "inet6", protocol: "tcp", address: "fd00::200", port: 443, scheduler: "wlc", persistent: false,
            onePacket: false, schedFlags: 0, persistenceTimeout: 0, netmask: 64, persistenceEngine: "sip",
        })));
        expect(hex(a.get(IPVS.svcAttr.NETMASK)!)).toBe(u32h(64));
        expect(a.get(IPVS.svcAttr.ADDR)!.toString("hex")).toBe("fd00" + "0".repeat(24) + "0200");
        expect(a.get(IPVS.svcAttr.PE_NAME)!.toString("latin1")).toBe("sip\0");
    });

    it("a whole DEL_SERVICE message: genl header {cmd, version 1, 0}, nested SERVICE with NLA_F_NESTED", () => {
        const m = requests.deleteService({ family: "inet", fwmark: 2001 });
        expect(hex(m)).toBe("03010000" + u16h(4 + 8 + 8) + u16h(0x8001) + u16h(6) + u16h(1) + u16h(2) + "0000" +
            u16h(8) + u16h(5) + u32h(2001));
    });

    it("real server: PORT and TUN_PORT big-endian, TUN_TYPE u8, TUN_FLAGS u16, FWD_METHOD u32", () => {
        const a = parseAttrs(Buffer.concat(packDestination({
            address: "10.0.0.21", port: 8080, addressFamily: "inet", forwarding: "tun", weight: 3,
            upperThreshold: 100, lowerThreshold: 50, tunnelType: "gue", tunnelPort: 6080, tunnelFlags: "csum",
        })));
        const D = IPVS.destAttr;
        expect(hex(a.get(D.PORT)!)).toBe("1f90");
        expect(hex(a.get(D.TUN_PORT)!)).toBe("17c0");
        expect(hex(a.get(D.TUN_TYPE)!)).toBe("01");
        expect(hex(a.get(D.TUN_FLAGS)!)).toBe(u16h(1));
        expect(hex(a.get(D.FWD_METHOD)!)).toBe(u32h(2));
        expect(hex(a.get(D.ADDR_FAMILY)!)).toBe(u16h(2));
        expect(hex(a.get(D.U_THRESH)!) + hex(a.get(D.L_THRESH)!)).toBe(u32h(100) + u32h(50));
    });

    it("tunnel attributes go only with the tun forwarding method", () => {
        const a = parseAttrs(Buffer.concat(packDestination({
            address: "fd00::21", port: 80, addressFamily: "inet6", forwarding: "dr", weight: 1, upperThreshold: 0,
            lowerThreshold: 0, tunnelType: "gue", tunnelPort: 1,
        })));
        expect(a.has(IPVS.destAttr.TUN_TYPE) || a.has(IPVS.destAttr.TUN_PORT) || a.has(IPVS.destAttr.TUN_FLAGS))
            .toBe(false);
    });

    it("daemon: MCAST_PORT host order (not big-endian), MCAST_TTL u8, MCAST_GROUP network order, " +
        "GROUP6 for IPv6", () => {
        const a = parseAttrs(Buffer.concat(packDaemon({
            state: "backup", mcastInterface: "back0", syncId: 7, syncMaxlen: 1200, mcastGroup: "239.1.2.3",
            mcastPort: 8850, mcastTtl: 2,
        })));
        const A = IPVS.daemonAttr;
        expect(hex(a.get(A.STATE)!)).toBe(u32h(2));
        expect(a.get(A.MCAST_IFN)!.toString("latin1")).toBe("back0\0");
        expect(hex(a.get(A.MCAST_PORT)!)).toBe(u16h(8850));
        expect(hex(a.get(A.MCAST_TTL)!)).toBe("02");
        expect(hex(a.get(A.SYNC_MAXLEN)!)).toBe(u16h(1200));
        expect(hex(a.get(A.MCAST_GROUP)!)).toBe("ef010203");
        const b = parseAttrs(Buffer.concat(packDaemon({
            state: "master", mcastInterface: "eth0", syncId: 1, mcastGroup: "ff02::1:81",
        })));
        expect(hex(b.get(A.MCAST_GROUP6)!)).toBe("ff02" + "0".repeat(20) + "00010081");
        expect(b.has(A.MCAST_GROUP)).toBe(false);
    });

    it("attributes are padded to 4 bytes and the length excludes the padding", () => {
        expect(hex(attr(6, Buffer.from("wlc\0")))).toBe(u16h(8) + u16h(6) + "776c6300");
        expect(hex(attr(6, Buffer.from("sh\0")))).toBe(u16h(7) + u16h(6) + "736800" + "00");
    });
});

describe("unpacking what the kernel sends", () => {
    const kernelService = (flags: number, extra: Buffer[] = []) => Buffer.concat([
        attr(IPVS.svcAttr.AF, Buffer.from(u16h(2), "hex")),
        attr(IPVS.svcAttr.PROTOCOL, Buffer.from(u16h(6), "hex")),
        attr(IPVS.svcAttr.ADDR, packAddress("inet", "10.0.0.200")),
        attr(IPVS.svcAttr.PORT, Buffer.from("0050", "hex")),
        attr(IPVS.svcAttr.SCHED_NAME, Buffer.from("wlc\0")),
        attr(IPVS.svcAttr.FLAGS, Buffer.concat([u32(flags), u32(0xffffffff)])),
        attr(IPVS.svcAttr.TIMEOUT, u32(0)),
        attr(IPVS.svcAttr.NETMASK, Buffer.from("ffffffff", "hex")),
        ...extra,
    ]);

    it("masks out HASHED, which the kernel sets on every service", () => {
        const s = unpackService(kernelService(IPVS.svcFlag.HASHED | IPVS.svcFlag.PERSISTENT));
        expect(s).toMatchObject({ persistent: true, onePacket: false, schedFlags: 0 });
        expect(unpackService(kernelService(IPVS.svcFlag.HASHED))).toEqual(unpackService(kernelService(0)));
    });

    it("prefers STATS64 over STATS; STATS has u32 counters and u64 bytes", () => {
        const S = IPVS.statsAttr;
        const stats32 = nest(IPVS.svcAttr.STATS,
            [attr(S.CONNS, u32(5)), attr(S.INBYTES, u64(2n ** 40n)), attr(S.CPS, u32(1))]);
        const stats64 = nest(IPVS.svcAttr.STATS64,
            [attr(S.PAD, Buffer.alloc(0)), attr(S.CONNS, u64(2n ** 33n)), attr(S.OUTBPS, u64(9n))]);
        expect(unpackService(kernelService(0, [stats32])).stats)
            .toMatchObject({ conns: 5, inBytes: 2 ** 40, cps: 1, outPkts: 0 });
        expect(unpackService(kernelService(0, [stats32, stats64])).stats)
            .toMatchObject({ conns: 2 ** 33, outBps: 9, inBytes: 0 });
        expect(Object.keys(unpackStats(Buffer.alloc(0))).sort()).toEqual(
            ["conns", "cps", "inBps", "inBytes", "inPkts", "inPps", "outBps", "outBytes", "outPkts", "outPps"]);
    });

    it("reads the read-only counters of a real server, and its family falls back to the service's", () => {
        const D = IPVS.destAttr;
        const b = Buffer.concat([
            attr(D.ADDR, packAddress("inet6", "fd00::21")), attr(D.PORT, Buffer.from("0050", "hex")),
            attr(D.FWD_METHOD, u32(3)), attr(D.WEIGHT, u32(2)), attr(D.U_THRESH, u32(0)), attr(D.L_THRESH, u32(0)),
            attr(D.ACTIVE_CONNS, u32(4)), attr(D.INACT_CONNS, u32(5)), attr(D.PERSIST_CONNS, u32(6)),
            attr(D.TUN_TYPE, Buffer.from([0])), attr(D.TUN_PORT, Buffer.from("0000", "hex")),
            attr(D.TUN_FLAGS, Buffer.from(u16h(0), "hex")),
        ]);
        expect(unpackDestination(b, "inet6")).toEqual({
            address: "fd00::21", port: 80, addressFamily: "inet6", forwarding: "dr", weight: 2, upperThreshold: 0,
            lowerThreshold: 0, activeConns: 4, inactConns: 5, persistConns: 6,
        });
    });

    it("reads tunnel flags as bits: both set means remcsum, as the kernel's GUE code does", () => {
        const d = Buffer.concat(packDestination({
            address: "10.0.0.21", port: 80, addressFamily: "inet", forwarding: "tun", weight: 1, upperThreshold: 0,
            lowerThreshold: 0, tunnelType: "gue", tunnelPort: 1,
        }));
        const both = Buffer.concat([d, attr(IPVS.destAttr.TUN_FLAGS, Buffer.from(u16h(3), "hex"))]);
        expect(unpackDestination(both).tunnelFlags).toBe("remcsum");
    });

    it("info: the version code as text and the connection table size", () => {
        const b = Buffer.concat([
            attr(IPVS.infoAttr.VERSION, u32(0x010201)), attr(IPVS.infoAttr.CONN_TAB_SIZE, u32(4096)),
        ]);
        expect(unpackInfo(b)).toEqual({ version: "1.2.1", versionCode: 0x010201, connTableSize: 4096 });
    });

    it("rejects a truncated attribute stream", () => {
        expect(() => parseAttrs(Buffer.from(u16h(20) + u16h(1) + "0000", "hex"))).toThrow(/malformed/);
    });
});

describe("pack refuses what the kernel would misread", () => {
    const svc = {
        family: "inet" as const, protocol: "tcp" as const, address: "10.0.0.200", port: 80, scheduler: "wlc",
        persistent: false, onePacket: false, schedFlags: 0, persistenceTimeout: 0,
        netmask: "255.255.255.255" as string | number,
    };
    it.each([
        [{ port: 65536 }, /port/],
        [{ port: -1 }, /port/],
        [{ scheduler: "a-very-long-scheduler" }, /scheduler/],
        [{ scheduler: "" }, /scheduler/],
        [{ netmask: 24 }, /IPv4 netmask/],
        [{ family: "inet6", address: "fd00::1", netmask: "255.255.255.255" }, /IPv6 netmask/],
        [{ family: "inet6", address: "fd00::1", netmask: 129 }, /IPv6 netmask/],
        [{ schedFlags: IPVS.svcFlag.PERSISTENT }, /schedFlags/],
        [{ persistenceTimeout: 2 ** 32 }, /persistence timeout/],
        [{ protocol: "icmp" }, /unknown protocol/],
    ])("%o", (change, message) => {
        expect(() => packService({ ...svc, ...change } as never)).toThrow(message);
    });
    it("fwmark 0 is not a fwmark service", () => {
        expect(() => packServiceId({ family: "inet", fwmark: 0 })).toThrow(/fwmark must be > 0/);
    });
    it("a timeout of 0 (which the kernel reads as 'unchanged') is refused", () => {
        expect(() => packTimeouts({ udp: 0 })).toThrow(/unchanged/);
    });
    it("an unknown forwarding method or tunnel type", () => {
        const d = {
            address: "10.0.0.21", port: 80, addressFamily: "inet" as const, weight: 1, upperThreshold: 0,
            lowerThreshold: 0,
        };
        expect(() => packDestination({ ...d, forwarding: "masq" as never })).toThrow(/forwarding method/);
        expect(() => packDestination({ ...d, forwarding: "tun", tunnelType: "vxlan" as never })).toThrow(/tunnel type/);
    });
});

describe("requests", () => {
    const id = { family: "inet" as const, protocol: "tcp" as const, address: "10.0.0.200", port: 80 };
    const d = {
        address: "10.0.0.21", port: 80, addressFamily: "inet" as const, forwarding: "nat" as const, weight: 1,
        upperThreshold: 0, lowerThreshold: 0,
    };
    const svc = {
        ...id, scheduler: "wlc", persistent: false, onePacket: false, schedFlags: 0, persistenceTimeout: 0,
        netmask: "255.255.255.255",
    };
    const all: Array<[string, Buffer, number]> = [
        ["services", requests.services(), IPVS.cmd.GET_SERVICE],
        ["service", requests.service(id), IPVS.cmd.GET_SERVICE],
        ["addService", requests.addService(svc), IPVS.cmd.NEW_SERVICE],
        ["updateService", requests.updateService(svc), IPVS.cmd.SET_SERVICE],
        ["deleteService", requests.deleteService(id), IPVS.cmd.DEL_SERVICE],
        ["destinations", requests.destinations(id), IPVS.cmd.GET_DEST],
        ["addDestination", requests.addDestination(id, d), IPVS.cmd.NEW_DEST],
        ["updateDestination", requests.updateDestination(id, d), IPVS.cmd.SET_DEST],
        ["deleteDestination", requests.deleteDestination(id, d), IPVS.cmd.DEL_DEST],
        ["timeouts", requests.timeouts(), IPVS.cmd.GET_CONFIG],
        ["setTimeouts", requests.setTimeouts({ tcp: 1 }), IPVS.cmd.SET_CONFIG],
        ["daemons", requests.daemons(), IPVS.cmd.GET_DAEMON],
        ["startDaemon", requests.startDaemon({ state: "master", mcastInterface: "eth0", syncId: 1 }),
            IPVS.cmd.NEW_DAEMON],
        ["stopDaemon", requests.stopDaemon("master"), IPVS.cmd.DEL_DAEMON],
        ["info", requests.info(), IPVS.cmd.GET_INFO],
        ["zero one", requests.zero(id), IPVS.cmd.ZERO],
        ["zero all", requests.zero(), IPVS.cmd.ZERO],
    ];
    it.each(all)("%s carries its command and genl version 1", (_, msg, cmd) => {
        expect([msg[0], msg[1], msg[2], msg[3]]).toEqual([cmd, 1, 0, 0]);
    });
    it("every request is listed above, and none is FLUSH (17)", () => {
        expect(Object.keys(requests).sort()).toEqual([...new Set(all.map(([n]) => n.split(" ")[0]))].sort());
        expect(all.every(([, m]) => m[0] !== 17)).toBe(true);
        expect(Object.values(IPVS.cmd)).not.toContain(17);
    });
    it("deleting a real server sends its identity only; zero of all sends no SERVICE", () => {
        const top = parseAttrs(requests.deleteDestination(id, d).subarray(4));
        expect([...parseAttrs(top.get(IPVS.cmdAttr.DEST)!).keys()].sort((x, y) => x - y)).toEqual([1, 2, 11]);
        expect(requests.zero()).toEqual(ipvsMessage(IPVS.cmd.ZERO, []));
    });
});

describe("errors and names", () => {
    it("an IpvsError names the errno, the operation and ipvsadm's meaning for it", () => {
        const e = new IpvsError(17, "add service",
            `add service ${describeService({ family: "inet", protocol: "tcp", address: "10.0.0.200", port: 80 })}`);
        expect(e).toBeInstanceOf(Error);
        expect(e).toMatchObject({
            errno: 17, code: "EEXIST", op: "add service tcp 10.0.0.200:80", meaning: "service already exists",
        });
        expect(e.message).toBe("add service tcp 10.0.0.200:80: EEXIST: service already exists");
    });
    it.each([
        ["add service", 2, "ENOENT", "scheduler or persistence engine not found"],
        ["update service", 3, "ESRCH", "no such service"],
        ["delete service", 3, "ESRCH", "no such service"],
        ["zero", 3, "ESRCH", "no such service"],
        ["add destination", 3, "ESRCH", "service not defined"],
        ["add destination", 17, "EEXIST", "destination already exists"],
        ["update destination", 2, "ENOENT", "no such destination"],
        ["delete destination", 2, "ENOENT", "no such destination"],
        ["start daemon", 17, "EEXIST", "daemon already running"],
        ["stop daemon", 3, "ESRCH", "no daemon running"],
        ["add service", 1, "EPERM", "no CAP_NET_ADMIN (run as root)"],
        ["update destination", 22, "EINVAL", "invalid operation or combination"],
        ["add service", 97, "EAFNOSUPPORT", "unsupported address family"],
        ["add service", 16, "EBUSY", "resource busy or locked"],
    ] as const)("%s %s -> %s: %s", (kind, errno, code, meaning) => {
        expect(new IpvsError(errno, kind, "x")).toMatchObject({ code, meaning });
    });
    it("names services the way ipvsadm's messages do", () => {
        expect(describeService({ family: "inet6", protocol: "udp", address: "fd00::200", port: 53 }))
            .toBe("udp [fd00::200]:53");
        expect(describeService({ family: "inet", fwmark: 2000 })).toBe("fwmark 2000");
        expect(describeService({ family: "inet6", fwmark: 2001 })).toBe("fwmark 2001 (inet6)");
    });
});

describe("scheduler flag names", () => {
    it.each([
        ["sh", IPVS.svcFlag.SCHED1 | IPVS.svcFlag.SCHED2, ["sh-fallback", "sh-port"]],
        ["mh", IPVS.svcFlag.SCHED2, ["mh-port"]],
        ["mh", IPVS.svcFlag.SCHED1, ["mh-fallback"]],
        ["rr", IPVS.svcFlag.SCHED3, ["flag-3"]],
        ["sh", IPVS.svcFlag.SCHED3, ["flag-3"]],
        ["wlc", 0, []],
    ])("%s %d <-> %o", (sched, bits, names) => {
        expect(schedFlagNames(sched, bits)).toEqual(names);
        expect(schedFlagBits(sched, names)).toBe(bits);
    });
    it("flag-N works for any scheduler; another scheduler's names do not", () => {
        expect(schedFlagBits("sh", ["flag-1", "sh-port"])).toBe(0x18);
        expect(() => schedFlagBits("mh", ["sh-port"])).toThrow(/mh has no flag sh-port/);
        expect(() => schedFlagBits("rr", ["sh-fallback"])).toThrow(/rr has no flag/);
    });
});
