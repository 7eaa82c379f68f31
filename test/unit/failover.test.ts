// Failover (provider/model/failover.ts, provider/agent/failover.ts): the declaration's rules, and the
// keepalived configuration and unit the agent writes from it. keepalived itself is exercised in the lab
// (test/e2e/ha.test.ts); this checks our own text.
import { describe, expect, it } from "vitest";
import * as model from "../../provider/model";
import { keepalivedConf, keepalivedUnit } from "../../provider/agent/failover";
import { step } from "../../provider/agent/apply/validate";

const vip = { address: "10.0.0.246", interface: "lan0", prefixLength: 32 };

describe("a failover declaration", () => {
    it("takes the defaults of keepalived's VRRP: priority 100, an advertisement a second, preempt", () => {
        expect(model.validateFailover({ virtualRouterId: 46, interface: "lan0" })).toEqual([]);
        expect(model.normalizeFailover({ virtualRouterId: 46, interface: "lan0" }, [vip])).toEqual({
            virtualRouterId: 46, priority: 100, advertInterval: 1, downTimerAdverts: 3, preempt: true,
            interface: "lan0", syncDaemons: "both", addresses: [vip],
        });
    });

    it("names each bad field with its value and rule", () => {
        expect(model.validateFailover({ priority: 255, advertInterval: 41, downTimerAdverts: 0, preempt: 1,
            interface: "a b", unicastPeers: ["x"], vrid: 1 })).toEqual([
            { property: "failover.vrid", reason: 'unknown failover field "vrid" (allowed: virtualRouterId, priority, ' +
                "advertInterval, downTimerAdverts, preempt, interface, unicastPeers, syncDaemons)" },
            { property: "failover.virtualRouterId", reason: "is required (virtual_router_id in keepalived)" },
            { property: "failover.priority", reason: "255 is not a VRRP priority: an integer from 1 to 254" },
            { property: "failover.advertInterval",
                reason: "41 is not an advertisement interval: 0.01 to 40.95 seconds, in hundredths" },
            { property: "failover.downTimerAdverts",
                reason: "0 is not a number of advertisements: an integer from 1 to 100" },
            { property: "failover.preempt", reason: "1 is not a boolean" },
            { property: "failover.interface", reason: expect.stringMatching(/^interface name "a b" is invalid/) },
            { property: "failover.unicastPeers",
                reason: '["x"] is not a list of addresses (IPv4 or IPv6) of the other directors' },
        ]);
        expect(model.validateFailover({ virtualRouterId: 1, interface: "lan0", advertInterval: 0.25 })).toEqual([]);
        expect(model.validateFailover({ virtualRouterId: 1, interface: "lan0", syncDaemons: "master" })).toEqual([
            { property: "failover.syncDaemons",
                reason: '"master" is not a way to run the sync daemons: use "both" or "follow"' }]);
        expect(model.validateFailover({ virtualRouterId: 1, interface: "lan0", advertInterval: 0.255 })[0].reason)
            .toMatch(/in hundredths/);
    });

    it("reaches the agent as a change with the addresses it moves, which it needs", () => {
        const s = step({ failover: { virtualRouterId: 46, interface: "lan0", priority: 200 },
            addresses: [{ address: "10.0.0.246", interface: "lan0" }], holder: "director/d1" }, "changes[0]");
        expect(s).toEqual({ kind: "failover", holder: "director/d1", want: { virtualRouterId: 46, priority: 200,
            advertInterval: 1, downTimerAdverts: 3, preempt: true, interface: "lan0", syncDaemons: "both",
            addresses: [vip] } });
        expect(() => step({ failover: { virtualRouterId: 46, interface: "lan0" }, addresses: [] }, "changes[0]"))
            .toThrow(/^changes\[0\]\.addresses: \[\] is not a list of addresses: failover moves the director's/);
        expect(() => step({ failover: { interface: "lan0" }, addresses: [vip] }, "changes[0]"))
            .toThrow(/^changes\[0\]\.failover\.virtualRouterId: failover\.virtualRouterId: is required/);
        expect(step({ deleteFailover: true }, "changes[1]")).toMatchObject({ kind: "deleteFailover" });
    });
});

describe("keepalived's configuration", () => {
    const f = model.normalizeFailover({ virtualRouterId: 46, interface: "lan0", priority: 200 }, [vip]);
    const notify = ["/usr/bin/node", "/root/.pulumi-lvs/agent/h/agent.js", "vrrp-state"];

    it("is one VRRP instance (version 3, starting as a backup) with the addresses, the notify hook, and nothing " +
        "of IPVS", () => {
        const conf = keepalivedConf(f, { notify });
        expect(conf).toContain("    vrrp_version 3\n");
        expect(conf).toContain("vrrp_instance pulumi_lvs_46 {\n    state BACKUP\n    interface lan0\n" +
            "    virtual_router_id 46\n    priority 200\n    advert_int 1\n    virtual_ipaddress {\n" +
            "        10.0.0.246/32 dev lan0\n    }\n");
        expect(conf).toContain(`    notify "${notify.join(" ")}"\n`);
        expect(conf).not.toMatch(/virtual_server|lvs_sync_daemon|nopreempt|unicast_peer|track_script|down_timer/);
    });

    it("says down_timer_adverts when it is not VRRP's 3", () => {
        expect(keepalivedConf({ ...f, downTimerAdverts: 2 }, { notify }))
            .toContain("    advert_int 1\n    down_timer_adverts 2\n    virtual_ipaddress {\n");
    });

    it("says nopreempt and unicast peers when declared, and tracks the health daemon when there is one", () => {
        const conf = keepalivedConf({ ...f, preempt: false, unicastPeers: ["10.0.0.12"] },
            { notify, healthPidFile: "/var/lib/pulumi-lvs/health.pid" });
        expect(conf).toContain("    nopreempt\n    unicast_peer {\n        10.0.0.12\n    }\n");
        expect(conf).toContain("vrrp_script pulumi_lvs_health {\n" +
            "    script \"/bin/sh -c 'read p < /var/lib/pulumi-lvs/health.pid && kill -0 $p'\"\n    interval 2\n" +
            "    timeout 10\n    fall 3\n    rise 1\n    weight 0\n}\n");
        expect(conf).toContain("    track_script {\n        pulumi_lvs_health\n    }\n");
    });

    it("runs under a unit of its own: VRRP only, in the foreground, its files beside the record, after the " +
        "restore", () => {
        const unit = keepalivedUnit("/usr/sbin/keepalived", "/var/lib/pulumi-lvs", "pulumi-lvs-restore.service");
        expect(unit).toContain("ExecStart=/usr/sbin/keepalived --vrrp --dont-fork --log-console --log-detail " +
            "--use-file=/var/lib/pulumi-lvs/keepalived.conf --pid=/var/lib/pulumi-lvs/keepalived.pid " +
            "--vrrp_pid=/var/lib/pulumi-lvs/keepalived-vrrp.pid\n");
        expect(unit).toContain("After=network-online.target pulumi-lvs-restore.service\n");
        expect(unit).toContain("Restart=always\nRestartSec=1\n");
    });
});
