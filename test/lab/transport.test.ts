// The SSH transport and the agent client against the lab's real sshds: host key pinning (OpenSSH key,
// SHA256 fingerprint, wrong key, none), password login, sudo as a non-root user, a jump host, dial
// retries, and the agent's install by content hash. The oracles are ssh-keygen (fingerprints), the
// node's own shell (who runs, what is installed) and ipvsadm. VIP 10.4.0.1 on rs1; the non-root users'
// ~/.pulumi-lvs on rs1 and rs2 are this file's (and are removed afterwards).
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import type { Client } from "ssh2";
import { afterAll, describe, expect, test } from "vitest";
import { agentFor, agentPackage, closeAgents, startSession } from "../../provider/client";
import { Connection, connect, target } from "../../provider/ssh";
import { closeLab, lab, labConnection, sh } from "../lab";

const { hosts, privateKeyPath, operatorPassword } = lab() as ReturnType<typeof lab> & { operatorPassword: string };
const privateKey = fs.readFileSync(privateKeyPath, "utf8");
/** A lab host's connection as another user (operator: passwordless sudo; viewer: none). */
const as = (name: string, user: string, extra: Partial<Connection> = {}): Connection =>
    ({ ...labConnection(name), user, ...extra });
/** What `ssh-keygen -lf` says the fingerprint of an OpenSSH public key line is. */
const keygenFingerprint = (line: string) =>
    execFileSync("ssh-keygen", ["-lf", "-"], { input: line + "\n" }).toString().split(" ")[1];

function run(client: Client, command: string): Promise<string> {
    return new Promise((resolve, reject) =>
        client.exec(command, (err, ch) => {
            if (err) return reject(err);
            let out = "";
            ch.on("data", (d: Buffer) => (out += d)).stderr.on("data", (d: Buffer) => (out += d));
            ch.on("close", (code: number) => (code === 0 ? resolve(out.trim())
                : reject(new Error(`${command} exited ${code}: ${out}`))));
        }));
}

async function withClient<T>(c: Connection, fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await connect(c);
    try { return await fn(client); } finally { client.end(); }
}

/** The error a promise rejects with (and fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
    try {
        const v = (await p) as { close?(): void; end?(): void } | undefined;
        if (v?.close) v.close(); else v?.end?.();
    } catch (e) {
        return e as Error;
    }
    throw new Error("expected a failure, but it succeeded");
}

afterAll(async () => {
    await closeAgents();
    for (const h of ["rs1", "rs2"]) await sh(h, "rm -rf /home/operator/.pulumi-lvs /home/viewer/.pulumi-lvs");
    await closeLab();
});

describe("host keys", () => {
    test("a pinned OpenSSH public key connects", async () => {
        expect(hosts.rs1.hostKey).toMatch(/^ssh-ed25519 AAAA/);
        expect(await withClient(labConnection("rs1"), (c) => run(c, "hostname"))).toBe("rs1");
    });

    test("a pinned SHA256 fingerprint (as ssh-keygen -lf prints it) connects", async () => {
        const fp = keygenFingerprint(hosts.rs1.hostKey);
        expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
        expect(await withClient({ ...labConnection("rs1"), hostKey: fp }, (c) => run(c, "hostname"))).toBe("rs1");
    });

    test("a wrong pinned key fails at once, naming the node, the mismatch and the offered key", async () => {
        const c = { ...labConnection("rs1"), hostKey: hosts.director2.hostKey, dialRetries: 3 };
        const t0 = Date.now();
        const e = await failure(connect(c));
        expect(e.message).toContain(target(c));
        expect(e.message).toContain("does not match the pinned hostKey");
        expect(e.message).toContain(`it offered ${keygenFingerprint(hosts.rs1.hostKey)}`);
        expect(e.message).toContain(keygenFingerprint(hosts.director2.hostKey));
        // Not retried: a wrong key is not cured by waiting (three attempts would wait 1 s, then 2 s).
        expect(Date.now() - t0).toBeLessThan(3000);
        const fp = await failure(connect({ ...c, hostKey: keygenFingerprint(hosts.director2.hostKey) }));
        expect(fp.message).toContain(`it offered ${keygenFingerprint(hosts.rs1.hostKey)}`);
    });

    test("no pinned key fails with what to do, unless insecureIgnoreHostKey", async () => {
        const { hostKey: _, ...c } = labConnection("rs1");
        const e = await failure(connect(c));
        expect(e.message).toContain(`no hostKey is pinned for ${target(c)}`);
        expect(e.message).toContain(`it offered ${keygenFingerprint(hosts.rs1.hostKey)}`);
        expect(e.message).toContain("insecureIgnoreHostKey");
        expect(await withClient({ ...c, insecureIgnoreHostKey: true }, (cl) => run(cl, "hostname"))).toBe("rs1");
    });

    test("a hostKey that is neither a key nor a fingerprint is named as such", async () => {
        const e = await failure(connect({ ...labConnection("rs1"), hostKey: "AAAAC3NzaC1lZDI1NTE5" }));
        expect(e.message).toContain("is neither an OpenSSH public key");
    });
});

describe("logins", () => {
    test("operator logs in with its password", async () => {
        const c = as("rs1", "operator", { privateKey: undefined, password: operatorPassword });
        expect(await withClient(c, (cl) => run(cl, "id -un"))).toBe("operator");
    });

    test("a wrong password fails at once, naming the user", async () => {
        const c = as("rs1", "operator", { privateKey: undefined, password: "not-" + operatorPassword, dialRetries: 3 });
        const t0 = Date.now();
        const e = await failure(connect(c));
        expect(e.message).toContain(`cannot connect to ${target(c)}: authentication as operator failed`);
        expect(e.message).not.toContain("attempt");
        expect(Date.now() - t0).toBeLessThan(3000);
    });

    test("sudo as operator runs the agent as root: probe, then add and delete a service", async () => {
        const vip = "10.4.0.1";
        const service = { protocol: "tcp", address: vip, port: 80 };
        const agent = await startSession(as("rs1", "operator",
            { privateKey: undefined, password: operatorPassword, sudo: true }));
        try {
            const probe = await agent.request<{ agent: { hash: string } }>("probe");
            expect(probe.agent.hash).toBe(agentPackage().hash);
            // The agent process working in operator's home (not sudo: that is "sudo", not "node") runs as root.
            expect(await sh("rs1", `for p in $(pgrep -x node); do ` +
                `[ "$(readlink /proc/$p/cwd)" = /home/operator ] && stat -c %U /proc/$p; done; true`)).toBe("root\n");
            await agent.request("apply", { changes: [{ service }] });
            expect(await sh("rs1", `ipvsadm -Ln -t ${vip}:80`)).toContain(`TCP  ${vip}:80 wlc`);
            await agent.request("apply", { changes: [{ deleteService: service }] });
            await expect(sh("rs1", `ipvsadm -Ln -t ${vip}:80`)).rejects.toThrow(/No such service/);
        } finally {
            agent.close();
            await sh("rs1", `ipvsadm -D -t ${vip}:80 2>/dev/null || true`);
        }
    });

    test("sudo as a user without sudo rights fails, saying what to give it", async () => {
        const c = as("rs1", "viewer", { sudo: true });
        const e = await failure(startSession(c));
        expect(e.message).toContain(`${target(c)}: sudo -n as viewer refused to run the agent`);
        expect(e.message).toContain("a password is required");
        expect(e.message).toContain("passwordless sudo");
    });

    test("a user that is not root, without sudo, is told the agent needs root", async () => {
        const c = as("rs1", "operator");
        const e = await failure(startSession(c));
        expect(e.message).toContain(`${target(c)}: the agent needs root and operator is not root: set sudo`);
    });
});

describe("jump host", () => {
    const rs2 = (): Connection => ({ host: hosts.rs2.lan4, port: 22, user: "root", privateKey,
        hostKey: hosts.rs2.hostKey, proxy: labConnection("director1") });

    test("rs2 through director1: a shell and an agent session", async () => {
        expect(hosts.rs2.lan4).toBe("10.0.0.22");
        expect(await withClient(rs2(), (cl) => run(cl, "hostname; ip -4 -o addr show lan0 | awk '{ print $4 }'")))
            .toBe("rs2\n10.0.0.22/24");
        const agent = await startSession(rs2());
        try {
            expect((await agent.request<{ agent: { hash: string } }>("probe")).agent.hash).toBe(agentPackage().hash);
        } finally { agent.close(); }
    });

    test("the target's key is checked through the jump host too", async () => {
        const c = { ...rs2(), hostKey: hosts.rs3.hostKey };
        const e = await failure(connect(c));
        expect(e.message).toContain(`root@10.0.0.22:22 via root@127.0.0.1:${hosts.director1.port}`);
        expect(e.message).toContain(`it offered ${keygenFingerprint(hosts.rs2.hostKey)}`);
    });

    test("a closed port behind the jump host is named", async () => {
        const c = { ...rs2(), port: 1, dialRetries: 1 };
        const e = await failure(connect(c));
        expect(e.message).toContain(`could not open a connection to 10.0.0.22:1`);
        expect(e.message).toContain(`jump host root@127.0.0.1:${hosts.director1.port}`);
    });
});

describe("dial retries", () => {
    /** A loopback port nobody listens on (bound, then released). */
    async function closedPort(): Promise<number> {
        const s = net.createServer();
        await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
        const { port } = s.address() as net.AddressInfo;
        await new Promise((r) => s.close(r));
        return port;
    }

    test("a closed port fails after the configured attempts, naming the target", async () => {
        const c = { ...labConnection("rs1"), port: await closedPort(), dialRetries: 3 };
        const t0 = Date.now();
        const e = await failure(connect(c));
        const elapsed = Date.now() - t0;
        expect(e.message).toContain(`cannot connect to ${target(c)}`);
        expect(e.message).toContain("ECONNREFUSED");
        expect(e.message).toContain("3 attempts");
        expect(elapsed).toBeGreaterThanOrEqual(3000); // waits 1 s, then 2 s
        expect(elapsed).toBeLessThan(7000); // and not a fourth time (4 s more)
    });
});

describe("agent install by content hash", () => {
    test("a node without the agent gets it uploaded; the next session reuses it", async () => {
        const dir = `/home/operator/.pulumi-lvs/agent/${agentPackage().hash}`;
        const c = as("rs2", "operator", { sudo: true });
        await sh("rs2", "rm -rf /home/operator/.pulumi-lvs");
        // The files, not their folder: the first session leaves its code cache there.
        const stat = () => sh("rs2", `cd ${dir} && stat -c '%i %Y %Z %U %a ${dir}/%n' agent.js code.js netlink.node; ` +
            `ls -a /home/operator/.pulumi-lvs/agent`).then((s) => s.trim());
        const first = await startSession(c);
        let installed: string;
        try {
            expect((await first.request<{ agent: { hash: string } }>("probe")).agent.hash).toBe(agentPackage().hash);
            installed = await stat();
            expect(installed)
                .toMatch(new RegExp(`^.* operator 644 ${dir}/agent.js\n.* operator 644 ${dir}/code.js\n` +
                    `.* operator 755 ${dir}/netlink.node\n`));
            expect(installed.split("\n").slice(3))
                .toEqual([".", "..", agentPackage().hash]); // no leftover temporary folder
            for (const f of agentPackage().scripts) {
                const sha = crypto.createHash("sha256").update(f.data).digest("hex");
                expect(await sh("rs2", `sha256sum < ${dir}/${f.name}`), f.name).toBe(`${sha}  -\n`);
            }
        } finally { first.close(); }
        const second = await startSession(c);
        try {
            expect((await second.request<{ agent: { hash: string } }>("probe")).agent.hash).toBe(agentPackage().hash);
        } finally { second.close(); }
        // The same inodes and change times: nothing was unpacked or replaced the second time.
        expect(await stat()).toBe(installed);
        // The first session (root, through sudo) left the code cache its successors start from.
        const node = (await sh("rs2", "node -p 'process.version + \"-\" + process.arch'")).trim();
        expect((await sh("rs2", `ls ${dir}`)).trim().split("\n").sort())
            .toEqual(["agent.js", "code.js", `code-${node}.cache`, "netlink.node"].sort());
    });
});

describe("login scripts", () => {
    test("a .bashrc that prints a greeting disturbs neither the install nor the start", async () => {
        const c = as("rs1", "operator", { sudo: true });
        try {
            await sh("rs1", `rm -rf /home/operator/.pulumi-lvs; echo 'echo welcome to rs1' > /home/operator/.bashrc; ` +
                `chown operator: /home/operator/.bashrc`);
            for (const _ of ["install, then start", "start"]) {
                const agent = await startSession(c);
                try {
                    expect((await agent.request<{ agent: { hash: string } }>("probe")).agent.hash)
                        .toBe(agentPackage().hash);
                } finally { agent.close(); }
            }
        } finally {
            await sh("rs1", "rm -f /home/operator/.bashrc");
        }
    });
});

describe("the session pool", () => {
    test("a session whose agent died is replaced on the next call, and the dead one says why", async () => {
        const c = as("rs1", "operator", { sudo: true });
        const first = await agentFor(c);
        expect(await agentFor(c)).toBe(first);
        await first.request("probe");
        // The agent this test started: the node process working in operator's home (only this file's).
        const pid = (await sh("rs1", `for p in $(pgrep -x node); do ` +
            `[ "$(readlink /proc/$p/cwd)" = /home/operator ] && echo $p; done; true`)).trim();
        expect(pid).toMatch(/^\d+$/);
        const ended = new Promise<void>((r) => first.onClose(r));
        await sh("rs1", `kill ${pid}`);
        await ended;
        await expect(first.request("probe")).rejects.toThrow(`the agent on ${target(c)} stopped`);
        const second = await agentFor(c);
        expect(second).not.toBe(first);
        expect((await second.request<{ agent: { hash: string } }>("probe")).agent.hash).toBe(agentPackage().hash);
    });
});
