// The folder provider/agent/host/ against the real lab kernel: addresses over rtnetlink, sysctls, modules, probe.
// `ip`, `cat /proc/sys/...` and /proc/modules in the same host are the oracle. Each test owns its addresses
// (10.0.0.220-239, fd00::220-239), removes what it added and restores every sysctl it changed, also when
// it fails (a shell safety net after the node process). Other tests run on the same VM at the same time.
import { afterAll, describe, expect, it } from "vitest";
import { closeLab, repoDir as repo, sh } from "../lab";

type Step = { call: string; args?: unknown[] } | { sh: string };
interface Result { value?: any; error?: string; code?: string; stdout?: string }

/** Runs the steps in one node process in the guest (one ssh round trip), then `finally` in the shell. */
async function run(host: string, steps: Step[], finallySh = "true"): Promise<Result[]> {
    const out = await sh(host,
        `cd ${repo} && node test/lab/host-driver.js; rc=$?; { ${finallySh}; } >/dev/null 2>&1; exit $rc`,
        JSON.stringify(steps));
    const results = JSON.parse(out) as Result[];
    expect(results).toHaveLength(steps.length);
    return results;
}

const call = (name: string, ...args: unknown[]): Step => ({ call: name, args });
const ok = (r: Result) => {
    expect(r.error).toBeUndefined();
    return r.value;
};
/** "inet 10.0.0.220/32" and "inet6 fd00::220/128" entries of `ip -o addr show` output. */
const inets = (text: string) => [...text.matchAll(/\binet6? (\S+)/g)].map((m) => m[1]).sort();
const mine = (list: string[]) => list.filter((a) => /^(10\.0\.0\.2[23]\d|fd00::2[23]\d)\//.test(a));
const proc = (name: string) => "/proc/sys/" + name.replace(/\./g, "/");

afterAll(closeLab);

// every test below works on its own host, so they run side by side
describe.concurrent("host operations on the lab kernel", () => {
    describe("addresses over rtnetlink", () => {
        it("adds, lists and deletes a /32 and a /128 on lo and prefixed addresses on lan0 (rs1), " +
            "with precise errnos", async () => {
            const r = await run("rs1", [
                { sh: "ip -o addr show dev lo; echo ==; ip -o addr show dev lan0" },
                call("addAddress", "lo", "10.0.0.220"),
                call("addAddress", "lo", "10.0.0.220"),
                call("addAddress", "lo", "fd00::220"),
                call("addAddress", "lo", "fd00::220"),
                call("addAddress", "lan0", "10.0.0.221", 24),
                call("addAddress", "lan0", "fd00::221", 64),
                { sh: "ip -o addr show dev lo; echo ==; ip -o addr show dev lan0" },
                call("listAddresses", "lo"),
                call("listAddresses", "lan0"),
                call("deleteAddress", "lo", "10.0.0.220", 24),
                call("deleteAddress", "lo", "10.0.0.220"),
                call("deleteAddress", "lo", "fd00::220"),
                call("deleteAddress", "lan0", "10.0.0.221", 24),
                call("deleteAddress", "lan0", "fd00::221", 64),
                call("deleteAddress", "lo", "10.0.0.220"),
                call("deleteAddress", "lo", "fd00::220"),
                { sh: "ip -o addr show dev lo; echo ==; ip -o addr show dev lan0" },
                call("addAddress", "nosuch0", "10.0.0.220"),
                call("listAddresses", "nosuch0"),
            ], "ip addr del 10.0.0.220/32 dev lo; ip addr del fd00::220/128 dev lo; " +
                "ip addr del 10.0.0.221/24 dev lan0; ip addr del fd00::221/64 dev lan0");

            const [lo0, lan0] = r[0].stdout!.split("==");
            expect(mine(inets(lo0))).toEqual([]);
            expect(mine(inets(lan0))).toEqual([]);

            ok(r[1]);
            expect(r[2]).toMatchObject({ code: "EEXIST" });
            expect(r[2].error).toContain("10.0.0.220/32 on lo");
            ok(r[3]);
            expect(r[4]).toMatchObject({ code: "EEXIST" });
            ok(r[5]);
            ok(r[6]);

            const [lo1, lan1] = r[7].stdout!.split("==");
            expect(mine(inets(lo1))).toEqual(["10.0.0.220/32", "fd00::220/128"]);
            expect(mine(inets(lan1))).toEqual(["10.0.0.221/24", "fd00::221/64"]);
            expect(lo1).toMatch(/inet 10\.0\.0\.220\/32 scope global lo/);
            expect(lan1).toMatch(/inet 10\.0\.0\.221\/24 scope global secondary lan0/);

            // listAddresses agrees with ip, address for address (all of them, not only ours)
            const listed = (x: Result) => (ok(x) as { address: string; prefixLength: number }[])
                .map((a) => `${a.address}/${a.prefixLength}`).sort();
            expect(listed(r[8])).toEqual(inets(lo1));
            expect(listed(r[9])).toEqual(inets(lan1));
            const vip = (ok(r[8]) as any[]).find((a) => a.address === "fd00::220");
            expect(vip).toMatchObject({ interface: "lo", family: 6, prefixLength: 128, scope: 0 });
            expect(vip.flags).toContain("nodad");
            expect((ok(r[8]) as any[]).find((a) => a.address === "10.0.0.220"))
                .toMatchObject({ family: 4, prefixLength: 32, label: "lo" });

            // another prefix is another address: EADDRNOTAVAIL, and the /32 stays until deleted by its prefix
            expect(r[10]).toMatchObject({ code: "EADDRNOTAVAIL" });
            for (const i of [11, 12, 13, 14]) ok(r[i]);
            expect(r[15]).toMatchObject({ code: "EADDRNOTAVAIL" });
            expect(r[16]).toMatchObject({ code: "EADDRNOTAVAIL" });

            const [lo2, lan2] = r[17].stdout!.split("==");
            expect(mine(inets(lo2))).toEqual([]);
            expect(mine(inets(lan2))).toEqual([]);
            expect(inets(lo2)).toEqual(inets(lo0));
            expect(inets(lan2)).toEqual(inets(lan0));

            expect(r[18]).toMatchObject({ code: "ENODEV" });
            expect(r[19]).toMatchObject({ code: "ENODEV" });
        });

        it("loads ipip, which creates tunl0, and puts a VIP on tunl0 with rp_filter relaxed (rs2)", async () => {
            const rp = ["net.ipv4.conf.tunl0.rp_filter", "net.ipv4.conf.all.rp_filter"];
            // 1: load ipip, read what is there
            const a = await run("rs2", [
                call("loadModule", "ipip"),
                { sh: "grep '^ipip ' /proc/modules; ip -o link show tunl0; cat " + rp.map(proc).join(" ") },
                call("getLink", "tunl0"),
                call("getSysctl", rp[0]),
                call("getSysctl", rp[1]),
            ]);
            expect(["available", "loaded"]).toContain(ok(a[0]));
            expect(a[1].stdout).toMatch(/^ipip /m);
            expect(a[1].stdout).toMatch(/tunl0@NONE/);
            expect(ok(a[2])).toMatchObject({ name: "tunl0" });
            const [ifaceRp, allRp] = [ok(a[3]) as number, ok(a[4]) as number];
            expect(a[1].stdout!.trim().split("\n").slice(-2).map(Number)).toEqual([ifaceRp, allRp]);

            // 2: VIP on tunl0, rp_filter relaxed on tunl0 and all (0 off or 2 loose, whichever differs from now),
            //    check, then undo everything
            const relaxed = [ifaceRp === 0 ? 2 : 0, allRp === 0 ? 2 : 0];
            const b = await run("rs2", [
                call("addAddress", "tunl0", "10.0.0.222"),
                call("setSysctl", rp[0], relaxed[0]),
                call("setSysctl", rp[1], relaxed[1]),
                { sh: "ip -o addr show dev tunl0; ip -o link show tunl0; cat " + rp.map(proc).join(" ") },
                call("listAddresses", "tunl0"),
                call("deleteAddress", "tunl0", "10.0.0.222"),
                call("setSysctl", rp[0], ifaceRp),
                call("setSysctl", rp[1], allRp),
                { sh: "ip -o addr show dev tunl0; cat " + rp.map(proc).join(" ") },
            ], `ip addr del 10.0.0.222/32 dev tunl0; echo ${ifaceRp} > ${proc(rp[0])}; echo ${allRp} > ${proc(rp[1])}`);
            ok(b[0]);
            expect(ok(b[1])).toBe(ifaceRp);
            expect(ok(b[2])).toBe(allRp);
            expect(mine(inets(b[3].stdout!))).toEqual(["10.0.0.222/32"]);
            expect(b[3].stdout).toMatch(/tunl0@NONE: <[^>]*\bUP\b/);
            expect(b[3].stdout!.trim().split("\n").slice(-2).map(Number)).toEqual(relaxed);
            expect((ok(b[4]) as any[]).map((x) => `${x.address}/${x.prefixLength}`)).toContain("10.0.0.222/32");
            ok(b[5]);
            expect(ok(b[6])).toBe(relaxed[0]);
            expect(ok(b[7])).toBe(relaxed[1]);
            expect(mine(inets(b[8].stdout!))).toEqual([]);
            expect(b[8].stdout!.trim().split("\n").slice(-2).map(Number)).toEqual([ifaceRp, allRp]);
        });
    });

    describe("sysctls through /proc/sys", () => {
        it("sets and restores arp_ignore / arp_announce on all and lan0 (rs3), cat as the oracle", async () => {
            const names = ["net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.lan0.arp_ignore",
                "net.ipv4.conf.all.arp_announce", "net.ipv4.conf.lan0.arp_announce"];
            const cat = { sh: "cat " + names.map(proc).join(" ") };
            const a = await run("rs3", [...names.map((n) => call("getSysctl", n)), cat]);
            const before = names.map((_, i) => ok(a[i]) as number);
            expect(a[4].stdout!.trim().split("\n").map(Number)).toEqual(before);
            // a value different from the current one, so that the write is visible
            const wanted = names.map((n, i) =>
                n.endsWith("arp_ignore") ? (before[i] === 1 ? 2 : 1) : (before[i] === 2 ? 1 : 2));

            const b = await run("rs3", [
                ...names.map((n, i) => call("setSysctl", n, wanted[i])),
                cat,
                call("setSysctl", names[0], 4),           // refused by the table, nothing written
                call("setSysctl", "net.ipv4.conf.lan0/../../../../kernel/modprobe.arp_ignore", 1),
                cat,
                ...names.map((n, i) => call("setSysctl", n, before[i])),
                cat,
            ], names.map((n, i) => `echo ${before[i]} > ${proc(n)}`).join("; "));
            names.forEach((_, i) => expect(ok(b[i])).toBe(before[i]));
            expect(b[4].stdout!.trim().split("\n").map(Number)).toEqual(wanted);
            expect(b[5]).toMatchObject({ code: "EINVAL" });
            expect(b[5].error).toMatch(/net\.ipv4\.conf\.all\.arp_ignore.*\b4\b.*0, 1, 2, 3 or 8/);
            expect(b[6]).toMatchObject({ code: "EINVAL" });
            expect(b[6].error).toMatch(/interface name/);
            expect(b[7].stdout!.trim().split("\n").map(Number)).toEqual(wanted);
            names.forEach((_, i) => expect(ok(b[8 + i])).toBe(wanted[i]));
            expect(b[12].stdout!.trim().split("\n").map(Number)).toEqual(before);
        });

        it("sets and restores drop_entry, secure_tcp and sync_threshold on a director (director2)", async () => {
            const names = ["net.ipv4.vs.drop_entry", "net.ipv4.vs.secure_tcp", "net.ipv4.vs.sync_threshold"];
            const cat = { sh: "cat " + names.map(proc).join(" ") };
            const a = await run("director2", [...names.map((n) => call("getSysctl", n)), cat]);
            const before = names.map((_, i) => ok(a[i]));
            expect(a[3].stdout).toBe(`${before[0]}\n${before[1]}\n${before[2][0]}\t${before[2][1]}\n`);
            const drop = before[0] === 3 ? 0 : 3;
            const secure = before[1] === 3 ? 0 : 3;
            const threshold: [number, number] = before[2][0] === 7 ? [8, 90] : [7, 90];

            const restoreSh = `echo ${before[0]} > ${proc(names[0])}; echo ${before[1]} > ${proc(names[1])}; ` +
                `echo '${before[2][0]} ${before[2][1]}' > ${proc(names[2])}`;
            const b = await run("director2", [
                call("setSysctl", names[0], drop),
                call("setSysctl", names[1], secure),
                call("setSysctl", names[2], threshold),
                cat,
                call("setSysctl", names[2], [90, 7]),    // threshold must be below period: refused before the kernel
                call("setSysctl", names[1], 1),          // automatic: the kernel may show 1 or 2 from now on
                cat,
                ...names.map((n, i) => call("setSysctl", n, before[i])),
                cat,
            ], restoreSh);
            expect(ok(b[0])).toBe(before[0]);
            expect(ok(b[1])).toBe(before[1]);
            expect(ok(b[2])).toEqual(before[2]);
            expect(b[3].stdout).toBe(`${drop}\n${secure}\n${threshold[0]}\t${threshold[1]}\n`);
            expect(b[4]).toMatchObject({ code: "EINVAL" });
            expect(b[4].error).toMatch(/net\.ipv4\.vs\.sync_threshold.*\[90,7\].*threshold < period/);
            expect(ok(b[5])).toBe(secure);
            expect(["1", "2"]).toContain(b[6].stdout!.split("\n")[1]);
            expect(b[6].stdout!.split("\n")[2]).toBe(`${threshold[0]}\t${threshold[1]}`);
            expect(b[10].stdout).toBe(a[3].stdout);
        });
    });

    describe("modules and probe", () => {
        it("loads schedulers through the kernel's modprobe, refuses others, and the probe matches the kernel " +
            "(director1)", async () => {
            const scheds = "rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos";
            const r = await run("director1", [
                call("loadModule", "ip_vs_ovf"),
                call("loadModule", "ip_vs_lblc"),
                call("loadModule", "ip_vs_lblc"),
                { sh: "grep -E '^ip_vs_(ovf|lblc) ' /proc/modules | cut -d' ' -f1 | sort; " +
                    "cat /proc/sys/net/ipv4/vs/lblc_expiration" },
                call("getSysctl", "net.ipv4.vs.lblc_expiration"),
                call("loadModule", "ip_vs_twos"),
                call("loadModule", "nf_tables"),
                call("loadModule", "ip_vs_rr; reboot"),
                call("probe"),
                {
                    sh: `uname -r; head -1 /proc/net/ip_vs; for s in ${scheds}; do m=ip_vs_$s; ` +
                        `if grep -q "^$m " /proc/modules; then st=loaded; ` +
                        `elif [ -d /sys/module/$m ]; then st=builtin; ` +
                        `elif grep -q "/$m.ko" /lib/modules/$(uname -r)/modules.dep; then st=available; ` +
                        `else st=missing; fi; echo "$s $st"; done`,
                },
            ]);
            expect(["available", "loaded"]).toContain(ok(r[0]));
            expect(["available", "loaded"]).toContain(ok(r[1]));
            expect(ok(r[2])).toBe("loaded");
            const lines = r[3].stdout!.trim().split("\n");
            expect(lines.slice(0, 2)).toEqual(["ip_vs_lblc", "ip_vs_ovf"]);
            expect(ok(r[4])).toBe(Number(lines[2]));      // the file lblc creates in every namespace
            expect(r[5].error).toMatch(/load module ip_vs_twos: .*modprobe ip_vs_twos failed/);
            expect(r[6]).toMatchObject({ code: "EINVAL" });
            expect(r[6].error).toMatch(/module "nf_tables" is not one the agent loads/);
            expect(r[7]).toMatchObject({ code: "EINVAL" });

            const p = ok(r[8]);
            const [release, ipvsLine, ...states] = r[9].stdout!.trim().split("\n");
            expect(p.kernelRelease).toBe(release);
            expect(p.kernel).toEqual({ major: 6, minor: 1, patch: 0 });
            expect(ipvsLine).toBe(`IP Virtual Server version ${p.ipvs.version} (size=${p.ipvs.connTableSize})`);
            for (const line of states) {
                const [s, st] = line.split(" ");
                // modules are never unloaded, but a concurrent test may load one between probe and oracle
                if (!(p.schedulers[s] === "available" && st === "loaded")) expect(`${s} ${p.schedulers[s]}`).toBe(line);
            }
            expect(p.schedulers).toMatchObject({ ovf: "loaded", lblc: "loaded", twos: "missing" });
            expect(p.features).toMatchObject({ schedulerMh: true, tunnelGre: true, schedulerTwos: false });
        });
    });
});
