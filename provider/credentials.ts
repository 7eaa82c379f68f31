// Credentials kept in one place, the stack's configuration, instead of in every resource: the secret
// `lvs:credentials` is an object of named credentials, each of privateKey, privateKeyPassword and password
// (`pulumi config set --secret --path 'lvs:credentials.deploy.privateKey' -- "$(cat key)"`), and a connection
// names one (`credentials: "deploy"`). The resources then hold the name and no key; the key is in the
// stack's config, encrypted by the stack's secrets provider (and once in the state, where the engine records
// that config for the provider, rather than in every resource as well). Pulumi gives a dynamic provider
// the stack's whole configuration through its configure(), which runs in the provider's process before any
// other call of the provider: every stub of the SDK forwards it here (a stub from an older state, which
// forwards nothing, runs beside a newer one, and this module is the process's one copy).
import type * as pulumi from "@pulumi/pulumi";
import type { Connection } from "./model/connection";
import { type Failure, show } from "./model";

/** The configuration key, in the stack's config. */
export const credentialsKey = "lvs:credentials";
const fields = ["privateKey", "privateKeyPassword", "password"] as const;
type Credentials = Partial<Record<(typeof fields)[number], string>>;

let named: Map<string, Credentials> | undefined;
/** What is wrong with the configured value, when something is. */
let problem: string | undefined;

/** Takes the stack's configuration (the dynamic provider's configure), once per stub of the process. */
export function configure(req: pulumi.dynamic.ConfigureRequest): void {
    setCredentials(req.config.get(credentialsKey));
}

/** Reads `lvs:credentials` as the configuration gives it (JSON text, or undefined when not set). */
export function setCredentials(raw: string | undefined): void {
    named = new Map();
    problem = undefined;
    if (raw === undefined) return;
    let value: unknown;
    try {
        value = JSON.parse(raw);
    } catch {
        value = raw;
    }
    const shape = "an object of named credentials, each an object of privateKey, privateKeyPassword and password";
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problem = `the stack's configuration ${credentialsKey} is not ${shape} ` +
            `(set one with pulumi config set --secret --path '${credentialsKey}.NAME.privateKey' -- "$(cat KEYFILE)")`;
        return;
    }
    for (const [name, c] of Object.entries(value)) {
        const bad = typeof c !== "object" || c === null || Array.isArray(c) ? "it is not an object"
            : Object.entries(c).map(([f, v]) => (!(fields as readonly string[]).includes(f)
                ? `it has ${show(f)}, which is none of ${fields.join(", ")}`
                : typeof v === "string" && v ? undefined : `its ${f} is not a non-empty string`)).find((r) => r)
                ?? (Object.keys(c).length ? undefined : "it is empty");
        if (bad) {
            problem = `the stack's configuration ${credentialsKey}.${name} is not credentials: ${bad} (${shape})`;
            return;
        }
        named.set(name, c as Credentials);
    }
}

/** Why the credentials a connection names cannot be used, or undefined when they can (or it names none). */
function credentialsProblem(name: unknown): string | undefined {
    if (typeof name !== "string" || !name) return undefined; // the field's own rule says why
    if (!named) return `no configuration reached the provider, so the credentials ${show(name)} cannot be found ` +
        "(a provider without Pulumi's configure)";
    if (problem) return problem;
    if (named.has(name)) return undefined;
    const known = [...named.keys()];
    return `${show(name)} is not in the stack's configuration ${credentialsKey} ` +
        `(${known.length ? `it names ${known.map((k) => show(k)).join(", ")}` : "it is not set"}): set it with ` +
        `pulumi config set --secret --path '${credentialsKey}.${name}.privateKey' -- "$(cat KEYFILE)"`;
}

/** A failure for each connection (itself, its jump host) that names credentials which cannot be used. */
export function checkCredentials(c: unknown, property: string, failures: Failure[]): void {
    if (typeof c !== "object" || c === null) return;
    const o = c as Record<string, unknown>;
    const reason = credentialsProblem(o.credentials);
    if (reason) failures.push({ property: `${property}.credentials`, reason });
    checkCredentials(o.proxy, `${property}.proxy`, failures);
}

/** The connection with the credentials it names filled in (its jump host's are its jump host's). */
export function withCredentials(c: Connection): Connection {
    if (c.credentials === undefined) return c;
    const reason = credentialsProblem(c.credentials);
    if (reason) throw new Error(`connection.credentials: ${reason}`);
    return { ...c, ...named!.get(c.credentials) };
}
