// The transport's pieces that need no lab: host key checks (hostKeyProblem, every case), fingerprints
// against ssh-keygen, the agent archive (tar()) unpacked by the real tar, and the host key algorithm a
// pin asks for, against a real SSH server (ssh2's) on loopback offering two host keys.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Server } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tar } from "../../provider/client";
import { setCredentials } from "../../provider/credentials";
import { Connection, connect, fingerprint, hostKeyProblem, target } from "../../provider/ssh";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-transport-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh key pair made by ssh-keygen: the private key (OpenSSH format), the public key line, the blob,
 * and what `ssh-keygen -lf` says its fingerprint is. */
function keygen(type: "ed25519" | "rsa" | "ecdsa", passphrase = "") {
    const file = path.join(tmp, `${type}-${crypto.randomUUID()}`);
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-C", "test@pulumi-lvs", "-f", file]);
    const line = fs.readFileSync(file + ".pub", "utf8").trim();
    return {
        privateKey: fs.readFileSync(file, "utf8"),
        line,
        blob: Buffer.from(line.split(" ")[1], "base64"),
        keygenFingerprint: execFileSync("ssh-keygen", ["-lf", file + ".pub"]).toString().split(" ")[1],
    };
}

const ed = keygen("ed25519");
const other = keygen("ed25519");
const node: Connection = { host: "10.0.0.11", port: 2222, user: "operator" };

describe("fingerprint", () => {
    it.each(["ed25519", "rsa", "ecdsa"] as const)("is what ssh-keygen -lf prints for an %s key", (type) => {
        const k = type === "ed25519" ? ed : keygen(type);
        expect(k.keygenFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
        expect(fingerprint(k.blob)).toBe(k.keygenFingerprint);
    });
});

describe("hostKeyProblem", () => {
    const ok: Array<[string, Partial<Connection>]> = [
        ["the OpenSSH line", { hostKey: ed.line }],
        ["the line without its comment", { hostKey: ed.line.split(" ").slice(0, 2).join(" ") }],
        ["the line with white space around", { hostKey: `  ${ed.line}\n` }],
        ["a known_hosts line", { hostKey: `[10.0.0.11]:2222 ${ed.line}` }],
        ["the SHA256 fingerprint", { hostKey: ed.keygenFingerprint }],
        ["the fingerprint with base64 padding", { hostKey: ed.keygenFingerprint + "=" }],
        ["insecureIgnoreHostKey", { insecureIgnoreHostKey: true }],
        ["insecureIgnoreHostKey over a wrong pin", { insecureIgnoreHostKey: true, hostKey: other.line }],
    ];
    it.each(ok)("accepts the offered key given %s", (_, c) => {
        expect(hostKeyProblem({ ...node, ...c }, ed.blob)).toBeUndefined();
    });

    it.each([["nothing", undefined], ["an empty string", ""], ["blanks", "  "]])(
        "with %s pinned says what to pin and how to opt out", (_, hostKey) => {
            const p = hostKeyProblem({ ...node, hostKey }, ed.blob);
            expect(p).toContain("no hostKey is pinned for operator@10.0.0.11:2222");
            expect(p).toContain(`it offered ${ed.keygenFingerprint}`);
            expect(p).toContain("insecureIgnoreHostKey");
        });

    it.each([
        ["another key's line", other.line], ["another key's fingerprint", other.keygenFingerprint],
        ["a known_hosts line of another key", `host ${other.line}`],
    ])(
        "refuses %s, naming the node and both fingerprints", (_, hostKey) => {
            const p = hostKeyProblem({ ...node, hostKey }, ed.blob);
            expect(p).toContain("the host key of operator@10.0.0.11:2222 does not match the pinned hostKey");
            expect(p).toContain(`it offered ${ed.keygenFingerprint}`);
            expect(p).toContain(`the pinned one is ${other.keygenFingerprint}`);
        });

    it("names the jump host in the target", () => {
        const p = hostKeyProblem({ ...node, hostKey: other.line, proxy: { host: "jump", user: "root" } }, ed.blob);
        expect(p).toContain("operator@10.0.0.11:2222 via root@jump:22 does not match");
    });

    it.each([
        ["a bare base64 blob", ed.line.split(" ")[1]],
        ["a type without a key", "ssh-ed25519"],
        ["a blob that is not of its type", `ssh-rsa ${ed.line.split(" ")[1]}`],
        ["a type with text that is not base64 of a key", "ssh-ed25519 not-a-key"],
        ["an MD5 fingerprint", "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"],
    ])("says a pin that is %s is neither a key nor a fingerprint", (_, hostKey) => {
        const p = hostKeyProblem({ ...node, hostKey }, ed.blob);
        expect(p).toContain("the hostKey pinned for operator@10.0.0.11:2222 is neither an OpenSSH public key");
    });
});

describe("target", () => {
    it("defaults the user to root and the port to 22, and chains jump hosts", () => {
        expect(target({ host: "a" })).toBe("root@a:22");
        expect(target({
            host: "10.0.0.22", user: "operator", port: 2200, proxy: { host: "j", proxy: { host: "k", port: 2 } },
        })).toBe("operator@10.0.0.22:2200 via root@j:22 via root@k:2");
    });
});

describe("tar", () => {
    const bytes = (n: number) => crypto.randomBytes(n);
    const files = [
        { name: "agent.js", data: Buffer.from("console.log('hello');\n"), mode: 0o644 },
        { name: "netlink.node", data: bytes(100_001), mode: 0o755 },
        { name: "empty", data: Buffer.alloc(0), mode: 0o600 },
        { name: "exactly-one-block", data: bytes(512), mode: 0o640 },
        { name: "one-block-and-one", data: bytes(513), mode: 0o444 },
        { name: "n".repeat(99), data: bytes(511), mode: 0o700 },
    ];

    it("is unpacked by tar -x with every file's content and mode, and nothing else, without a warning", () => {
        const dir = fs.mkdtempSync(path.join(tmp, "x-"));
        const archive = tar(files);
        expect(archive.length % 512).toBe(0);
        // As the installer runs it (umask 022 on the node); as root tar keeps the archive's modes.
        const out = execFileSync("sh", ["-c", `umask 022 && tar -x -C '${dir}' 2>&1`], { input: archive }).toString();
        expect(out).toBe("");
        expect(fs.readdirSync(dir).sort()).toEqual(files.map((f) => f.name).sort());
        for (const f of files) {
            const p = path.join(dir, f.name);
            expect(fs.readFileSync(p).equals(f.data), f.name).toBe(true);
            const mode = fs.statSync(p).mode & 0o7777;
            expect(mode, f.name).toBe(process.getuid?.() === 0 ? f.mode : f.mode & ~0o022);
            expect(fs.statSync(p).isFile()).toBe(true);
        }
    });

    it("lists as regular files with sizes and recent times (tar -tv)", () => {
        const listing = execFileSync("tar", ["-tv", "--numeric-owner"], { input: tar(files.slice(0, 2)) })
            .toString().trim().split("\n");
        expect(listing).toHaveLength(2);
        expect(listing[0]).toMatch(/^-rw-r--r-- 0\/0 +22 \d{4}-\d\d-\d\d \d\d:\d\d agent\.js$/);
        expect(listing[1]).toMatch(/^-rwxr-xr-x 0\/0 +100001 .* netlink\.node$/);
        const year = Number(listing[0].split(/\s+/)[3].slice(0, 4));
        expect(year).toBe(new Date().getFullYear());
    });
});

describe("against a real SSH server on loopback (ssh2's) with two host keys", () => {
    const rsa = keygen("rsa");
    let port = 0;
    let server: Server;
    const authed: string[] = [];
    beforeAll(async () => {
        server = new Server({ hostKeys: [ed.privateKey, rsa.privateKey] }, (client) => {
            client.on("authentication", (ctx) => {
                if (ctx.method === "password" && ctx.password === "secret") {
                    authed.push(ctx.username);
                    return ctx.accept();
                }
                ctx.reject(["password"]);
            }).on("error", () => undefined);
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    const local = (c: Partial<Connection>): Connection =>
        ({ host: "127.0.0.1", port, user: "ops", password: "secret", dialRetries: 1, ...c });

    it.each([["the ed25519 key", ed], ["the RSA key (the server's second choice: the pin asks for its type)", rsa]])(
        "a pin of %s connects", async (_, key) => {
            const c = await connect(local({ hostKey: key.line }));
            c.end();
            expect(authed.at(-1)).toBe("ops");
        });

    it("a fingerprint does not say its key's type: pinning the RSA one fails with a hint to pin the line", async () => {
        const e = await connect(local({ hostKey: rsa.keygenFingerprint }))
            .then((c) => { c.end(); return undefined; }, (err: Error) => err);
        expect(e?.message).toContain(`it offered ${ed.keygenFingerprint}, the pinned one is ${rsa.keygenFingerprint}`);
        expect(e?.message).toContain("pin the public key line instead");
        const c = await connect(local({ hostKey: ed.keygenFingerprint }));
        c.end();
    });

    it("a pin of a type the server does not have says so, once", async () => {
        const ecdsa = keygen("ecdsa");
        const e = await connect(local({ hostKey: ecdsa.line, dialRetries: 3 }))
            .then((c) => { c.end(); return undefined; }, (err: Error) => err);
        expect(e?.message).toBe(`cannot connect to ops@127.0.0.1:${port}: it has no ecdsa-sha2-nistp256 host key, ` +
            `the type of the pinned hostKey: ` +
            `pin one of the keys it has (ssh-keyscan -p ${port} 127.0.0.1 lists them; check them out of band)`);
    });

    it("a wrong password fails once, as an authentication failure of that user", async () => {
        const e = await connect(local({ hostKey: ed.line, password: "wrong", dialRetries: 3 }))
            .then(() => undefined, (err: Error) => err);
        expect(e?.message).toBe(`cannot connect to ops@127.0.0.1:${port}: authentication as ops failed: ` +
            `the node accepted none of the credentials given ` +
            "(privateKey, password, agentSocket); check them and that the user may log in");
    });

    it("credentials named in the stack's configuration log in, and wrong ones are named as such", async () => {
        setCredentials(JSON.stringify({ ops: { password: "secret" }, old: { password: "wrong" } }));
        try {
            const c = await connect(local({ hostKey: ed.line, password: undefined, credentials: "ops" }));
            c.end();
            expect(authed.at(-1)).toBe("ops");
            const e = await connect(local({ hostKey: ed.line, password: undefined, credentials: "old",
                dialRetries: 3 })).then(() => undefined, (err: Error) => err);
            expect(e?.message).toBe(`cannot connect to ops@127.0.0.1:${port}: authentication as ops failed: ` +
                "the node accepted none of the credentials given (old of the stack's configuration); " +
                "check them and that the user may log in");
        } finally {
            setCredentials(undefined);
        }
    });

    it("an unusable privateKey is named before anything is retried", async () => {
        const locked = keygen("ed25519", "passphrase");
        for (const privateKey of ["not a key", locked.privateKey]) {
            const t0 = Date.now();
            const e = await connect(local({ hostKey: ed.line, password: undefined, privateKey, dialRetries: 3 }))
                .then(() => undefined, (err: Error) => err);
            expect(e?.message).toContain(`cannot connect to ops@127.0.0.1:${port}: the privateKey cannot be used`);
            expect(Date.now() - t0).toBeLessThan(1000);
        }
    });
});
