// The agent's failover against a lab host's own keepalived situation (rs3, through the provider's client):
// a node without keepalived is told how to install it, and nothing is applied; a keepalived the node runs
// for its own purposes is left alone, unless it speaks for the same virtual router, which is refused; a
// failover's delete stops our keepalived and removes its address; two directors with unicast peers (rs2
// and rs3 here) elect one master without multicast. Owns VRRP routers 77 to 79 and the addresses 10.0.0.77
// to 10.0.0.79 on rs2's and rs3's lan0.
import { afterAll, expect, test } from "vitest";
import { agentFor, closeAgents } from "../../provider/client";
import { closeLab, labConnection, sh } from "../lab";

const host = "rs3";
const state = "/var/lib/pulumi-lvs";
const own = "/tmp/pulumi-lvs-test-own-keepalived";
const holder = "test/failover";
const apply = async (changes: unknown[], on = host) =>
    (await agentFor(labConnection(on))).request<{ actions: string[] }>("apply", { changes });
const failover = (virtualRouterId: number, address: string, more: Record<string, unknown> = {}) => ({
    failover: { virtualRouterId, interface: "lan0", priority: 50, ...more },
    addresses: [{ address, interface: "lan0" }], holder,
});
const holds = async (h: string, address: string) =>
    (await sh(h, "ip -o addr show dev lan0")).includes(` ${address}/32 `);
const record = async () => JSON.parse(await sh(host, `cat ${state}/desired.json 2>/dev/null || echo '{}'`));
const alive = async (pid: number) => (await sh(host, `kill -0 ${pid} 2>/dev/null && echo yes || echo no`)).trim();

afterAll(async () => {
    for (const h of ["rs2", host]) await apply([{ deleteFailover: true, holder }], h).catch(() => undefined);
    await sh(host, `umount /usr/local/sbin/keepalived 2>/dev/null; kill $(cat ${own}.pid 2>/dev/null) 2>/dev/null; ` +
        `sleep 1; rm -f ${own}.*; ip addr del 10.0.0.77/32 dev lan0 2>/dev/null; true`).catch(() => undefined);
    await closeAgents();
    await closeLab();
});

test("without keepalived, a failover is refused, saying how to install it, and nothing is applied", async () => {
    // Hidden in rs3's own mount namespace (where its sshd, and so the agent, run).
    await sh(host, "mount --bind /dev/null /usr/local/sbin/keepalived");
    try {
        await expect(apply([failover(78, "10.0.0.78")])).rejects.toThrow(new RegExp(
            "failover needs keepalived, which this node does not have \\(looked in PATH and /usr/sbin, .*\\): " +
            "install the distribution's package \\(Debian, Ubuntu: apt-get install keepalived; "));
        expect((await record()).failover).toBeUndefined();
        expect(await sh(host, `ls ${state}`)).not.toContain("pulumi-lvs-keepalived.service");
    } finally {
        await sh(host, "umount /usr/local/sbin/keepalived");
    }
});

test("a keepalived of the node's own is left alone, unless it speaks for the same virtual router", async () => {
    await sh(host, `printf '%s\\n' 'vrrp_instance own { state BACKUP' 'interface lan0' 'virtual_router_id 77' ` +
        `'priority 50' 'advert_int 1' 'virtual_ipaddress { 10.0.0.77/32 dev lan0 }' '}' > ${own}.conf; ` +
        `setsid keepalived --vrrp --dont-fork -f ${own}.conf -p ${own}.pid -r ${own}.vrrp.pid ` +
        `>${own}.log 2>&1 < /dev/null & for i in $(seq 50); do [ -s ${own}.pid ] && break; sleep 0.1; done`);
    const ownPid = Number(await sh(host, `cat ${own}.pid`));
    expect(await alive(ownPid)).toBe("yes");
    await expect(apply([failover(77, "10.0.0.78")])).rejects.toThrow(new RegExp(
        `failover\\.virtualRouterId: 77 is taken: this node's own keepalived \\(pid ${ownPid}, ${own}\\.conf\\) ` +
        "speaks VRRP for virtual router 77: choose another id"));
    expect((await record()).failover).toBeUndefined();

    const made = await apply([failover(78, "10.0.0.78")]);
    expect(made.actions)
        .toEqual([expect.stringMatching(/^started failover: VRRP router 78 priority 50 on lan0 for 10\.0\.0\.78/)]);
    // Ours runs beside the node's own, under its own configuration and pid files, and (alone on its
    // router) takes the address.
    let ours = 0;
    for (const deadline = Date.now() + 20_000; !ours && Date.now() < deadline;) {
        ours = Number((await sh(host, `cat ${state}/keepalived.pid 2>/dev/null || echo 0`)).trim());
        if (!ours) await new Promise((r) => setTimeout(r, 300));
    }
    expect(ours).toBeGreaterThan(0);
    expect(await sh(host, `tr '\\0' ' ' < /proc/${ours}/cmdline`)).toContain(`--use-file=${state}/keepalived.conf`);
    await sh(host, "for i in $(seq 100); do ip -o addr show dev lan0 | grep -q ' 10.0.0.78/32 ' && exit 0; " +
        "sleep 0.1; done; exit 1");

    const gone = await apply([{ deleteFailover: true, holder }]);
    expect(gone.actions).toEqual(["stopped failover (VRRP router 78) and removed its addresses"]);
    expect(await alive(ours)).toBe("no");
    expect(await sh(host, "ip -o addr show dev lan0")).not.toContain(" 10.0.0.78/");
    expect(await sh(host, `ls ${state}`)).not.toMatch(/keepalived\.(conf|pid)|pulumi-lvs-keepalived\.service/);
    // The node's own was never touched.
    expect(await alive(ownPid)).toBe("yes");
});

test("two directors with unicast peers elect one master: the one of higher priority holds the address", async () => {
    await apply([failover(79, "10.0.0.79", { priority: 100, unicastPeers: ["10.0.0.23"] })], "rs2");
    await apply([failover(79, "10.0.0.79", { priority: 50, unicastPeers: ["10.0.0.22"] })], "rs3");
    try {
        for (const deadline = Date.now() + 20_000; !(await holds("rs2", "10.0.0.79"));) {
            if (Date.now() > deadline) throw new Error("rs2 did not take 10.0.0.79");
            await new Promise((r) => setTimeout(r, 300));
        }
        // Long past three advertisements: rs3 hears rs2 over unicast and stays the backup.
        await new Promise((r) => setTimeout(r, 5000));
        expect(await holds("rs3", "10.0.0.79")).toBe(false);
        expect(await holds("rs2", "10.0.0.79")).toBe(true);
        for (const [h, peer] of [["rs2", "10.0.0.23"], ["rs3", "10.0.0.22"]]) {
            expect(await sh(h, `cat ${state}/keepalived.conf`))
                .toContain(`    unicast_peer {\n        ${peer}\n    }\n`);
            // keepalived says which socket it speaks on: unicast to the peer, not multicast.
            expect(await sh(h, `grep 'VRRP sockpool' ${state}/keepalived.log | tail -1`), h).toMatch(/ unicast, /);
        }
    } finally {
        for (const h of ["rs2", "rs3"]) await apply([{ deleteFailover: true, holder }], h);
    }
    for (const h of ["rs2", "rs3"]) expect(await holds(h, "10.0.0.79"), h).toBe(false);
});
