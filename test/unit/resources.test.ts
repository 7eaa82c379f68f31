// check and diff of the RealServerNode and DosProtection providers (no host is touched).
import { describe, expect, it } from "vitest";
import { dosProtection, realServerNode } from "../../provider/resources";

const connection = { host: "10.0.0.21", hostKey: "SHA256:x", privateKey: "k" };
const failures = async (p: typeof dosProtection, news: Record<string, unknown>) =>
    ((await p.check!({}, { connection, ...news })).failures ?? []).map((f) => `${f.property}: ${f.reason}`);

describe("RealServerNode check", () => {
    it("accepts dr and tun with IPv4 and IPv6 VIPs", async () => {
        expect(await failures(realServerNode, { forwarding: "dr", vips: ["10.0.0.245", "fd00::245"], arpInterface: "lan0" })).toEqual([]);
        expect(await failures(realServerNode, { forwarding: "tun", vips: ["10.0.0.245"], arpInterface: "eth0" })).toEqual([]);
    });
    it("names each bad field", async () => {
        const out = await failures(realServerNode, { forwarding: "nat", vips: ["10.0.0.245", "10.0.0.300"], arpInterface: "lan/0" });
        expect(out).toEqual([
            'forwarding: "nat" is not a forwarding method a real-server node takes part in (dr or tun)',
            'vips[1]: "10.0.0.300" is not an IPv4 or IPv6 address',
            expect.stringMatching(/^arpInterface: interface name "lan\/0" is invalid/),
        ]);
        expect(await failures(realServerNode, { forwarding: "dr", vips: [], arpInterface: "lan0" })).toEqual(["vips: [] is not a list of at least one VIP"]);
    });
    it("updates in place unless the host changes; a sysctl changed by hand is a change", async () => {
        const olds = { connection, forwarding: "dr", vips: ["10.0.0.245"], arpInterface: "lan0",
            sysctls: { "net.ipv4.conf.all.arp_announce": 2, "net.ipv4.conf.all.arp_ignore": 1, "net.ipv4.conf.lan0.arp_announce": 2, "net.ipv4.conf.lan0.arp_ignore": 1 } };
        expect((await realServerNode.diff!("id", olds, { ...olds, sysctls: undefined })).changes).toBe(false);
        expect((await realServerNode.diff!("id", { ...olds, sysctls: { ...olds.sysctls, "net.ipv4.conf.lan0.arp_ignore": 0 } }, olds)).changes).toBe(true);
        expect(await realServerNode.diff!("id", olds, { ...olds, forwarding: "tun" })).toMatchObject({ changes: true, replaces: [] });
        expect(await realServerNode.diff!("id", olds, { ...olds, connection: { ...connection, host: "10.0.0.22" } })).toMatchObject({ replaces: ["connection"] });
    });
});

describe("DosProtection check", () => {
    it("accepts modes, booleans and integers in range", async () => {
        expect(await failures(dosProtection, { dropEntry: "auto", dropPacket: "always", secureTcp: "off", amemthresh: 2048, amDroprate: 10,
            expireNodestConn: true, expireQuiescentTemplate: false, conntrack: true, connReuseMode: 1 })).toEqual([]);
    });
    it("names the field, the value and the rule", async () => {
        expect(await failures(dosProtection, { dropEntry: 1, secureTcp: "sometimes", conntrack: "yes", amemthresh: -1, connReuseMode: 4 })).toEqual([
            'dropEntry: 1 is invalid (must be off, auto or always; net.ipv4.vs.drop_entry)',
            'secureTcp: "sometimes" is invalid (must be off, auto or always; net.ipv4.vs.secure_tcp)',
            expect.stringMatching(/^amemthresh: sysctl net\.ipv4\.vs\.amemthresh: value -1 is invalid \(must be /),
            'conntrack: "yes" is invalid (must be a boolean; net.ipv4.vs.conntrack)',
            expect.stringMatching(/^connReuseMode: sysctl net\.ipv4\.vs\.conn_reuse_mode: value 4 is invalid \(must be a bitmask 0-3/),
        ]);
    });
});
