// check and diff of the providers: RealServerNode, DosProtection, Director sync daemons, and how RealServer and
// VirtualService name a setting that is not an object (no host is touched).
import { describe, expect, it } from "vitest";
import { dosProtection, realServerNode } from "../../provider/resources";
import { director, realServer, virtualService } from "../../provider/resources";

const connection = {
    host: "10.0.0.21", hostKey: "SHA256:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", privateKey: "k",
};
const failures = async (p: typeof dosProtection, news: Record<string, unknown>) =>
    ((await p.check!({}, { connection, ...news })).failures ?? []).map((f) => `${f.property}: ${f.reason}`);

describe("RealServerNode check", () => {
    it("accepts dr and tun with IPv4 and IPv6 VIPs", async () => {
        expect(await failures(realServerNode,
            { forwarding: "dr", vips: ["10.0.0.245", "fd00::245"], arpInterface: "lan0" })).toEqual([]);
        expect(await failures(realServerNode,
            { forwarding: "tun", vips: ["10.0.0.245"], arpInterface: "eth0" })).toEqual([]);
    });
    it("names each bad field", async () => {
        const out = await failures(realServerNode,
            { forwarding: "nat", vips: ["10.0.0.245", "10.0.0.300"], arpInterface: "lan/0" });
        expect(out).toEqual([
            'forwarding: "nat" is not a forwarding method a real-server node takes part in (dr or tun)',
            'vips[1]: "10.0.0.300" is not an IPv4 or IPv6 address',
            expect.stringMatching(/^arpInterface: interface name "lan\/0" is invalid/),
        ]);
        expect(await failures(realServerNode, { forwarding: "dr", vips: [], arpInterface: "lan0" }))
            .toEqual(["vips: [] is not a list of at least one VIP"]);
    });
    it("updates in place unless the host changes; a sysctl changed by hand is a change", async () => {
        const olds = { connection, forwarding: "dr", vips: ["10.0.0.245"], arpInterface: "lan0",
            sysctls: {
                "net.ipv4.conf.all.arp_announce": 2, "net.ipv4.conf.all.arp_ignore": 1,
                "net.ipv4.conf.lan0.arp_announce": 2, "net.ipv4.conf.lan0.arp_ignore": 1,
            } };
        expect((await realServerNode.diff!("id", olds, { ...olds, sysctls: undefined })).changes).toBe(false);
        expect((await realServerNode.diff!("id",
            { ...olds, sysctls: { ...olds.sysctls, "net.ipv4.conf.lan0.arp_ignore": 0 } }, olds)).changes).toBe(true);
        expect(await realServerNode.diff!("id", olds, { ...olds, forwarding: "tun" }))
            .toMatchObject({ changes: true, replaces: [] });
        expect(await realServerNode.diff!("id", olds, { ...olds, connection: { ...connection, host: "10.0.0.22" } }))
            .toMatchObject({ replaces: ["connection"] });
    });
});

describe("DosProtection check", () => {
    it("accepts modes, booleans and integers in range", async () => {
        expect(await failures(dosProtection, {
            dropEntry: "auto", dropPacket: "always", secureTcp: "off", amemthresh: 2048, amDroprate: 10,
            expireNodestConn: true, expireQuiescentTemplate: false, conntrack: true, connReuseMode: 1,
        })).toEqual([]);
    });
    it("names the field, the value and the rule", async () => {
        expect(await failures(dosProtection, {
            dropEntry: 1, secureTcp: "sometimes", conntrack: "yes", amemthresh: -1, connReuseMode: 4,
        })).toEqual([
            'dropEntry: 1 is invalid (must be off, auto or always; net.ipv4.vs.drop_entry)',
            'secureTcp: "sometimes" is invalid (must be off, auto or always; net.ipv4.vs.secure_tcp)',
            expect.stringMatching(/^amemthresh: sysctl net\.ipv4\.vs\.amemthresh: value -1 is invalid \(must be /),
            'conntrack: "yes" is invalid (must be a boolean; net.ipv4.vs.conntrack)',
            expect.stringMatching(new RegExp(/^connReuseMode: sysctl net\.ipv4\.vs\.conn_reuse_mode: /.source +
                /value 4 is invalid \(must be a bitmask 0-3/.source)),
        ]);
    });
});

describe("Director sync daemons", () => {
    it("accepts a master and a backup, with every setting or only an interface", async () => {
        expect(await failures(director, {
            sync: { master: { interface: "lan0", syncId: 46 }, backup: { interface: "lan0" } },
        })).toEqual([]);
        expect(await failures(director, {
            sync: { master: { interface: "eth0", syncId: 255, maxLen: 1400, group: "239.1.2.3", port: 8850, ttl: 2 } },
        })).toEqual([]);
        expect(await failures(director, {
            sync: { backup: { interface: "eth0", syncId: 0, group: "FF02::1:81" } },
        })).toEqual([]);
        expect(await failures(director, { sync: {} })).toEqual([]);
    });
    it("names each bad setting by its path, with the value and the rule", async () => {
        expect(await failures(director, {
            sync: { master: { interface: "lan/0", syncId: 256, maxLen: 70000, group: "10.0.0.1", port: 0, ttl: 256 } },
        })).toEqual([
            `sync.master.interface: interface name "lan/0" is invalid ` +
                `(must be 1-15 printable ASCII characters, no '/', ':' or whitespace, not '.' or '..')`,
            "sync.master.syncId: 256 is not a sync id: an integer from 0 to 255",
            "sync.master.maxLen: 70000 is not a sync message length: 1 to 65507 bytes (one UDP datagram)",
            'sync.master.group: "10.0.0.1" is not a multicast group (224.0.0.0/4 or ff00::/8)',
            "sync.master.port: 0 is not a port: 1 to 65535",
            "sync.master.ttl: 256 is not a TTL: 1 to 255",
        ]);
        expect(await failures(director, { sync: { backup: { syncId: -1 } } })).toEqual([
            `sync.backup.interface: interface name undefined is not a string ` +
                `(must be 1-15 printable ASCII characters, no '/', ':' or whitespace, not '.' or '..')`,
            "sync.backup.syncId: -1 is not a sync id: an integer from 0 to 255",
        ]);
        expect(await failures(director, { sync: { backup: { interface: "lan0", syncid: 4 } } })).toEqual([
            "sync.backup.syncid: unknown sync daemon setting (allowed: interface, syncId, maxLen, group, port, ttl)",
        ]);
        expect(await failures(director, { sync: { primary: { interface: "lan0" }, master: "lan0" } })).toEqual([
            "sync.primary: unknown sync daemon state (master, backup)",
            'sync.master: "lan0" is not a sync daemon: give at least its interface',
        ]);
        expect(await failures(director, { sync: [] }))
            .toEqual(["sync: [] is not a set of sync daemons: give master and / or backup"]);
    });
    it("updates in place; the default sync id and the spelling of a group are no change", async () => {
        const olds = { connection, sync: { master: { interface: "lan0", syncId: 46 } } };
        expect(await director.diff!("id", olds, olds)).toMatchObject({ changes: false, replaces: [] });
        expect(await director.diff!("id", olds, { connection, sync: { master: { syncId: 46, interface: "lan0" } } }))
            .toMatchObject({ changes: false });
        expect(await director.diff!("id", { connection, sync: { backup: { interface: "lan0", syncId: 0 } } },
            { connection, sync: { backup: { interface: "lan0" } } })).toMatchObject({ changes: false });
        expect(await director.diff!("id", { connection, sync: { backup: { interface: "lan0", group: "ff02::1:81" } } },
            { connection, sync: { backup: { interface: "lan0", group: "FF02:0::1:0081" } } }))
            .toMatchObject({ changes: false });
        expect(await director.diff!("id", { connection }, { connection, sync: {} })).toMatchObject({ changes: false });
        // A daemon a refresh found stopped (missing from the olds), another id, another state, none at all.
        expect(await director.diff!("id", { connection, sync: {} }, olds))
            .toMatchObject({ changes: true, replaces: [] });
        expect(await director.diff!("id", olds, { connection, sync: { master: { interface: "lan0", syncId: 47 } } }))
            .toMatchObject({ changes: true, replaces: [] });
        expect(await director.diff!("id", olds, { connection, sync: { backup: { interface: "lan0", syncId: 46 } } }))
            .toMatchObject({ changes: true, replaces: [] });
        expect(await director.diff!("id", olds, { connection })).toMatchObject({ changes: true, replaces: [] });
    });
});

describe("RealServer and VirtualService check", () => {
    const service = { protocol: "tcp", address: "10.0.0.1", port: 80 };
    it("names a setting that is not an object once, with the rule of its table", async () => {
        const realServerFailures = failures(realServer as typeof dosProtection,
            { service, address: "10.0.0.2", forwarding: "tun", tunnel: "gue" });
        expect(await realServerFailures).toEqual(
            ['tunnel: "gue" is not a tunnel setting: an object, e.g. { type: "gue", port: 6080 }']);
        const serviceFailures = failures(virtualService as typeof dosProtection,
            { ...service, scheduler: "sh", schedulerFlags: "sh-port" });
        expect(await serviceFailures)
            .toEqual(['schedulerFlags: "sh-port" is not a list of scheduler flags']);
    });
});
