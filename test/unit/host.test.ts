// Validation tables, parsers and the kernel feature table of the folder provider/agent/host/ (no kernel needed).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
    HostError, MODULES, addAddress, addressBytes, deleteAddress, formatAddress, formatSysctl, getSysctl,
    kernelFeatures, kernelSupports, loadModule, moduleProblem, parseIpvsVersion, parseKernelRelease,
    parseModuleList, parseProcModules, parseSysctl, requireFeature, resolveSysctl, setSysctl,
} from "../../provider/agent/host";
import { interfaceNameProblem } from "../../provider/model/interface";
import { KERNEL_FEATURES } from "../../provider/model/kernel";
import { SCHEDULERS, SCHEDULER_FEATURE } from "../../provider/model/schedulers";
import { INTERFACE_SYSCTLS, SYSCTLS, interfaceSysctl, sysctlProblem } from "../../provider/model/sysctls";

describe("interface names (kernel dev_valid_name, IFNAMSIZ)", () => {
    it.each(["lo", "lan0", "tunl0", "eth0.100", "a", "x".repeat(15), "br-lan_1", "ip6tnl0"])("accepts %j", (name) => {
        expect(interfaceNameProblem(name)).toBeUndefined();
    });
    it.each([
        ["", "empty"], ["x".repeat(16), "16 characters"], ["a/b", "slash"], ["a b", "space"], ["a\tb", "tab"],
        ["a\nb", "newline"], ["a:b", "colon (alias)"], [".", "dot"], ["..", "dot dot"], ["lan\u00e90", "non-ASCII"],
        ["a\u0000b", "NUL"],
    ])("rejects %j (%s), naming the value and the rule", (name) => {
        const p = interfaceNameProblem(name);
        expect(p).toContain(JSON.stringify(name));
        expect(p).toContain("1-15 printable ASCII characters, no '/', ':' or whitespace, not '.' or '..'");
    });
    it.each([undefined, 3, null, ["lo"]])("rejects the non-string %j", (name) => {
        expect(interfaceNameProblem(name)).toMatch(/is not a string/);
    });
});

describe("sysctl table", () => {
    it("maps every fixed name to its /proc/sys path and nothing else", () => {
        for (const name of Object.keys(SYSCTLS)) {
            const s = resolveSysctl(name);
            expect(s.path).toBe("/proc/sys/" + name.split(".").join("/"));
            expect(s.path).toMatch(/^\/proc\/sys\/net\/ipv[46]\/[a-z_/0-9]+$/);
        }
    });

    it("holds the IPVS sysctls of kernel 6.1 (as listed in the lab) plus the two lblc ones", () => {
        const in61 = ["am_droprate", "amemthresh", "backup_only", "cache_bypass", "conn_reuse_mode", "conntrack",
            "drop_entry", "drop_packet", "expire_nodest_conn", "expire_quiescent_template", "ignore_tunneled",
            "nat_icmp_send", "pmtu_disc", "run_estimation", "schedule_icmp", "secure_tcp", "sloppy_sctp", "sloppy_tcp",
            "snat_reroute", "sync_persist_mode", "sync_ports", "sync_qlen_max", "sync_refresh_period", "sync_retries",
            "sync_sock_size", "sync_threshold", "sync_version"];
        const vs = Object.keys(SYSCTLS).filter((n) => n.startsWith("net.ipv4.vs.")).map((n) => n.slice(12)).sort();
        expect(vs).toEqual([...in61, "lblc_expiration", "lblcr_expiration"].sort());
        expect(SYSCTLS["net.ipv4.vs.lblc_expiration"].module).toBe("ip_vs_lblc");
        expect(SYSCTLS["net.ipv4.vs.drop_entry"].module).toBe("ip_vs");
        expect(SYSCTLS["net.ipv4.ip_forward"].module).toBeUndefined();
    });

    it.each([
        ["net.ipv4.conf.all.arp_ignore", "/proc/sys/net/ipv4/conf/all/arp_ignore", "all"],
        ["net.ipv4.conf.default.arp_announce", "/proc/sys/net/ipv4/conf/default/arp_announce", "default"],
        ["net.ipv4.conf.lan0.rp_filter", "/proc/sys/net/ipv4/conf/lan0/rp_filter", "lan0"],
        ["net.ipv4.conf.tunl0.rp_filter", "/proc/sys/net/ipv4/conf/tunl0/rp_filter", "tunl0"],
        ["net.ipv4.conf.eth0.100.arp_ignore", "/proc/sys/net/ipv4/conf/eth0.100/arp_ignore", "eth0.100"],
    ])("resolves %s to %s", (name, path, iface) => {
        expect(resolveSysctl(name)).toMatchObject({ name, path, interface: iface });
    });

    it("builds interface sysctl names", () => {
        expect(interfaceSysctl("lan0", "arp_announce")).toBe("net.ipv4.conf.lan0.arp_announce");
        expect(Object.keys(INTERFACE_SYSCTLS).sort()).toEqual(["arp_announce", "arp_ignore", "rp_filter"]);
    });

    it.each([
        ["kernel.modprobe", /not one the agent manages/],
        ["net.ipv4.vs.debug_level", /not one the agent manages/],
        ["net.ipv4.vs.est_cpulist", /not one the agent manages/],
        ["net.ipv4.conf.lan0.forwarding", /not one the agent manages/],
        ["net.ipv6.conf.lan0.forwarding", /not one the agent manages/],
        ["net/ipv4/ip_forward", /not one the agent manages/],
        ["__proto__", /not one the agent manages/],
        ["toString", /not one the agent manages/],
        ["net.ipv4.conf..arp_ignore", /not one the agent manages/],
        ["net.ipv4.conf.lan0/../../../../kernel/modprobe.arp_ignore", /interface name .* is invalid/],
        ["net.ipv4.conf...arp_ignore", /interface name "\." is invalid/],
        ["net.ipv4.conf....arp_ignore", /interface name "\.\." is invalid/],
        ["net.ipv4.conf.a b.rp_filter", /interface name "a b" is invalid/],
        ["net.ipv4.conf.sixteen-chars-xx.rp_filter", /interface name "sixteen-chars-xx" is invalid/],
    ])("refuses %j", (name, message) => {
        expect(() => resolveSysctl(name)).toThrow(message);
        expect(sysctlProblem(name, 0)).toMatch(message);
        expect(() => setSysctl(name, 0)).toThrow(message);
        expect(() => getSysctl(name)).toThrow(message);
    });

    const accepted: [string, unknown][] = [
        ["net.ipv4.vs.drop_entry", 0], ["net.ipv4.vs.drop_entry", 3], ["net.ipv4.vs.secure_tcp", 2],
        ["net.ipv4.vs.drop_packet", 1],
        ["net.ipv4.vs.amemthresh", 1024], ["net.ipv4.vs.amemthresh", 0], ["net.ipv4.vs.am_droprate", 10],
        ["net.ipv4.vs.sync_threshold", [3, 50]], ["net.ipv4.vs.sync_threshold", [3, 0]],
        ["net.ipv4.vs.sync_threshold", [0, 1]],
        ["net.ipv4.vs.sync_ports", 1], ["net.ipv4.vs.sync_ports", 8], ["net.ipv4.vs.sync_ports", 32768],
        ["net.ipv4.vs.sync_retries", 3], ["net.ipv4.vs.sync_version", 0], ["net.ipv4.vs.sync_qlen_max", 15207],
        ["net.ipv4.vs.conn_reuse_mode", 3], ["net.ipv4.vs.sync_refresh_period", 2147483],
        ["net.ipv4.vs.lblc_expiration", 86400],
        ["net.ipv4.vs.expire_nodest_conn", 1], ["net.ipv4.ip_forward", 1], ["net.ipv6.conf.all.forwarding", 0],
        ["net.ipv4.conf.all.arp_ignore", 1], ["net.ipv4.conf.lan0.arp_ignore", 8],
        ["net.ipv4.conf.all.arp_announce", 2],
        ["net.ipv4.conf.tunl0.rp_filter", 0], ["net.ipv4.conf.default.rp_filter", 2],
    ];
    it.each(accepted)("accepts %s = %j", (name, value) => {
        expect(sysctlProblem(name, value)).toBeUndefined();
    });

    const refused: [string, unknown, string][] = [
        ["net.ipv4.vs.drop_entry", 4, "0 (off), 1 or 2 (automatic"],
        ["net.ipv4.vs.secure_tcp", -1, "0 (off), 1 or 2 (automatic"],
        ["net.ipv4.vs.drop_packet", 1.5, "0 (off), 1 or 2 (automatic"],
        ["net.ipv4.vs.drop_entry", "1", "0 (off), 1 or 2 (automatic"],
        ["net.ipv4.vs.drop_entry", true, "0 (off), 1 or 2 (automatic"],
        ["net.ipv4.vs.drop_entry", null, "0 (off), 1 or 2 (automatic"],
        ["net.ipv4.vs.drop_entry", NaN, "0 (off), 1 or 2 (automatic"],
        ["net.ipv4.vs.amemthresh", -5, "an integer 0-2147483647"],
        ["net.ipv4.vs.amemthresh", 2147483648, "an integer 0-2147483647"],
        ["net.ipv4.vs.sync_threshold", [50, 3], "threshold < period unless period is 0"],
        ["net.ipv4.vs.sync_threshold", [3, 3], "threshold < period unless period is 0"],
        ["net.ipv4.vs.sync_threshold", [-1, 50], "each 0-2147483647"],
        ["net.ipv4.vs.sync_threshold", 3, "two integers [threshold, period]"],
        ["net.ipv4.vs.sync_threshold", [3], "two integers [threshold, period]"],
        ["net.ipv4.vs.sync_threshold", [3, 50, 1], "two integers [threshold, period]"],
        ["net.ipv4.vs.sync_ports", 3, "a power of two 1-32768"],
        ["net.ipv4.vs.sync_ports", 0, "a power of two 1-32768"],
        ["net.ipv4.vs.sync_ports", 65536, "a power of two 1-32768"],
        ["net.ipv4.vs.sync_retries", 4, "an integer 0-3"],
        ["net.ipv4.vs.sync_version", 2, "0 or 1"],
        ["net.ipv4.vs.sync_qlen_max", 0, "queued sync messages"],
        ["net.ipv4.vs.conn_reuse_mode", 4, "a bitmask 0-3"],
        ["net.ipv4.vs.sync_refresh_period", 2147484, "seconds, an integer 0-2147483"],
        ["net.ipv4.vs.backup_only", 5, "0 or 1"],
        ["net.ipv4.ip_forward", 2, "0 or 1"],
        ["net.ipv6.conf.all.forwarding", 2, "0 or 1"],
        ["net.ipv4.conf.all.arp_ignore", 4, "0, 1, 2, 3 or 8"],
        ["net.ipv4.conf.lan0.arp_ignore", 9, "0, 1, 2, 3 or 8"],
        ["net.ipv4.conf.lan0.arp_announce", 3, "0, 1 or 2"],
        ["net.ipv4.conf.all.rp_filter", -1, "0 (off), 1 (strict) or 2 (loose)"],
    ];
    it.each(refused)("refuses %s = %j, naming the sysctl, the value and the rule", (name, value, rule) => {
        const p = sysctlProblem(name, value);
        expect(p).toBe(`sysctl ${name}: value ${JSON.stringify(value)} is invalid ` +
            `(must be ${resolveSysctl(name).rule.text})`);
        expect(p).toContain(rule);
        // setSysctl refuses before it touches anything (these paths do not even exist on the build machine)
        expect(() => setSysctl(name, value as number)).toThrow(p);
        try {
            setSysctl(name, value as number);
        } catch (e) {
            expect(e).toBeInstanceOf(HostError);
            expect((e as HostError).code).toBe("EINVAL");
        }
    });

    it("parses and formats values the way /proc/sys writes them", () => {
        expect(parseSysctl("net.ipv4.vs.sync_threshold", "3\t50\n")).toEqual([3, 50]);
        expect(parseSysctl("net.ipv4.vs.drop_entry", "2\n")).toBe(2);
        expect(parseSysctl("net.ipv4.conf.lan0.arp_ignore", "-1\n")).toBe(-1); // read whatever the kernel holds
        expect(() => parseSysctl("net.ipv4.vs.drop_entry", "")).toThrow(/cannot parse/);
        expect(() => parseSysctl("net.ipv4.vs.drop_entry", "3\t50\n")).toThrow(/cannot parse/);
        expect(() => parseSysctl("net.ipv4.vs.sync_threshold", "3\n")).toThrow(/cannot parse/);
        expect(formatSysctl(1)).toBe("1\n");
        expect(formatSysctl([3, 50])).toBe("3\t50\n");
        fc.assert(fc.property(fc.integer({ min: 0, max: 2147483647 }), fc.integer({ min: 0, max: 2147483647 }),
            (a, b) => {
                expect(parseSysctl("net.ipv4.vs.sync_threshold", formatSysctl([a, b]))).toEqual([a, b]);
                expect(parseSysctl("net.ipv4.vs.amemthresh", formatSysctl(a))).toBe(a);
            }));
    });
});

describe("kernel feature table", () => {
    it.each([
        ["6.1.0-56-amd64", { major: 6, minor: 1, patch: 0 }],
        ["5.15.0-1034-aws", { major: 5, minor: 15, patch: 0 }],
        ["4.18.0-553.el8_10.x86_64", { major: 4, minor: 18, patch: 0 }],
        ["6.8.12", { major: 6, minor: 8, patch: 12 }],
        ["6.10", { major: 6, minor: 10, patch: 0 }],
        ["6.18.0+", { major: 6, minor: 18, patch: 0 }],
    ])("parses the release %s", (release, version) => {
        expect(parseKernelRelease(release)).toEqual(version);
    });
    it("refuses a release it cannot read", () => {
        expect(() => parseKernelRelease("linux")).toThrow(/cannot parse kernel release "linux"/);
    });

    it("has every feature of the reference, with the release that brought it", () => {
        expect(Object.fromEntries(Object.entries(KERNEL_FEATURES).map(([k, v]) => [k, v.since]))).toEqual({
            sctp: "2.6.34", sipPersistenceEngine: "2.6.37", destAddressFamily: "3.18", schedulerFo: "3.18",
            stats64: "4.1", syncDaemonOptions: "4.3", schedulerOvf: "4.3", schedulerMh: "4.18", tunnelGue: "5.2",
            tunnelGre: "5.3", tunnelChecksum: "5.3", schedulerTwos: "6.2",
        });
    });

    it.each([
        ["2.6.33", "sctp", false], ["2.6.34", "sctp", true],
        ["3.17.9", "destAddressFamily", false], ["3.18.0", "destAddressFamily", true],
        ["4.0.9", "stats64", false], ["4.1.0", "stats64", true],
        ["4.2.8", "syncDaemonOptions", false], ["4.3.0", "syncDaemonOptions", true],
        ["4.17.19", "schedulerMh", false], ["4.18.0", "schedulerMh", true],
        ["5.1.21", "tunnelGue", false], ["5.2.0", "tunnelGue", true],
        ["5.2.21", "tunnelGre", false], ["5.3.0", "tunnelChecksum", true],
        ["6.1.0", "schedulerTwos", false], ["6.2.0", "schedulerTwos", true],
        ["10.0.0", "schedulerTwos", true], ["3.10.0", "tunnelGre", false],
    ] as const)("kernel %s: %s is %s", (release, feature, supported) => {
        expect(kernelSupports(parseKernelRelease(release), feature)).toBe(supported);
        expect(kernelFeatures(parseKernelRelease(release))[feature]).toBe(supported);
    });

    it("says clearly what a kernel lacks and which release it needs", () => {
        const k61 = parseKernelRelease("6.1.0-56-amd64");
        expect(() => requireFeature(k61, "schedulerTwos"))
            .toThrow("kernel 6.1.0 does not support the twos scheduler (needs 6.2)");
        try {
            requireFeature(k61, "schedulerTwos");
        } catch (e) {
            expect(e).toBeInstanceOf(HostError);
            expect(e).toMatchObject({ code: "EOPNOTSUPP" });
        }
        expect(() => requireFeature(parseKernelRelease("4.19.0"), "tunnelGue"))
            .toThrow("kernel 4.19.0 does not support GUE tunnelling to real servers (needs 5.2)");
        expect(() => requireFeature(parseKernelRelease("4.9.0"), "schedulerMh"))
            .toThrow("kernel 4.9.0 does not support the mh scheduler (needs 4.18)");
        expect(() => requireFeature(k61, "tunnelGre")).not.toThrow();
    });

    it("knows which schedulers need a feature", () => {
        expect(SCHEDULERS).toEqual(
            ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"]);
        for (const [s, f] of Object.entries(SCHEDULER_FEATURE))
            expect(KERNEL_FEATURES[f].what).toBe(`the ${s} scheduler`);
    });
});

describe("modules", () => {
    it("has a closed list: ip_vs, every scheduler, the sip engine, the FTP helper and the tunnel drivers", () => {
        for (const s of SCHEDULERS) expect(MODULES).toContain(`ip_vs_${s}`);
        for (const m of ["ip_vs", "ip_vs_pe_sip", "ip_vs_ftp", "ipip"]) expect(moduleProblem(m)).toBeUndefined();
    });
    it.each(["nf_tables", "ip_vs_rr; reboot", "../ip_vs", "", "IP_VS", 7])("refuses %j", async (name) => {
        expect(moduleProblem(name))
            .toBe(`module ${JSON.stringify(name)} is not one the agent loads (allowed: ${MODULES.join(", ")})`);
        await expect(loadModule(name as string)).rejects.toMatchObject({ code: "EINVAL" });
    });
    it("reads /proc/modules, modules.dep and modules.builtin", () => {
        expect(parseProcModules("ip_vs_rr 16384 1 - Live 0x0\nip_vs 204800 3 ip_vs_rr, Live 0x0\n"))
            .toEqual(new Set(["ip_vs_rr", "ip_vs"]));
        const dep = "kernel/net/netfilter/ipvs/ip_vs_mh.ko: kernel/net/netfilter/ipvs/ip_vs.ko\n" +
            "kernel/net/ipv4/ipip.ko.xz: kernel/net/ipv4/tunnel4.ko.xz\n" +
            "kernel/drivers/x/foo-bar.ko.zst:\n";
        expect(parseModuleList(dep)).toEqual(new Set(["ip_vs_mh", "ipip", "foo_bar"]));
        expect(parseModuleList("kernel/net/ipv4/tunnel4.ko\n")).toEqual(new Set(["tunnel4"]));
    });
    it("reads the IPVS version line", () => {
        expect(parseIpvsVersion("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port\n"))
            .toEqual({ version: "1.2.1", connTableSize: 4096 });
        expect(parseIpvsVersion("")).toBeUndefined();
    });
});

describe("addresses: validation before any netlink call", () => {
    it("round-trips IPv4 and IPv6 addresses through bytes, printing them as ip does", () => {
        expect(formatAddress(addressBytes("10.0.0.220"))).toBe("10.0.0.220");
        expect(formatAddress(addressBytes("fd00:0:0:0:0:0:0:220"))).toBe("fd00::220");
        expect(formatAddress(addressBytes("FD00::0220"))).toBe("fd00::220");
        expect(formatAddress(addressBytes("::"))).toBe("::");
        expect(formatAddress(addressBytes("::1"))).toBe("::1");
        expect(formatAddress(addressBytes("1:0:0:2:0:0:0:3"))).toBe("1:0:0:2::3");
        expect(formatAddress(addressBytes("1:0:2:3:4:5:6:7"))).toBe("1:0:2:3:4:5:6:7");
        expect(formatAddress(addressBytes("::ffff:10.0.0.1"))).toBe("::ffff:10.0.0.1");
        fc.assert(fc.property(fc.ipV6(), (a) => {
            const b = addressBytes(a);
            expect(addressBytes(formatAddress(b))).toEqual(b);
        }));
        fc.assert(fc.property(fc.ipV4(), (a) => {
            expect(formatAddress(addressBytes(a))).toBe(a);
        }));
    });
    it.each([
        ["lo", "10.0.0.300", undefined, /"10\.0\.0\.300" is not an IPv4 or IPv6 address/],
        ["lo", "10.0.0.220", 33, /prefix length 33 for 10\.0\.0\.220 is invalid \(must be an integer 0-32\)/],
        ["lo", "fd00::220", 129, /prefix length 129 for fd00::220 is invalid \(must be an integer 0-128\)/],
        ["lo", "fd00::220", 64.5, /must be an integer 0-128/],
        ["a/b", "10.0.0.220", undefined, /interface name "a\/b" is invalid/],
        ["", "10.0.0.220", undefined, /interface name "" is invalid/],
    ])("refuses %j %j /%j", async (iface, address, prefix, message) => {
        await expect(addAddress(iface, address, prefix)).rejects.toThrow(message);
        await expect(deleteAddress(iface, address, prefix)).rejects.toThrow(message);
        await expect(addAddress(iface, address, prefix)).rejects.toMatchObject({ code: "EINVAL" });
    });
});
