// Holders, through the agent against the lab kernel: every object pulumi-lvs makes on a node stays while
// any resource that declares it is left, and two resources cannot declare one object differently. The
// oracle is ipvsadm and ip. Services 10.4.0.0/16 and fd04::/64 on director1; sync daemons, timeouts and
// the addresses 10.4.9.0/24 on lo of rs2 (nobody else's there); rs2's record, damaged and put back.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { agentFor, closeAgents } from "../../provider/client";
import { closeLab, labConnection, sh } from "../lab";

interface Report { changed: boolean; actions: string[]; warnings?: string[]; kept?: string[] }
const on = (host: string) => async (changes: unknown[]) =>
    (await agentFor(labConnection(host))).request<Report>("apply", { changes });
const d1 = on("director1"), rs2 = on("rs2");
const record = async (host: string) => JSON.parse(await sh(host, "cat /var/lib/pulumi-lvs/desired.json"));
const ours = async () => (await sh("director1", "ipvsadm -Sn")).split("\n").filter((l) => / (10\.4\.|\[fd04:)/.test(l));

const svc = { protocol: "tcp", address: "10.4.0.1", port: 80 };
const rs = { address: "10.1.0.21", port: 8080, forwarding: "nat", weight: 2 };

/** Lets every holder of this file's services go (so the record forgets them), then removes what is left by hand. */
async function clean(): Promise<void> {
    const r = await record("director1").catch(() => ({ services: {}, holders: {} }));
    const changes = Object.entries(r.services as Record<string, { service: Record<string, unknown> }>)
        .filter(([k]) => /(10\.4\.|\[fd04:)/.test(k))
        .flatMap(([k, { service }]) => (r.holders[`service ${k}`] ?? [undefined]).map((holder: string | undefined) =>
            ({ deleteService: { protocol: service.protocol, address: service.address, port: service.port }, holder })));
    if (changes.length) await d1(changes);
    await sh("director1", `ipvsadm -Sn | awk '$1 == "-A" && $3 ~ /^(10\\.4\\.|\\[fd04:)/ { print "-D", $2, $3 }' | ` +
        `while read -r a; do ipvsadm $a; done`);
}
beforeAll(clean);
beforeEach(clean);
afterAll(async () => {
    await clean();
    await sh("rs2", "ipvsadm --stop-daemon master 2>/dev/null; ip addr del 10.4.9.1/32 dev lo 2>/dev/null; true");
    await closeAgents();
    await closeLab();
});

describe("services and real servers", () => {
    test("held by two, an object stays until the last lets go", async () => {
        await d1([{ service: svc, holder: "test/vs-a" }, { service: svc, realServer: rs, holder: "test/rs-a" }]);
        const both = await d1([{ service: svc, holder: "test/vs-b" },
            { service: svc, realServer: rs, holder: "test/rs-b" }]);
        expect(both).toEqual({ changed: false, actions: [] });
        const r = await record("director1");
        expect(r.holders["service tcp/10.4.0.1:80"]).toEqual(["test/vs-a", "test/vs-b"]);
        expect(r.holders["real server 10.1.0.21|8080 of tcp/10.4.0.1:80"]).toEqual(["test/rs-a", "test/rs-b"]);
        const table = await ours();
        // The first holders let go (as the old resources of a rename do): nothing changes in the kernel.
        const kept = await d1([
            { service: svc, deleteRealServer: { address: rs.address, port: rs.port }, holder: "test/rs-a" },
            { deleteService: svc, holder: "test/vs-a" }]);
        expect(kept.actions).toEqual([]);
        expect(kept.kept).toEqual(["kept real server 10.1.0.21|8080 of tcp/10.4.0.1:80: still held by test/rs-b",
            "kept service tcp/10.4.0.1:80: still held by test/vs-b"]);
        expect(await ours()).toEqual(table);
        // A delete repeated by a holder that let go already changes nothing either.
        expect((await d1([{ deleteService: svc, holder: "test/vs-a" }])).actions).toEqual([]);
        expect(await ours()).toEqual(table);
        const gone = await d1([
            { service: svc, deleteRealServer: { address: rs.address, port: rs.port }, holder: "test/rs-b" },
            { deleteService: svc, holder: "test/vs-b" }]);
        expect(gone.actions)
            .toEqual(["deleted real server 10.1.0.21:8080 of tcp/10.4.0.1:80", "deleted service tcp/10.4.0.1:80"]);
        expect(await ours()).toEqual([]);
        const after = await record("director1");
        expect(after.services["tcp/10.4.0.1:80"]).toBeUndefined();
        expect(Object.keys(after.holders).filter((k) => k.includes("10.4.0.1"))).toEqual([]);
    });

    test("a second holder declaring other settings is refused, naming the first, and nothing changes", async () => {
        await d1([{ service: { ...svc, scheduler: "rr" }, holder: "test/vs-a" },
            { service: svc, realServer: rs, holder: "test/rs-a" }]);
        const table = await ours();
        await expect(d1([{ service: svc, realServer: { ...rs, weight: 3 }, holder: "test/rs-b" }]))
            .rejects.toThrow("real server 10.1.0.21|8080 of tcp/10.4.0.1:80 is held by test/rs-a, " +
                "which declared it with other settings (weight 2 -> 3 here)");
        await expect(d1([{ service: { ...svc, scheduler: "wlc" }, holder: "test/vs-b" },
            { service: { protocol: "tcp", address: "10.4.0.2", port: 80 }, holder: "test/vs-c" }]))
            .rejects.toThrow(new RegExp(/service tcp\/10\.4\.0\.1:80 is held by test\/vs-a, /.source +
                /which declared it with other settings \(scheduler "rr" -> "wlc" here\)/.source));
        expect(await ours()).toEqual(table);
        // Its own holder changes it (an update), with the adopt the provider sends.
        expect((await d1([{ service: svc, realServer: { ...rs, weight: 3 }, holder: "test/rs-a", adopt: true }]))
            .actions)
            .toEqual(["updated real server 10.1.0.21:8080 of tcp/10.4.0.1:80: weight 2 -> 3"]);
        await d1([{ deleteService: svc, holder: "test/vs-a" }]);
        expect(await ours()).toEqual([]);
    });

    test("a service made by hand is taken over with a warning, and the record holds it from then on", async () => {
        await sh("director1", "ipvsadm -A -t 10.4.0.3:80 -s rr");
        const r = await d1([{ service: { protocol: "tcp", address: "10.4.0.3", port: 80, scheduler: "rr" },
            holder: "test/vs-a" }]);
        expect(r.actions).toEqual([]);
        expect(r.warnings).toEqual(["took over service tcp/10.4.0.3:80, which pulumi-lvs had not made " +
            "(it was not in this node's record)"]);
        const again = await d1([{ service: { protocol: "tcp", address: "10.4.0.3", port: 80, scheduler: "rr" },
            holder: "test/vs-b" }]);
        expect(again.warnings).toBeUndefined();
        await d1([{ deleteService: { protocol: "tcp", address: "10.4.0.3", port: 80 }, holder: "test/vs-a" },
            { deleteService: { protocol: "tcp", address: "10.4.0.3", port: 80 }, holder: "test/vs-b" }]);
        expect(await ours()).toEqual([]);
    });

    test("an IPv6 service with IPv4 real servers by tun is deleted without its forwarding method", async () => {
        const v6 = { protocol: "tcp", address: "fd04::1", port: 80 };
        await d1([{ service: v6, holder: "test/vs-a" },
            { service: v6, realServer: { address: "10.0.0.21", forwarding: "tun" }, holder: "test/rs-a" }]);
        expect(await ours())
            .toEqual(["-A -t [fd04::1]:80 -s wlc", "-a -t [fd04::1]:80 -r 10.0.0.21:80 -i -w 1 --tun-type ipip"]);
        const r = await d1([{ service: v6, deleteRealServer: { address: "10.0.0.21" }, holder: "test/rs-a" },
            { deleteService: v6, holder: "test/vs-a" }]);
        expect(r.actions)
            .toEqual(["deleted real server 10.0.0.21:80 of tcp/[fd04::1]:80", "deleted service tcp/[fd04::1]:80"]);
        expect(await ours()).toEqual([]);
    });

    test("a drain of a real server another resource holds only lets go: the weight stays", async () => {
        await d1([{ service: svc, holder: "test/vs-a" }, { service: svc, realServer: rs, holder: "test/rs-a" },
            { service: svc, realServer: rs, holder: "test/rs-b" }]);
        const agent = await agentFor(labConnection("director1"));
        const r = await agent.request<Report>("drain",
            { service: svc, realServer: { address: rs.address, port: rs.port }, timeoutSeconds: 5,
                holder: "test/rs-a" });
        expect(r.actions).toEqual([]);
        expect(r.kept).toEqual(["kept real server 10.1.0.21|8080 of tcp/10.4.0.1:80: still held by test/rs-b"]);
        expect(await ours()).toContain("-a -t 10.4.0.1:80 -r 10.1.0.21:8080 -m -w 2");
        const last = await agent.request<Report>("drain",
            { service: svc, realServer: { address: rs.address, port: rs.port }, timeoutSeconds: 5,
                holder: "test/rs-b" });
        expect(last.actions).toEqual(["set weight of real server 10.1.0.21:8080 of tcp/10.4.0.1:80 2 -> 0 (draining)",
            "deleted real server 10.1.0.21:8080 of tcp/10.4.0.1:80 after 0 s with 0 active connections left"]);
        await d1([{ deleteService: svc, holder: "test/vs-a" }]);
    });
});

describe("sync daemons, timeouts and addresses", () => {
    test("each stays while a holder is left", async () => {
        const daemon = { state: "master", mcastInterface: "lan0", syncId: 39 };
        const found = await sh("rs2", "ipvsadm -Ln --timeout");
        await rs2([{ startDaemon: daemon, holder: "test/d-a" }, { timeouts: { udp: 311 }, holder: "test/d-a" },
            { address: "10.4.9.1", interface: "lo", holder: "test/d-a" }]);
        await rs2([{ startDaemon: daemon, holder: "test/d-b" }, { timeouts: { udp: 311 }, holder: "test/d-b" },
            { address: "10.4.9.1", interface: "lo", holder: "test/d-b" }]);
        await expect(rs2([{ startDaemon: { ...daemon, syncId: 40 }, holder: "test/d-c" }]))
            .rejects.toThrow("master sync daemon is held by test/d-a, test/d-b, " +
                "which declared it with other settings (syncId 39 -> 40 here)");
        const let_go = [{ stopDaemon: "master" }, { restore: "timeouts" },
            { deleteAddress: "10.4.9.1", interface: "lo" }];
        const kept = await rs2(let_go.map((c) => ({ ...c, holder: "test/d-a" })));
        expect(kept.actions).toEqual([]);
        expect(await sh("rs2", "ipvsadm -Ln --daemon")).toContain("master sync daemon (mcast=lan0, syncid=39");
        expect(await sh("rs2", "ipvsadm -Ln --timeout")).toContain(" 311\n");
        expect(await sh("rs2", "ip -o addr show dev lo")).toContain(" 10.4.9.1/32 ");
        const gone = await rs2(let_go.map((c) => ({ ...c, holder: "test/d-b" })));
        expect(gone.actions).toEqual(["stopped master sync daemon",
            expect.stringMatching(/^set timeouts udp 311 -> \d+$/), "deleted address 10.4.9.1/32 on lo"]);
        expect(await sh("rs2", "ipvsadm -Ln --daemon")).toBe("");
        expect(await sh("rs2", "ipvsadm -Ln --timeout")).toBe(found);
        expect(await sh("rs2", "ip -o addr show dev lo")).not.toContain("10.4.9.1");
    });
});

describe("the node's record", () => {
    test("a damaged record is reported by probe and refused by apply, naming the previous good one; " +
        "nothing is changed", async () => {
        await rs2([{ address: "10.4.9.1", interface: "lo", holder: "test/r-a" }]);
        await rs2([{ deleteAddress: "10.4.9.1", interface: "lo",
            holder: "test/r-a" }]);  // so there is a previous record
        const good = await sh("rs2", "cat /var/lib/pulumi-lvs/desired.json");
        try {
            await sh("rs2", "printf '{torn' > /var/lib/pulumi-lvs/desired.json");
            const agent = await agentFor(labConnection("rs2"));
            const p = await agent.request<{ recordProblem?: string }>("probe");
            expect(p.recordProblem).toMatch(new RegExp(/^\/var\/lib\/pulumi-lvs\/desired\.json is not /.source +
                /a record of what pulumi-lvs applied that this agent reads \(.*\); /.source +
                /the record before the last change is \/var\/lib\/pulumi-lvs\/desired\.prev\.json/.source));
            await expect(rs2([{ address: "10.4.9.1", interface: "lo", holder: "test/r-a" }]))
                .rejects.toThrow(/Do not delete it: it holds the values the sysctls and timeouts had/);
            expect(await sh("rs2", "ip -o addr show dev lo")).not.toContain("10.4.9.1");
            expect(JSON.parse(await sh("rs2", "cat /var/lib/pulumi-lvs/desired.prev.json")).version).toBe(2);
        } finally {
            await sh("rs2", "cat > /var/lib/pulumi-lvs/desired.json", good);
        }
        expect((await agentFor(labConnection("rs2"))).request("probe")).resolves.not.toHaveProperty("recordProblem");
    });
});
