// IpvsHandle against the real kernel of the lab (Debian 6.1), with ipvsadm in the same host as the
// oracle. Each test owns its addresses (VIPs 10.0.0.200-219, fd00::200-219, fwmarks 2000-2019),
// removes exactly what it created and never flushes: other tests share these kernels. Every scenario
// is one ssh round trip: test/lab/ipvs-driver.js runs a list of steps in the guest and prints JSON.
import { afterAll, describe, expect, it } from "vitest";
import { closeLab, repoDir as repo, sh } from "../lab";
import { attr, IPVS, ipvsMessage, nest, packService, packServiceId, parseAttrs } from "../../provider/agent/ipvs";
import type {
    RealServer, VirtualService, VirtualServiceId, VirtualServiceSettings,
} from "../../provider/model/types";

type Step = { call: string; args?: unknown[] } | { sh: string } | { raw: string; dump?: boolean };
interface Result {
    ok: boolean;
    value?: unknown;
    out?: string;
    error?: { name?: string; code?: string; errno?: number; op?: string; meaning?: string; message: string };
}

async function run(host: string, steps: Step[]): Promise<Result[]> {
    const out = await sh(host, `cd ${repo} && node test/lab/ipvs-driver.js`, JSON.stringify(steps));
    const results = JSON.parse(out) as Result[];
    expect(results).toHaveLength(steps.length);
    return results;
}

/** A step's value, failing with the step's error when it did not succeed. */
function value<T>(r: Result): T {
    if (!r.ok) throw new Error(`step failed: ${r.error?.message}`);
    return r.value as T;
}

const call = (name: string, ...args: unknown[]): Step => ({ call: name, args });
const withoutStats = <T extends {
    stats?: unknown; activeConns?: unknown; inactConns?: unknown; persistConns?: unknown
}>(x: T) => {
    const { stats: _s, activeConns: _a, inactConns: _i, persistConns: _p, ...rest } = x;
    return rest;
};
const idKey = (id: VirtualServiceId) =>
    "fwmark" in id ? `${id.family} fwmark ${id.fwmark}` : `${id.family} ${id.protocol} ${id.address} ${id.port}`;

/** The lines of an ipvsadm -Sn output that mention one of our services (by its -t/-u/--sctp-service/-f key). */
function rulesOf(out: string, keys: string[]): string[] {
    return out.split("\n").filter(l => keys.some(k => l.includes(` ${k} `))).sort();
}
const ruleKey = (id: VirtualServiceId) => ("fwmark" in id ? `-f ${id.fwmark}` :
    `${{ tcp: "-t", udp: "-u", sctp: "--sctp-service" }[id.protocol]} ` +
        `${id.family === "inet6" ? `[${id.address}]` : id.address}:${id.port}`);

const base: VirtualServiceSettings = {
    scheduler: "wlc", persistent: false, onePacket: false, schedFlags: 0, persistenceTimeout: 0,
    netmask: "255.255.255.255",
};
const v6base: VirtualServiceSettings = { ...base, netmask: 128 };
const { SCHED1, SCHED2 } = IPVS.svcFlag;

afterAll(closeLab);

describe("IpvsHandle against the lab kernel", () => {
    it("virtual services of every kind: add, read, update, delete, as ipvsadm -Sn sees them", async () => {
        // [what we send, what ipvsadm -Sn shows, the update, what ipvsadm shows after it]
        const cases: Array<[VirtualService, string, VirtualService, string]> = [
            [{ family: "inet", protocol: "tcp", address: "10.0.0.200", port: 80, ...base },
                "-A -t 10.0.0.200:80 -s wlc",
                { family: "inet", protocol: "tcp", address: "10.0.0.200", port: 80, ...base, scheduler: "rr",
                    persistent: true, persistenceTimeout: 600, netmask: "255.255.255.0" },
                "-A -t 10.0.0.200:80 -s rr -p 600 -M 255.255.255.0"],
            [{ family: "inet", protocol: "udp", address: "10.0.0.201", port: 53, ...base, scheduler: "rr" },
                "-A -u 10.0.0.201:53 -s rr",
                { family: "inet", protocol: "udp", address: "10.0.0.201", port: 53, ...base, scheduler: "rr",
                    onePacket: true },
                "-A -u 10.0.0.201:53 -s rr -o"],
            [{ family: "inet", protocol: "sctp", address: "10.0.0.202", port: 9999, ...base, scheduler: "lc" },
                "-A --sctp-service 10.0.0.202:9999 -s lc",
                { family: "inet", protocol: "sctp", address: "10.0.0.202", port: 9999, ...base, scheduler: "wrr" },
                "-A --sctp-service 10.0.0.202:9999 -s wrr"],
            [{ family: "inet", fwmark: 2000, ...base, scheduler: "wrr" },
                "-A -f 2000 -s wrr",
                { family: "inet", fwmark: 2000, ...base, scheduler: "sh", schedFlags: SCHED2 },
                "-A -f 2000 -s sh -b sh-port"],
            [{ family: "inet6", protocol: "tcp", address: "fd00::200", port: 443, ...v6base, scheduler: "sed" },
                "-A -t [fd00::200]:443 -s sed",
                { family: "inet6", protocol: "tcp", address: "fd00::200", port: 443, ...v6base, scheduler: "sed",
                    persistent: true, persistenceTimeout: 300, netmask: 64 },
                "-A -t [fd00::200]:443 -s sed -p 300 -M 64"],
            // a persistence timeout without the PERSISTENT flag is not persistence
            [{ family: "inet6", fwmark: 2001, ...v6base, scheduler: "nq", persistent: true, persistenceTimeout: 300,
                netmask: 64 },
                "-A -f 2001 -6 -s nq -p 300 -M 64",
                { family: "inet6", fwmark: 2001, ...v6base, scheduler: "nq", persistent: false, persistenceTimeout: 300,
                    netmask: 64 },
                "-A -f 2001 -6 -s nq"],
            [{ family: "inet", protocol: "tcp", address: "10.0.0.203", port: 0, ...base, persistent: true,
                persistenceTimeout: 1800, netmask: "255.255.255.0" },
                "-A -t 10.0.0.203:0 -s wlc -p 1800 -M 255.255.255.0",
                { family: "inet", protocol: "tcp", address: "10.0.0.203", port: 0, ...base, persistent: true,
                    persistenceTimeout: 1801, netmask: "255.255.0.0" },
                "-A -t 10.0.0.203:0 -s wlc -p 1801 -M 255.255.0.0"],
            // leaving the persistence engine out of SET_SERVICE removes it
            [{ family: "inet", protocol: "udp", address: "10.0.0.204", port: 5060, ...base, scheduler: "rr",
                persistent: true, persistenceTimeout: 120, onePacket: true, persistenceEngine: "sip" },
                "-A -u 10.0.0.204:5060 -s rr -p 120 --pe sip -o",
                { family: "inet", protocol: "udp", address: "10.0.0.204", port: 5060, ...base, scheduler: "rr",
                    persistent: true, persistenceTimeout: 120, onePacket: true },
                "-A -u 10.0.0.204:5060 -s rr -p 120 -o"],
            [{ family: "inet", protocol: "udp", address: "10.0.0.205", port: 514, ...base, scheduler: "rr",
                onePacket: true, persistenceTimeout: 300 },
                "-A -u 10.0.0.205:514 -s rr -o",
                { family: "inet", protocol: "udp", address: "10.0.0.205", port: 514, ...base, scheduler: "rr",
                    onePacket: false, persistenceTimeout: 300, persistent: true },
                "-A -u 10.0.0.205:514 -s rr -p 300"],
            [{ family: "inet", protocol: "tcp", address: "10.0.0.206", port: 80, ...base, scheduler: "sh",
                schedFlags: SCHED1 | SCHED2 },
                "-A -t 10.0.0.206:80 -s sh -b sh-fallback,sh-port",
                { family: "inet", protocol: "tcp", address: "10.0.0.206", port: 80, ...base, scheduler: "sh",
                    schedFlags: SCHED1 },
                "-A -t 10.0.0.206:80 -s sh -b sh-fallback"],
            [{ family: "inet", protocol: "tcp", address: "10.0.0.207", port: 80, ...base, scheduler: "mh",
                schedFlags: SCHED2 },
                "-A -t 10.0.0.207:80 -s mh -b mh-port",
                { family: "inet", protocol: "tcp", address: "10.0.0.207", port: 80, ...base, scheduler: "mh",
                    schedFlags: SCHED1 | SCHED2 },
                "-A -t 10.0.0.207:80 -s mh -b mh-fallback,mh-port"],
        ];
        const ids = cases.map(([s]) => s);
        const keys = ids.map(ruleKey);
        // the IPv6 address goes in non-canonical and must come back canonical
        const sent = cases.map(([s]) =>
            (s.family === "inet6" && "address" in s ? { ...s, address: "FD00:0:0::0200" } : s));
        const steps: Step[] = [
            ...ids.map(id => call("deleteService", id)), // leftovers of an interrupted run of this test
            ...sent.map(s => call("addService", s)),
            call("services"),
            ...ids.map(id => call("service", id)),
            { sh: "ipvsadm -Sn" },
            { raw: ipvsMessage(IPVS.cmd.GET_SERVICE, [nest(IPVS.cmdAttr.SERVICE, packServiceId(ids[0]))])
                .toString("hex") },
            ...cases.map(([, , u]) => call("updateService", u)),
            call("services"),
            { sh: "ipvsadm -Sn" },
            ...ids.map(id => call("deleteService", id)),
            call("services"),
            { sh: "ipvsadm -Sn" },
        ];
        const r = await run("director1", steps);
        let i = ids.length;
        const n = cases.length;
        for (let k = 0; k < n; k++, i++) expect(r[i], `add ${idKey(ids[k])}`).toMatchObject({ ok: true });
        const mine = (list: VirtualService[]) => {
            const wanted = new Set(ids.map(idKey));
            return list.filter(s => wanted.has(idKey(s))).map(withoutStats)
                .sort((a, b) => idKey(a).localeCompare(idKey(b)));
        };
        const sorted = (list: VirtualService[]) => [...list].sort((a, b) => idKey(a).localeCompare(idKey(b)));
        const dumped = value<VirtualService[]>(r[i++]);
        expect(mine(dumped)).toEqual(sorted(cases.map(([s]) => s)));
        expect(dumped.find(s => idKey(s) === idKey(ids[0]))?.stats).toMatchObject({ conns: 0, inPkts: 0, outBytes: 0 });
        for (let k = 0; k < n; k++, i++) expect(withoutStats(value<VirtualService>(r[i]))).toEqual(cases[k][0]);
        expect(rulesOf(r[i++].out!, keys)).toEqual(cases.map(c => c[1]).sort());
        // the kernel sets HASHED on every service it reports, on a single GET too (the codec masks it
        // out); the raw bytes are read little-endian: the lab is x86
        const raw = parseAttrs(Buffer.from(value<string[]>(r[i++])[0], "hex"));
        const flags = parseAttrs(raw.get(IPVS.cmdAttr.SERVICE)!).get(IPVS.svcAttr.FLAGS)!;
        expect(flags.readUInt32LE(0) & IPVS.svcFlag.HASHED).toBe(IPVS.svcFlag.HASHED);
        expect(flags.readUInt32LE(4)).toBe(0xffffffff);
        for (let k = 0; k < n; k++, i++) expect(r[i], `update ${idKey(ids[k])}`).toMatchObject({ ok: true });
        expect(mine(value<VirtualService[]>(r[i++]))).toEqual(sorted(cases.map(c => c[2])));
        expect(rulesOf(r[i++].out!, keys)).toEqual(cases.map(c => c[3]).sort());
        for (let k = 0; k < n; k++, i++) expect(r[i], `delete ${idKey(ids[k])}`).toMatchObject({ ok: true });
        expect(mine(value<VirtualService[]>(r[i++]))).toEqual([]);
        expect(rulesOf(r[i++].out!, keys)).toEqual([]);
        expect(i).toBe(r.length);
    });

    it("real servers: every forwarding method, weights, thresholds, IPIP, GUE, GRE, mixed family", async () => {
        const svc: VirtualService = { family: "inet", protocol: "tcp", address: "10.0.0.210", port: 80, ...base };
        const fwm: VirtualService = { family: "inet", fwmark: 2010, ...base, scheduler: "rr" };
        const svc6: VirtualService = { family: "inet6", protocol: "udp", address: "fd00::210", port: 53, ...v6base };
        const rs = (address: string, port: number, s: Partial<RealServer>): RealServer => ({
            address, port, addressFamily: address.includes(":") ? "inet6" : "inet", forwarding: "dr", weight: 1,
            upperThreshold: 0, lowerThreshold: 0, ...s,
        });
        const tun = { forwarding: "tun" as const, tunnelPort: 0, tunnelFlags: "nocsum" as const };
        // [service, real server, ipvsadm -Sn line]. ipvsadm 1.31 -S writes no thresholds (-x/-y): they
        // are checked with --thresholds; it writes --tun-type whenever the method is tunnel.
        const added: Array<[VirtualService, RealServer, string]> = [
            [svc, rs("10.1.0.21", 8080, { forwarding: "nat", weight: 3, upperThreshold: 100, lowerThreshold: 50 }),
                "-a -t 10.0.0.210:80 -r 10.1.0.21:8080 -m -w 3"],
            [svc, rs("10.0.0.21", 80, { weight: 0 }), "-a -t 10.0.0.210:80 -r 10.0.0.21:80 -g -w 0"],
            [svc, rs("10.0.0.22", 80, { ...tun, tunnelType: "ipip", weight: 2 }),
                "-a -t 10.0.0.210:80 -r 10.0.0.22:80 -i -w 2 --tun-type ipip"],
            [svc, rs("10.0.0.23", 80, { ...tun, tunnelType: "gue", tunnelPort: 6080, tunnelFlags: "csum" }),
                "-a -t 10.0.0.210:80 -r 10.0.0.23:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum"],
            [svc, rs("10.0.0.24", 80, { ...tun, tunnelType: "gre", tunnelFlags: "csum" }),
                "-a -t 10.0.0.210:80 -r 10.0.0.24:80 -i -w 1 --tun-type gre --tun-csum"],
            // ipvsadm -S has no switch for the local method: it writes -g (the lab shows "Local" in -L)
            [svc, rs("10.0.0.11", 80, { forwarding: "local" }), "-a -t 10.0.0.210:80 -r 10.0.0.11:80 -g -w 1"],
            // another family than the service's: tunnels only
            [svc, rs("fd00::25", 80, { ...tun, tunnelType: "gue", tunnelPort: 6081, tunnelFlags: "remcsum" }),
                "-a -t 10.0.0.210:80 -r [fd00::25]:80 -i -w 1 --tun-type gue --tun-port 6081 --tun-remcsum"],
            [fwm, rs("10.0.0.21", 0, {}), "-a -f 2010 -r 10.0.0.21:0 -g -w 1"],
            [fwm, rs("10.1.0.22", 0, { forwarding: "nat", weight: 65535 }), "-a -f 2010 -r 10.1.0.22:0 -m -w 65535"],
            [svc6, rs("fd00::21", 53, { forwarding: "nat" }), "-a -u [fd00::210]:53 -r [fd00::21]:53 -m -w 1"],
        ];
        const updated: Array<[VirtualService, RealServer, string]> = [
            [svc, rs("10.1.0.21", 8080, { forwarding: "nat", weight: 0 }),
                "-a -t 10.0.0.210:80 -r 10.1.0.21:8080 -m -w 0"],
            [svc, rs("10.0.0.21", 80,
                { ...tun, tunnelType: "gue", tunnelPort: 6090, tunnelFlags: "remcsum", weight: 7, upperThreshold: 9 }),
                "-a -t 10.0.0.210:80 -r 10.0.0.21:80 -i -w 7 --tun-type gue --tun-port 6090 --tun-remcsum"],
            [svc, rs("10.0.0.23", 80, { ...tun, tunnelType: "ipip" }),
                "-a -t 10.0.0.210:80 -r 10.0.0.23:80 -i -w 1 --tun-type ipip"],
            [svc, rs("10.0.0.24", 80, { lowerThreshold: 4, upperThreshold: 8 }),
                "-a -t 10.0.0.210:80 -r 10.0.0.24:80 -g -w 1"],
            [svc6, rs("fd00::21", 53, { forwarding: "dr", weight: 4 }),
                "-a -u [fd00::210]:53 -r [fd00::21]:53 -g -w 4"],
        ];
        const gone: Array<[VirtualService, RealServer]> = [[svc, added[2][1]], [fwm, added[7][1]]];
        const services = [svc, fwm, svc6];
        const keys = services.map(ruleKey);
        const steps: Step[] = [
            ...services.map(s => call("deleteService", s)),
            ...services.map(s => call("addService", s)),
            // the real server's IPv6 address goes in non-canonical
            ...added.map(([s, d]) =>
                call("addDestination", s, d.address === "fd00::21" ? { ...d, address: "FD00:0::0021" } : d)),
            ...services.map(s => call("destinations", s)),
            { sh: "ipvsadm -Sn; echo ----; ipvsadm -Ln --thresholds" },
            ...updated.map(([s, d]) => call("updateDestination", s, d)),
            ...gone.map(([s, d]) =>
                call("deleteDestination", s, { address: d.address, port: d.port, addressFamily: d.addressFamily })),
            ...services.map(s => call("destinations", s)),
            { sh: "ipvsadm -Sn; echo ----; ipvsadm -Ln --thresholds" },
            ...services.map(s => call("deleteService", s)),
            { sh: "ipvsadm -Sn" },
        ];
        const r = await run("director1", steps);
        let i = services.length;
        for (const s of services) expect(r[i++], `add ${idKey(s)}`).toMatchObject({ ok: true });
        for (const [, d] of added) expect(r[i++], `add ${d.address}`).toMatchObject({ ok: true });
        const byKey = (list: RealServer[]) =>
            list.map(withoutStats).sort((a, b) => `${a.address}:${a.port}`.localeCompare(`${b.address}:${b.port}`));
        const expectDests = (table: Array<[VirtualService, RealServer, string?]>) => {
            for (const s of services) {
                const got = value<RealServer[]>(r[i++]);
                expect(byKey(got), idKey(s)).toEqual(byKey(table.filter(([x]) => x === s).map(([, d]) => d)));
                for (const d of got)
                    expect(d).toMatchObject({ activeConns: 0, inactConns: 0, persistConns: 0, stats: { conns: 0 } });
            }
        };
        expectDests(added);
        const [rules1, thresholds1] = r[i++].out!.split("----\n");
        expect(rulesOf(rules1, keys)).toEqual(
            ["-A -t 10.0.0.210:80 -s wlc", "-A -f 2010 -s rr", "-A -u [fd00::210]:53 -s wlc",
                ...added.map(a => a[2])].sort());
        // --thresholds: "  -> 10.1.0.21:8080   100   50   0   0"
        expect(thresholds1).toMatch(/-> 10\.1\.0\.21:8080\s+100\s+50\s+0\s+0/);
        for (const [, d] of updated) expect(r[i++], `update ${d.address}`).toMatchObject({ ok: true });
        for (const [, d] of gone) expect(r[i++], `delete ${d.address}`).toMatchObject({ ok: true });
        const now = added.filter(([s, d]) => !gone.some(([gs, gd]) => gs === s && gd === d))
            .map(([s, d, l]) => updated.find(([us, ud]) => us === s && ud.address === d.address && ud.port === d.port)
                ?? [s, d, l] as [VirtualService, RealServer, string]);
        expectDests(now);
        const [rules2, thresholds2] = r[i++].out!.split("----\n");
        expect(rulesOf(rules2, keys).filter(l => l.startsWith("-a"))).toEqual(now.map(a => a[2]).sort());
        expect(thresholds2).toMatch(/-> 10\.0\.0\.24:80\s+8\s+4\s+0\s+0/);
        expect(thresholds2).toMatch(/-> 10\.0\.0\.21:80\s+9\s+0\s+0\s+0/);
        expect(thresholds2).toMatch(/-> 10\.1\.0\.21:8080\s+0\s+0\s+0\s+0/);
        expect(thresholds2).not.toMatch(/10\.0\.0\.22:80/);
        for (const s of services) expect(r[i++], `delete ${idKey(s)}`).toMatchObject({ ok: true });
        expect(rulesOf(r[i++].out!, keys)).toEqual([]);
        expect(i).toBe(r.length);
    });

    it("errors carry the errno, the operation and ipvsadm's meaning", async () => {
        const id: VirtualServiceId = { family: "inet", protocol: "tcp", address: "10.0.0.211", port: 80 };
        const svc: VirtualService = { ...id, ...base };
        const v6: VirtualService = { family: "inet6", protocol: "tcp", address: "fd00::211", port: 80, ...v6base };
        const d: RealServer = {
            address: "10.0.0.21", port: 80, addressFamily: "inet", forwarding: "dr", weight: 1, upperThreshold: 0,
            lowerThreshold: 0,
        };
        const d2 = { ...d, address: "10.0.0.22" };
        // a NEW_SERVICE with an attribute this kernel does not know (type 30): silently ignored
        const unknownAttr = ipvsMessage(IPVS.cmd.NEW_SERVICE, [nest(IPVS.cmdAttr.SERVICE,
            [...packService({ family: "inet", fwmark: 2011, ...base }), attr(30, Buffer.from([1, 2, 3, 4]))])]);
        const steps: Step[] = [
            call("deleteService", id), call("deleteService", v6),
            call("deleteService", { family: "inet", fwmark: 2011 }),
            call("updateService", svc),                                   // 3 ESRCH
            call("deleteService", id),                                    // 4 ESRCH
            call("zero", id),                                             // 5 ESRCH
            call("service", id),                                          // 6 null
            call("destinations", id),                                     // 7 ESRCH
            call("addDestination", id, d),                                // 8 ESRCH
            call("addService", { ...svc, scheduler: "nosuch" }),          // 9 ENOENT
            call("addService", { ...svc, persistenceEngine: "nosuch" }),  // 10 ENOENT
            call("addService", { ...v6, netmask: 0 }),                    // 11 EINVAL: IPv6 prefix 0
            call("addService", svc),                                      // 12 ok
            call("addService", svc),                                      // 13 EEXIST
            call("updateService", { ...svc, scheduler: "nosuch" }),       // 14 ENOENT
            call("addDestination", id, d),                                // 15 ok
            call("addDestination", id, d),                                // 16 EEXIST
            call("updateDestination", id, d2),                            // 17 ENOENT
            call("deleteDestination", id, d2),                            // 18 ENOENT
            call("addDestination", id,
                { ...d, address: "fd00::26", addressFamily: "inet6" }),   // 19 EINVAL: mixed family, not tun
            call("addDestination", id,
                { ...d2, forwarding: "tun", tunnelType: "gue", tunnelPort: 0 }), // 20 EINVAL: GUE without port
            call("destinations", id),                                     // 21 only d
            call("deleteService", id),                                    // 22 ok
            call("deleteService", id),                                    // 23 ESRCH
            { raw: unknownAttr.toString("hex") },                         // 24 ok
            call("service", { family: "inet", fwmark: 2011 }),            // 25 there
            call("deleteService", { family: "inet", fwmark: 2011 }),      // 26 ok
            { sh: "ipvsadm -Sn" },                                        // 27
        ];
        const r = await run("director1", steps);
        const err = (k: number, code: string, op: string, meaning: string) => {
            expect(r[k].ok, `step ${k}`).toBe(false);
            expect(r[k].error, `step ${k}`).toEqual({
                name: "IpvsError", code, errno: { ESRCH: 3, ENOENT: 2, EEXIST: 17, EINVAL: 22 }[code], op, meaning,
                message: `${op}: ${code}: ${meaning}`,
            });
        };
        err(3, "ESRCH", "update service tcp 10.0.0.211:80", "no such service");
        err(4, "ESRCH", "delete service tcp 10.0.0.211:80", "no such service");
        err(5, "ESRCH", "zero service tcp 10.0.0.211:80", "no such service");
        expect(r[6]).toEqual({ ok: true, value: null });
        err(7, "ESRCH", "list destinations of service tcp 10.0.0.211:80", "no such service");
        err(8, "ESRCH", "add destination 10.0.0.21:80 to service tcp 10.0.0.211:80", "service not defined");
        err(9, "ENOENT", "add service tcp 10.0.0.211:80", "scheduler or persistence engine not found");
        err(10, "ENOENT", "add service tcp 10.0.0.211:80", "scheduler or persistence engine not found");
        err(11, "EINVAL", "add service tcp [fd00::211]:80", "invalid operation or combination");
        expect(r[12]).toMatchObject({ ok: true });
        err(13, "EEXIST", "add service tcp 10.0.0.211:80", "service already exists");
        err(14, "ENOENT", "update service tcp 10.0.0.211:80", "scheduler or persistence engine not found");
        expect(r[15]).toMatchObject({ ok: true });
        err(16, "EEXIST", "add destination 10.0.0.21:80 to service tcp 10.0.0.211:80", "destination already exists");
        err(17, "ENOENT", "update destination 10.0.0.22:80 of service tcp 10.0.0.211:80", "no such destination");
        err(18, "ENOENT", "delete destination 10.0.0.22:80 from service tcp 10.0.0.211:80", "no such destination");
        err(19, "EINVAL", "add destination [fd00::26]:80 to service tcp 10.0.0.211:80",
            "invalid operation or combination");
        err(20, "EINVAL", "add destination 10.0.0.22:80 to service tcp 10.0.0.211:80",
            "invalid operation or combination");
        expect(value<RealServer[]>(r[21]).map(withoutStats)).toEqual([d]);
        expect(r[22]).toMatchObject({ ok: true });
        err(23, "ESRCH", "delete service tcp 10.0.0.211:80", "no such service");
        expect(r[24]).toEqual({ ok: true, value: [] });
        expect(value<VirtualService>(r[25])).toMatchObject({ family: "inet", fwmark: 2011, scheduler: "wlc" });
        expect(r[26]).toMatchObject({ ok: true });
        expect(rulesOf(r[27].out!, [ruleKey(id), ruleKey(v6), "-f 2011"])).toEqual([]);
    });

    it("timeouts: read, set some, set all, 0 leaves one unchanged, restore", async () => {
        const [before, info] = await run("director2", [call("timeouts"), { sh: "ipvsadm -Ln --timeout" }]);
        const t0 = value<{ tcp: number; tcpFin: number; udp: number }>(before);
        expect(info.out).toBe(`Timeout (tcp tcpfin udp): ${t0.tcp} ${t0.tcpFin} ${t0.udp}\n`);
        const tcpZero = ipvsMessage(IPVS.cmd.SET_CONFIG, [
            attr(IPVS.cmdAttr.TIMEOUT_TCP, Buffer.alloc(4)),
            attr(IPVS.cmdAttr.TIMEOUT_UDP, Buffer.from([45, 0, 0, 0])),
        ]);
        const r = await run("director2", [
            call("setTimeouts", { tcp: 901 }),
            call("timeouts"),
            { sh: "ipvsadm -Ln --timeout" },
            call("setTimeouts", { tcpFin: 31, udp: 61 }),
            call("timeouts"),
            { raw: tcpZero.toString("hex") },
            call("timeouts"),
            call("setTimeouts", t0),
            call("timeouts"),
            { sh: "ipvsadm -Ln --timeout" },
        ]);
        expect(r[0]).toMatchObject({ ok: true });
        expect(value(r[1])).toEqual({ ...t0, tcp: 901 });
        expect(r[2].out).toBe(`Timeout (tcp tcpfin udp): 901 ${t0.tcpFin} ${t0.udp}\n`);
        expect(value(r[4])).toEqual({ tcp: 901, tcpFin: 31, udp: 61 });
        expect(r[5]).toMatchObject({ ok: true });
        expect(value(r[6]))
            .toEqual({ tcp: 901, tcpFin: 31, udp: 45 }); // tcp 0 = unchanged (little-endian raw: x86 lab)
        expect(value(r[8])).toEqual(t0);
        expect(r[9].out).toBe(`Timeout (tcp tcpfin udp): ${t0.tcp} ${t0.tcpFin} ${t0.udp}\n`);
    });

    it("sync daemons: master and backup with every setting, defaults, EEXIST and ESRCH", async () => {
        const [pre] = await run("director2", [call("daemons")]);
        expect(value(pre), "a sync daemon already runs on director2: another test owns it").toEqual([]);
        const master = {
            state: "master", mcastInterface: "back0", syncId: 7, syncMaxlen: 1200, mcastGroup: "239.1.2.3",
            mcastPort: 8850, mcastTtl: 2,
        };
        const backup = {
            state: "backup", mcastInterface: "back0", syncId: 9, syncMaxlen: 1400, mcastGroup: "FF02:0::1:0081",
            mcastPort: 8849, mcastTtl: 1,
        };
        const r = await run("director2", [
            call("startDaemon", master),
            call("startDaemon", backup),
            call("startDaemon", { ...master, syncId: 8 }),
            call("daemons"),
            { sh: "ipvsadm -Ln --daemon" },
            call("stopDaemon", "master"),
            call("stopDaemon", "backup"),
            call("stopDaemon", "backup"),
            call("startDaemon", { state: "backup", mcastInterface: "back0", syncId: 0 }),
            call("daemons"),
            { sh: "ipvsadm -Ln --daemon" },
            call("stopDaemon", "backup"),
            call("daemons"),
            { sh: "ipvsadm -Ln --daemon" },
        ]);
        expect(r[0]).toMatchObject({ ok: true });
        expect(r[1]).toMatchObject({ ok: true });
        expect(r[2].error).toMatchObject({
            code: "EEXIST", message: "start master sync daemon on back0 syncid 8: EEXIST: daemon already running",
        });
        const sortByState = (ds: Array<{ state: string }>) => [...ds].sort((a, b) => a.state.localeCompare(b.state));
        expect(sortByState(value(r[3]))).toEqual([{ ...backup, mcastGroup: "ff02::1:81" }, master]);
        expect(r[4].out!.split("\n").filter(Boolean).sort()).toEqual([
            "backup sync daemon (mcast=back0, syncid=9, maxlen=1400, group=ff02::1:81, port=8849, ttl=1)",
            "master sync daemon (mcast=back0, syncid=7, maxlen=1200, group=239.1.2.3, port=8850, ttl=2)",
        ]);
        expect(r[5]).toMatchObject({ ok: true });
        expect(r[6]).toMatchObject({ ok: true });
        expect(r[7].error)
            .toMatchObject({ code: "ESRCH", errno: 3, message: "stop backup sync daemon: ESRCH: no daemon running" });
        expect(r[8]).toMatchObject({ ok: true });
        // the kernel's defaults: group 224.0.0.81, port 8848, ttl 1, maxlen from the interface MTU
        const [dflt] = value<Array<Record<string, unknown>>>(r[9]);
        expect(dflt).toMatchObject({
            state: "backup", mcastInterface: "back0", syncId: 0, mcastGroup: "224.0.0.81", mcastPort: 8848, mcastTtl: 1,
        });
        expect(r[10].out).toBe(`backup sync daemon (mcast=back0, syncid=0, maxlen=${dflt.syncMaxlen}, ` +
            `group=224.0.0.81, port=8848, ttl=1)\n`);
        expect(r[11]).toMatchObject({ ok: true });
        expect(value(r[12])).toEqual([]);
        expect(r[13].out).toBe("");
    });

    it("info, counters and zero", async () => {
        const id: VirtualServiceId = { family: "inet", protocol: "tcp", address: "10.0.0.212", port: 80 };
        const d: RealServer = {
            address: "10.1.0.21", port: 80, addressFamily: "inet", forwarding: "nat", weight: 1, upperThreshold: 0,
            lowerThreshold: 0,
        };
        const r = await run("director1", [
            call("info"),
            { sh: "ipvsadm -Ln | head -1" },
            call("deleteService", id),
            call("addService", { ...id, ...base, scheduler: "rr" }),
            call("addDestination", id, d),
            // a local connection attempt is scheduled by IPVS on LOCAL_OUT; the counters reach the
            // dump when the estimator next runs (every 2 s)
            { sh: "timeout 1 bash -c 'echo > /dev/tcp/10.0.0.212/80' ; sleep 2.5; " +
                "ipvsadm -Ln --stats -t 10.0.0.212:80" },
            call("service", id),
            call("destinations", id),
            call("zero", id),
            call("service", id),
            call("destinations", id),
            call("deleteService", id),
        ]);
        expect(value(r[0])).toEqual({ version: "1.2.1", versionCode: 0x010201, connTableSize: 4096 });
        expect(r[1].out).toBe("IP Virtual Server version 1.2.1 (size=4096)\n");
        for (const k of [3, 4, 8, 11]) expect(r[k], `step ${k}`).toMatchObject({ ok: true });
        const line = /TCP\s+10\.0\.0\.212:80\s+(\d+)\s+(\d+)\s+(\d+)/.exec(r[5].out!);
        expect(line, r[5].out).not.toBeNull();
        const svc = value<VirtualService>(r[6]);
        expect(svc.stats!.conns).toBeGreaterThanOrEqual(1);
        expect(svc.stats!.inPkts).toBeGreaterThanOrEqual(1);
        expect([svc.stats!.conns, svc.stats!.inPkts, svc.stats!.outPkts]).toEqual(line!.slice(1).map(Number));
        expect(value<RealServer[]>(r[7])[0].stats!.conns).toBe(svc.stats!.conns);
        expect(value<VirtualService>(r[9]).stats).toMatchObject({ conns: 0, inPkts: 0, inBytes: 0 });
        expect(value<RealServer[]>(r[10])[0].stats).toMatchObject({ conns: 0, inPkts: 0 });
    });
});
