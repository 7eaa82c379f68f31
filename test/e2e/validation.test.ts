// Every rule is checked at preview, before any host is touched (test/validation through the real Pulumi
// CLI). The program declares one valid resource of every kind; each case breaks one rule through the
// stack config `patch` (as a value from a JSON or YAML config would) and runs one `pulumi preview`, which
// must be refused with an error that names the property and the value (an unknown property: its name and
// the allowed ones), while the provider opens no SSH connection (PULUMI_LVS_TRACE: a line per connection).
// Uses 10.0.0.235 and nothing else: the program is never deployed.
import * as path from "path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab } from "../lab";
import { labStackNamed, Stack } from "../pulumi";

let stack: Stack;
beforeAll(async () => {
    stack = await labStackNamed(path.join(__dirname, "..", "validation"), `validation${process.pid}`);
});
afterAll(async () => {
    await stack?.dispose();
    await closeLab();
});

/** Previews with `patch`; what Pulumi printed, whether it succeeded, and how many SSH connections the provider
 * opened meanwhile. */
async function preview(patch: object): Promise<{ ok: boolean; out: string; connections: string[] }> {
    const before = stack.trace().length;
    let ok = true, out: string;
    try {
        out = await stack.run("preview", "--diff", "--config", `patch=${JSON.stringify(patch)}`);
    } catch (e) {
        ok = false;
        out = (e as Error).message;
    }
    return { ok, out, connections: stack.trace().slice(before).filter((l) => l.includes(" connected to ")) };
}

/** The check failures Pulumi printed:
 * "<type> resource '<name>': property <path> value {...} has a problem: <reason>". */
function failures(out: string): Array<{ resource: string; property: string; reason: string }> {
    return [...out.matchAll(/resource '([^']+)': property (\S+) value \{.*?\} has a problem: (.*)$/gm)]
        .map(([, resource, property, reason]) => ({ resource, property, reason }));
}

test("the valid program previews, and opens no SSH connection", async () => {
    const { ok, out, connections } = await preview({});
    expect(ok, out).toBe(true);
    expect(out).toContain("+ 6 to create");
    expect(connections).toEqual([]);
});

interface Case {
    name: string;
    patch: object;
    /** The failure expected: on this resource, at this property, with a reason that matches. */
    resource: string;
    property: string;
    reason: RegExp;
}

const allowed = (field: string) => new RegExp(`allowed[^\\n]*\\b${field}\\b`);
const cases: Case[] = [
    { name: "an unknown property on a VirtualService (schedular)", patch: { service: { schedular: "sh" } },
        resource: "first-vs", property: "schedular", reason: allowed("scheduler") },
    { name: "an unknown property on a RealServer (wieght)", patch: { realServer: { wieght: 2 } },
        resource: "first-rs", property: "wieght", reason: allowed("weight") },
    { name: "an unknown property on a Director (ipForwarding)", patch: { director: { ipForwarding: true } },
        resource: "director1", property: "ipForwarding", reason: allowed("ipForward") },
    { name: "an unknown property on a RealServerNode (arpIgnore)", patch: { node: { arpIgnore: 1 } },
        resource: "rs1", property: "arpIgnore", reason: allowed("arpInterface") },
    { name: "an unknown property on a DosProtection (synCookies)", patch: { dos: { synCookies: true } },
        resource: "dos", property: "synCookies", reason: allowed("secureTcp") },
    { name: "an unknown property on a connection (perDialTimeout, as @pulumi/command has it)",
        patch: { connection: { perDialTimeout: 30 } },
        resource: "director1", property: "connection.perDialTimeout", reason: allowed("dialTimeout") },
    { name: "a hostKey that is neither an OpenSSH public key nor a SHA256 fingerprint (an MD5 one)",
        patch: { connection: { hostKey: "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48" } },
        resource: "director1", property: "connection.hostKey", reason: /MD5:16:27:ac:a5/ },
    { name: "a Director address with prefixLength 0",
        patch: { director: { addresses: [{ address: "10.0.0.235", interface: "lan0", prefixLength: 0 }] } },
        resource: "director1", property: "addresses[0].prefixLength", reason: /(^|[^\w.])0\b/ },
    { name: "a Director IPv4 address with prefixLength 33",
        patch: { director: { addresses: [{ address: "10.0.0.235", interface: "lan0", prefixLength: 33 }] } },
        resource: "director1", property: "addresses[0].prefixLength", reason: /\b33\b/ },
    { name: "a negative dialTimeout", patch: { connection: { dialTimeout: -1 } },
        resource: "director1", property: "connection.dialTimeout", reason: /(^|[^\w])-1\b/ },
    { name: "an IPVS timeout above the kernel's 2147483 s", patch: { director: { timeouts: { tcp: 2147484 } } },
        resource: "director1", property: "timeouts.tcp", reason: /\b2147484\b/ },
];

for (const c of cases) test(`refused at preview without an SSH connection: ${c.name}`, async () => {
    const { ok, out, connections } = await preview(c.patch);
    expect(ok, `the preview succeeded:\n${out}`).toBe(false);
    const found = failures(out);
    expect(found.filter((f) => f.resource === c.resource && f.property === c.property), out)
        .toContainEqual({ resource: c.resource, property: c.property, reason: expect.stringMatching(c.reason) });
    expect(connections).toEqual([]);
});

/** What the errors say: each "error:" line of Pulumi's output and the lines after it up to a blank one (not
 * the plan, which lists every resource it got to), so a name found here is one an error gives. */
function errorText(out: string): string {
    const lines = out.split("\n"), kept: string[] = [];
    for (let i = 0; i < lines.length; i++) if (/^\s*error:/.test(lines[i]))
        for (; i < lines.length && lines[i].trim(); i++) kept.push(lines[i]);
    return kept.join("\n");
}

// The provider's check is told no resource's name: Pulumi names the one checked second, and the message
// names the object, the node and both values.
test("refused at preview without an SSH connection: two RealServers of one program declaring one real server " +
    "with other weights", async () => {
    const { ok, out, connections } = await preview({ duplicate: "realServer" });
    expect(ok, `the preview succeeded:\n${out}`).toBe(false);
    const errors = errorText(out);
    expect(errors).toMatch(/first-rs|second-rs/);
    expect(errors).toMatch(new RegExp(/another resource of this program declares real server /.source +
        /10\.1\.0\.21:8235 of tcp\/10\.0\.0\.235:80 on root@127\.0\.0\.1:\d+ too/.source));
    expect(errors).toMatch(/weight/);
    expect(errors).toMatch(/\b42\b/);
    expect(connections).toEqual([]);
});

test("refused at preview without an SSH connection: two VirtualServices of one program declaring one service " +
    "with other schedulers", async () => {
    const { ok, out, connections } = await preview({ duplicate: "service" });
    expect(ok, `the preview succeeded:\n${out}`).toBe(false);
    const errors = errorText(out);
    expect(errors).toMatch(/first-vs|second-vs/);
    expect(errors).toMatch(
        /another resource of this program declares service tcp\/10\.0\.0\.235:80 on root@127\.0\.0\.1:\d+ too/);
    expect(errors).toMatch(/scheduler/);
    expect(errors).toMatch(/\blblcr\b/);
    expect(connections).toEqual([]);
});
