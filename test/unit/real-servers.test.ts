// check and diff of RealServers (a service's real servers as one resource): the program's list keyed by
// real server, each entry checked as a RealServer is (its failures named by its place in the list), and a
// plan that marks each real server's change by its address:port (no host is touched).
import { describe, expect, it } from "vitest";
import { realServers } from "../../provider/resources";

const connection = {
    host: "10.0.0.21", hostKey: "SHA256:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", privateKey: "k",
};
/** Each test its own service, so that no two declare one real server (check remembers each). */
let n = 0;
const service = () => ({ protocol: "tcp", address: `10.9.0.${++n}`, port: 80 });
const check = (news: Record<string, unknown>) => realServers.check!({}, { connection, ...news });
const failures = async (news: Record<string, unknown>) =>
    ((await check(news)).failures ?? []).map((f) => `${f.property}: ${f.reason}`);
const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

describe("RealServers check", () => {
    it("keys the list by address:port, ipvsadm's defaults filled in", async () => {
        const svc = service();
        const { inputs, failures: f } = await check({ service: svc, realServers: [
            { address: "10.1.0.21", weight: 3 }, { address: "10.1.0.22", port: 8080, forwarding: "nat" }] });
        expect(f).toEqual([]);
        expect(inputs.realServers).toEqual({
            "10.1.0.21:80": { address: "10.1.0.21", weight: 3, port: 80, forwarding: "dr", upperThreshold: 0,
                lowerThreshold: 0 },
            "10.1.0.22:8080": { address: "10.1.0.22", port: 8080, forwarding: "nat", weight: 1, upperThreshold: 0,
                lowerThreshold: 0 },
        });
        const six = await check({ service: { protocol: "tcp", address: "fd00::9", port: 443 },
            realServers: [{ address: "FD00:0::21" }] });
        expect(Object.keys(six.inputs.realServers)).toEqual(["[fd00::21]:443"]);
    });

    it("names each failure by the entry's place in the list, with the RealServer's rule", async () => {
        expect(await failures({ service: service(), realServers: [
            { address: "10.1.0.21", wieght: 2 },
            { address: "10.1.0.22", weight: -1 },
            { address: "10.1.0.23", port: 8080 },
            "10.1.0.24",
            { address: "10.1.0.25", drain: { timeout: 60 }, healthCheck: { type: "tcp" } },
            { address: "10.1.0.25" },
        ] })).toEqual([
            'realServers[0].wieght: unknown real server field "wieght" (allowed: address, port, forwarding, weight, ' +
                "upperThreshold, lowerThreshold, tunnel, healthCheck, adopt, drain)",
            "realServers[1].weight: -1 is not a weight: an integer from 0 to 2147483647 (0 takes no new connections)",
            'realServers[2].port: with forwarding "dr" a real server listens on the service\'s port 80, not 8080; ' +
                'leave port out or use "nat"',
            'realServers[3]: "10.1.0.24" is not a real server: an object, e.g. { address: "10.1.0.21", weight: 2 }',
            "realServers[5].address: 10.1.0.25:80 is in this list already, as realServers[4]: each real server once",
        ]);
        expect(await failures({ service: service(), realServers: { address: "10.1.0.21" } }))
            .toEqual(['realServers: {"address":"10.1.0.21"} is not a list of real servers']);
    });

    it("leaves a list a preview does not know yet as it is", async () => {
        const news = { service: service(), realServers: [{ address: unknown }] };
        expect(await check(news)).toEqual({ inputs: { connection, ...news }, failures: [] });
    });
});

describe("RealServers diff", () => {
    const svc = service();
    // Each list checked as another service's (one real server, two settings, would be two declarations of it
    // in one program), then made svc's: the keys do not name the service's address.
    const keyed = async (list: unknown[]) =>
        ({ ...(await check({ service: service(), realServers: list })).inputs, service: svc });
    const diff = async (a: unknown[], b: unknown[], bService = svc) =>
        realServers.diff!("id", await keyed(a), { ...(await keyed(b)), service: bService });
    const three = [{ address: "10.1.0.21" }, { address: "10.1.0.22" }, { address: "10.1.0.23" }];

    it("marks each real server's change by its address:port", async () => {
        const d = await diff(three, [{ address: "10.1.0.21" }, { address: "10.1.0.22", weight: 5 },
            { address: "10.1.0.24" }]);
        expect(d).toMatchObject({ changes: true, replaces: [], detailedDiff: {
            'realServers["10.1.0.22:80"].weight': "update",
            'realServers["10.1.0.23:80"]': "delete",
            'realServers["10.1.0.24:80"]': "add",
        } });
        expect(Object.keys(d.detailedDiff!)).toHaveLength(3);
    });

    it("no change for the same real servers in another order; drain alone is a change of its own field",
        async () => {
            expect((await diff(three, [...three].reverse())).changes).toBe(false);
            const d = await diff(three, [three[0], three[1], { ...three[2], drain: {} }]);
            expect(d.detailedDiff).toEqual({ 'realServers["10.1.0.23:80"].drain': "add" });
        });

    it("another service replaces it", async () => {
        const d = await diff(three, three, { ...svc, port: 81 });
        expect(d.replaces).toEqual(["service"]);
    });
});
