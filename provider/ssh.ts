// SSH connections to nodes (ssh2): the arguments pulumi-command users know, the host key pinned
// (an OpenSSH public key or a SHA256 fingerprint), an optional jump host, and dial retries with backoff.
import * as crypto from "crypto";
import type { Client, ConnectConfig } from "ssh2";

export interface Connection {
    /** Address or name of the node. */
    host: string;
    /** SSH port (22). */
    port?: number;
    /** Login user (root). Other users need `sudo`. */
    user?: string;
    /** OpenSSH or PEM private key text. Secret. */
    privateKey?: string;
    /** Passphrase of the private key. Secret. */
    privateKeyPassword?: string;
    /** Password. Secret. */
    password?: string;
    /** Path of an ssh-agent socket (SSH_AUTH_SOCK). */
    agentSocket?: string;
    /** The node's host key, pinned: "ssh-ed25519 AAAA..." (as in known_hosts) or "SHA256:..." (ssh-keygen -lf). */
    hostKey?: string;
    /** Accept any host key. Only for throwaway machines: it lets anyone in the middle see your keys' use. */
    insecureIgnoreHostKey?: boolean;
    /** A jump host to reach the node through. */
    proxy?: Connection;
    /** Run the agent with `sudo -n` (the user needs passwordless sudo for node). */
    sudo?: boolean;
    /** Seconds to wait for one connection attempt (15). */
    dialTimeout?: number;
    /** Attempts before giving up (5); waits 1, 2, 4, ... s between them. */
    dialRetries?: number;
}

/** Where a connection goes, for messages and pooling: "root@10.0.0.1:22" (via its jump host). */
export function target(c: Connection): string {
    const self = `${c.user ?? "root"}@${c.host}:${c.port ?? 22}`;
    return c.proxy ? `${self} via ${target(c.proxy)}` : self;
}

export function fingerprint(key: Buffer): string {
    return "SHA256:" + crypto.createHash("sha256").update(key).digest("base64").replace(/=+$/, "");
}

/** Checks a host key the server offered against the pinned one; returns a reason when they differ. */
export function hostKeyProblem(c: Connection, offered: Buffer): string | undefined {
    if (c.insecureIgnoreHostKey) return undefined;
    const got = fingerprint(offered);
    if (!c.hostKey) return `no hostKey is pinned for ${target(c)}: it offered ${got}; pin that (after checking it out of band) or set insecureIgnoreHostKey`;
    const pinned = c.hostKey.trim();
    const ok = pinned.startsWith("SHA256:")
        ? pinned.replace(/=+$/, "") === got
        : Buffer.from(pinned.split(/\s+/)[1] ?? "", "base64").equals(offered);
    return ok ? undefined : `the host key of ${target(c)} does not match the pinned one: it offered ${got}. ` +
        `If the node was rebuilt, pin its new key; otherwise someone may be in the middle`;
}

/** Opens an SSH connection (through the jump host when there is one), retrying with backoff. */
export async function connect(c: Connection): Promise<Client> {
    const attempts = Math.max(1, c.dialRetries ?? 5);
    let last: Error | undefined;
    for (let i = 0; i < attempts; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1000 * 2 ** (i - 1)));
        try {
            return await dial(c);
        } catch (e) {
            last = e as Error;
            if ((e as { permanent?: boolean }).permanent) break;
        }
    }
    throw new Error(`cannot connect to ${target(c)}: ${last?.message}`);
}

async function dial(c: Connection): Promise<Client> {
    const { Client } = require("ssh2") as typeof import("ssh2");
    let sock: ConnectConfig["sock"];
    let jump: Client | undefined;
    if (c.proxy) {
        jump = await connect(c.proxy);
        sock = await new Promise((resolve, reject) =>
            jump!.forwardOut("127.0.0.1", 0, c.host, c.port ?? 22, (err, stream) => (err ? reject(err) : resolve(stream))));
    }
    return new Promise((resolve, reject) => {
        const client = new Client();
        let keyProblem: string | undefined;
        client.once("ready", () => {
            if (jump) client.once("close", () => jump!.end());
            resolve(client);
        });
        client.once("error", (e: Error & { level?: string }) => {
            jump?.end();
            const err = new Error(keyProblem ?? (e.level === "client-authentication"
                ? `authentication as ${c.user ?? "root"} failed (check privateKey, password or agentSocket)` : e.message));
            (err as { permanent?: boolean }).permanent = keyProblem !== undefined || e.level === "client-authentication";
            reject(err);
        });
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
            hostVerifier: (key: Buffer) => !(keyProblem = hostKeyProblem(c, key)),
        });
    });
}
