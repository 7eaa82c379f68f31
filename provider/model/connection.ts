// How a node is reached: the connection's fields, each once with its doc (Connection) and its rule (the
// table), the checks preview runs on them, and the pinned host key's forms. The SSH code is provider/ssh.ts.
import { Failure, unknownFields } from "./rules";
import { show } from "./show";

export interface Connection {
    /** Address or name of the node. */
    host: string;
    /** SSH port (22). */
    port?: number;
    /** Login user (root); another user needs `sudo`. */
    user?: string;
    /** Private key text (OpenSSH or PEM). Kept secret. */
    privateKey?: string;
    /** Passphrase of the private key. Kept secret. */
    privateKeyPassword?: string;
    /** Password. Kept secret. */
    password?: string;
    /** Path of an ssh-agent socket (SSH_AUTH_SOCK). */
    agentSocket?: string;
    /** The name of credentials in the stack's configuration, instead of privateKey, privateKeyPassword and
     * password here: `lvs:credentials.NAME` (set with `pulumi config set --secret --path
     * 'lvs:credentials.NAME.privateKey' -- "$(cat KEYFILE)"`). The state then holds only the name. */
    credentials?: string;
    /** The node's host key, pinned: "ssh-ed25519 AAAA..." (as in known_hosts) or "SHA256:..." (ssh-keygen -lf).
     * Required unless insecureIgnoreHostKey. */
    hostKey?: string;
    /** Accept any host key. Only for throwaway machines: it lets anyone in the middle see your keys' use. */
    insecureIgnoreHostKey?: boolean;
    /** A jump host to reach the node through. */
    proxy?: Connection;
    /** Run the agent with `sudo -n` (the user needs passwordless sudo for node). */
    sudo?: boolean;
    /** Seconds for one connection attempt (15). */
    dialTimeout?: number;
    /** Connection attempts before giving up (5); waits 1, 2, 4, ... s between them. */
    dialRetries?: number;
}

/** The fields that are secrets: in the inputs, the state and every log. */
export const secretConnectionFields = ["privateKey", "privateKeyPassword", "password"] as const;

type FieldRule = (v: unknown) => string | undefined;
const nonEmpty = (quote: boolean): FieldRule => (v) => (typeof v === "string" && v ? undefined
    : `${quote ? show(v) : "it"} is not a non-empty string`);
const boolean: FieldRule = (v) => (typeof v === "boolean" ? undefined : `${show(v)} is not a boolean`);

/** Each field's rule (the rules across fields are checkConnection's). */
const connectionRules: Record<keyof Connection, FieldRule> = {
    host: (v) => (typeof v === "string" && v ? undefined : `${show(v)} is not a host name or address`),
    port: (v) => (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535 ? undefined
        : `${show(v)} is not a port: 1 to 65535`),
    user: nonEmpty(true),
    privateKey: nonEmpty(false),
    privateKeyPassword: nonEmpty(false),
    password: nonEmpty(false),
    agentSocket: nonEmpty(true),
    credentials: nonEmpty(true),
    hostKey: (v) => (v === "" ? undefined : pinnedKeyProblem(v)),
    insecureIgnoreHostKey: boolean,
    proxy: () => undefined, // a connection itself: checked in full below
    sudo: boolean,
    dialTimeout: (v) => (typeof v === "number" && v > 0 && v <= 3600 ? undefined
        : `${show(v)} is not a dial timeout: seconds, more than 0 and at most 3600`),
    dialRetries: (v) => (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 100 ? undefined
        : `${show(v)} is not a number of attempts: an integer from 1 to 100`),
};
export const connectionFields = Object.keys(connectionRules) as Array<keyof Connection>;

/** Checks a connection as preview does (a missing host is the host's rule). */
export function checkConnection(c: unknown, property: string, failures: Failure[] = []): Failure[] {
    if (typeof c !== "object" || c === null) {
        failures.push({ property, reason: "a connection is required: at least host (and hostKey)" });
        return failures;
    }
    const o = c as Record<string, unknown>;
    failures.push(...unknownFields(o, connectionFields, property, "connection field"));
    for (const f of connectionFields) {
        if (o[f] === undefined && f !== "host") continue;
        const reason = connectionRules[f](o[f]);
        if (reason) failures.push({ property: `${property}.${f}`, reason });
    }
    if ((o.hostKey === undefined || o.hostKey === "") && !o.insecureIgnoreHostKey)
        failures.push({ property: `${property}.hostKey`,
            reason: "pin the node's host key (an OpenSSH public key or its SHA256 fingerprint), " +
                "or set insecureIgnoreHostKey" });
    if (!o.privateKey && !o.password && !o.agentSocket && !o.credentials)
        failures.push({ property: `${property}`,
            reason: "give credentials (named in the stack's configuration), privateKey, password or agentSocket " +
                "to log in with" });
    const inline = secretConnectionFields.filter((f) => o[f] !== undefined);
    if (o.credentials !== undefined && inline.length)
        failures.push({ property: `${property}.credentials`,
            reason: `${show(o.credentials)} is given with ${inline.join(" and ")}: give the credentials either by ` +
                "name (in the stack's configuration) or here, not both" });
    if (o.proxy !== undefined) checkConnection(o.proxy, `${property}.proxy`, failures);
    return failures;
}

/** Where a connection goes, for messages and pooling: "root@10.0.0.1:22" (via its jump host). */
export function target(c: Connection): string {
    const self = `${c.user ?? "root"}@${c.host}:${c.port ?? 22}`;
    return c.proxy ? `${self} via ${target(c.proxy)}` : self;
}

/** A pinned OpenSSH public key: its type and blob, from "type base64 [comment]" or a known_hosts line
 * ("host type base64"); undefined when the text is neither. */
export function parsePinnedKey(pinned: string): { type: string; blob: Buffer } | undefined {
    const words = pinned.trim().split(/\s+/);
    const i = words.findIndex((w) => /^(ssh-|ecdsa-sha2-|sk-)/.test(w));
    if (i < 0 || !words[i + 1]) return undefined;
    const blob = Buffer.from(words[i + 1], "base64");
    // The blob starts with its own type (uint32 length, then the name): a cheap check that it is a key.
    if (blob.length < 4 || blob.subarray(4, 4 + blob.readUInt32BE(0)).toString("latin1") !== words[i]) return undefined;
    return { type: words[i], blob };
}

/** Why a pinned hostKey is neither an OpenSSH public key nor a SHA256 fingerprint, or undefined when it is one. */
export function pinnedKeyProblem(pinned: unknown): string | undefined {
    const text = typeof pinned === "string" ? pinned.trim() : "";
    if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(text) || (text && !text.startsWith("SHA256:") && parsePinnedKey(text)))
        return undefined;
    return `${show(pinned)} is neither an OpenSSH public key ("ssh-ed25519 AAAA...", as in known_hosts) ` +
        `nor a SHA256 fingerprint ` +
        `("SHA256:" and 43 base64 characters, as ssh-keygen -lf prints it)`;
}
