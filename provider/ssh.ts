// SSH connections to nodes (ssh2): the arguments pulumi-command users know, the host key pinned
// (an OpenSSH public key or a SHA256 fingerprint), an optional jump host, and dial retries with backoff.
import * as crypto from "crypto";
import { withCredentials } from "./credentials";
import { Connection, parsePinnedKey, target } from "./model/connection";
import { trace } from "./trace";
import type { Client, ConnectConfig, ServerHostKeyAlgorithm } from "ssh2";

export type { Connection };
export { target };

/** The OpenSSH fingerprint of a host key blob: "SHA256:" and unpadded base64, as `ssh-keygen -lf` prints it. */
export function fingerprint(key: Buffer): string {
    return "SHA256:" + crypto.createHash("sha256").update(key).digest("base64").replace(/=+$/, "");
}

/** The host key algorithms that offer a key of this type (so the server shows the pinned key). */
function hostKeyAlgorithms(type: string): ServerHostKeyAlgorithm[] {
    return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type as ServerHostKeyAlgorithm];
}

/** Checks a host key the server offered against the pinned one; returns a reason when they differ. */
export function hostKeyProblem(c: Connection, offered: Buffer): string | undefined {
    if (c.insecureIgnoreHostKey) return undefined;
    const got = fingerprint(offered);
    if (!c.hostKey?.trim())
        return `no hostKey is pinned for ${target(c)}: it offered ${got}. Check that fingerprint out of band ` +
            `(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the node) and set hostKey to it, ` +
            "or set insecureIgnoreHostKey for a throwaway machine";
    const pinned = c.hostKey.trim();
    let ok: boolean;
    if (pinned.startsWith("SHA256:")) ok = pinned.replace(/=+$/, "") === got;
    else {
        const key = parsePinnedKey(pinned);
        if (!key) return `the hostKey pinned for ${target(c)} is neither an OpenSSH public key ` +
            `("ssh-ed25519 AAAA...") nor a fingerprint ("SHA256:..."): ${JSON.stringify(pinned.slice(0, 60))}`;
        ok = key.blob.equals(offered);
    }
    return ok ? undefined : `the host key of ${target(c)} does not match the pinned hostKey: it offered ${got}, ` +
        `the pinned one is ${pinned.startsWith("SHA256:") ? pinned : fingerprint(parsePinnedKey(pinned)!.blob)}. ` +
        (pinned.startsWith("SHA256:") ? "(A fingerprint does not say its key's type: " +
            "if it is of another of the node's keys, pin the public key line instead.) " : "") +
        `If the node was rebuilt, check its new key out of band and pin it; otherwise someone may be in the middle`;
}

/** A failure that another attempt cannot cure (a host key or authentication problem). */
type DialError = Error & { permanent?: boolean };
const permanent = (message: string): DialError => Object.assign(new Error(message), { permanent: true });

/** Opens an SSH connection (through the jump host when there is one), retrying with backoff. */
export async function connect(c: Connection): Promise<Client> {
    const attempts = Math.max(1, c.dialRetries ?? 5);
    let last: DialError | undefined;
    let tried = 0;
    for (let i = 0; i < attempts; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1000 * 2 ** (i - 1)));
        tried++;
        try {
            const client = await dial(c);
            trace(`connected to ${target(c)}`);
            return client;
        } catch (e) {
            last = e as DialError;
            if (last.permanent) break;
        }
    }
    const times = last?.permanent ? ""
        : ` (${tried} attempt${tried > 1 ? "s" : ""}; raise dialRetries or dialTimeout if the node is slow to come up)`;
    return Promise.reject(Object.assign(new Error(`cannot connect to ${target(c)}: ${last?.message}${times}`),
        { permanent: last?.permanent }));
}

async function dial(declared: Connection): Promise<Client> {
    const c = withCredentials(declared);
    const { Client } = require("ssh2") as typeof import("ssh2");
    let sock: ConnectConfig["sock"];
    let jump: Client | undefined;
    if (c.proxy) {
        jump = await connect(c.proxy);
        try {
            sock = await new Promise((resolve, reject) =>
                jump!.forwardOut("127.0.0.1", 0, c.host, c.port ?? 22,
                    (err, stream) => (err ? reject(err) : resolve(stream))));
        } catch (e) {
            jump.end();
            throw new Error(`the jump host ${target(c.proxy)} could not open a connection to ` +
                `${c.host}:${c.port ?? 22}: ${(e as Error).message}`);
        }
    }
    const pinned = c.insecureIgnoreHostKey || !c.hostKey ? undefined : parsePinnedKey(c.hostKey);
    return new Promise((resolve, reject) => {
        const client = new Client();
        let keyProblem: string | undefined;
        let settled = false;
        client.once("ready", () => {
            settled = true;
            if (jump) client.once("close", () => jump!.end());
            resolve(client);
        });
        // Stays for the connection's life: an error event without a listener would end the process.
        // Whoever holds the connection learns of later failures from its "close".
        client.on("error", (e: Error & { level?: string }) => {
            if (settled) return;
            settled = true;
            jump?.end();
            if (keyProblem) return reject(permanent(keyProblem));
            if (pinned && /no matching host key/i.test(e.message))
                return reject(permanent(`it has no ${pinned.type} host key, the type of the pinned hostKey: ` +
                    `pin one of the keys it has (ssh-keyscan -p ${c.port ?? 22} ${c.host} lists them; ` +
                    "check them out of band)"));
            if (e.level === "client-authentication")
                return reject(permanent(`authentication as ${c.user ?? "root"} failed: ` +
                    "the node accepted none of the credentials given " +
                    `(${c.credentials === undefined ? "privateKey, password, agentSocket"
                        : `${c.credentials} of the stack's configuration`}); check them and that the user may log in`));
            reject(e);
        });
        try {
            client.connect({
                host: c.host,
                port: c.port ?? 22,
                username: c.user ?? "root",
                privateKey: c.privateKey,
                passphrase: c.privateKeyPassword,
                password: c.password,
                agent: c.agentSocket,
                sock,
                readyTimeout: (c.dialTimeout ?? 15) * 1000,
                keepaliveInterval: 15_000,
                ...(pinned ? { algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) } } : {}),
                hostVerifier: (key: Buffer) => !(keyProblem = hostKeyProblem(c, key)),
            });
        } catch (e) {
            // ssh2 checks the private key before it dials (a wrong format, or encrypted without privateKeyPassword).
            settled = true;
            jump?.end();
            reject(permanent(`the privateKey cannot be used: ${(e as Error).message}`));
        }
    });
}
