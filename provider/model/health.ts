// Health checks: what a real server's check is (HealthCheckSpec, each field once with its doc), its rules
// and defaults (the table), what a service adds around its checks (a default check, a sorry server, a
// quorum), and the one function that says what the kernel has of a real server given its health
// (effectiveRealServer), which the agent's apply and the health daemon both use. Names follow
// ldirectord (request, receive, failureCount, quiescent -> onFailure) and keepalived (connect_ip /
// connect_port -> connectAddress / connectPort, virtualhost, status_code, sorry_server, quorum, hysteresis).
import { canonicalAddress, familyOf } from "./address";
import type { RealServer, RealServerSpec } from "./real-server";
import { booleanRule, choices, Failure, intRule, isInt, oneOfRule, Rule, unknownFields } from "./rules";
import { show } from "./show";

export const checkTypes = ["tcp", "http", "https", "udp", "dns", "exec"] as const;
export type CheckType = (typeof checkTypes)[number];
export const dnsQueryTypes = ["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"] as const;
export type DnsQueryType = (typeof dnsQueryTypes)[number];

/** A real server's health check, run by the health daemon on the director (from its own network
 * namespace) against the real server's address and port, or connectAddress / connectPort. */
export interface HealthCheckSpec {
    /** tcp (a connect), http, https, udp, dns or exec (a command on the director). */
    type: CheckType;
    /** Seconds from one check to the next, 0.1 to 3600 (10, as ldirectord's checkinterval). */
    interval?: number;
    /** Seconds a check may take before it counts as failed, 0.1 to 600 (5, as ldirectord's checktimeout
     * and keepalived's connect_timeout). */
    timeout?: number;
    /** Failed checks in a row that take a healthy server down, 1 to 100 (1, as ldirectord's failurecount). */
    failureCount?: number;
    /** Passed checks in a row that bring a failed server back, 1 to 100 (1). */
    successCount?: number;
    /** The address to check instead of the real server's (keepalived's connect_ip). */
    connectAddress?: string;
    /** The port to check instead of the real server's (keepalived's connect_port); a real server of a
     * fwmark service has no port of its own, so its checks (but exec) need one. */
    connectPort?: number;
    /** The state a real server starts in before its first check: "down" (the default: no traffic until a
     * check passes, keepalived's alpha) or "up". */
    initialState?: "down" | "up";
    /** What a failure does: "quiesce" (the default: weight 0, connections in progress go on, as
     * ldirectord's quiescent = yes and keepalived's inhibit_on_failure) or "remove" (out of the table). */
    onFailure?: "quiesce" | "remove";
    /** A command run on the director on each change of state (an absolute path, then its arguments), given
     * "up" or "down", the real server's address and port as three more arguments. */
    notify?: string[];
    /** http / https: GET (the default) or HEAD. */
    method?: "GET" | "HEAD";
    /** http / https: the path asked for ("/"); udp: the datagram sent (text, "" by default); dns: the name
     * asked for (needed). As ldirectord's request. */
    request?: string;
    /** A regular expression that must match: the body (http / https), the reply (udp: a reply is then
     * needed), or one of the answers (dns). As ldirectord's receive and keepalived's regex. */
    receive?: string;
    /** http / https: the Host header (ldirectord's and keepalived's virtualhost). */
    virtualHost?: string;
    /** http / https: the statuses that pass, "200-299" by default (keepalived's status_code), e.g. "200,301-302". */
    statusCodes?: string;
    /** https: the server name sent in the TLS handshake (SNI): virtualHost by default. */
    sni?: string;
    /** https: verify the real server's certificate against the director's trusted CAs (false). */
    verifyTls?: boolean;
    /** dns: the record type asked for (A). */
    queryType?: DnsQueryType;
    /** exec: the command (an absolute path, then its arguments), run with the real server's address and
     * port as two more arguments (and LVS_RS_ADDRESS / LVS_RS_PORT in its environment); exit 0 is healthy. */
    command?: string[];
}

/** A check with every default of its type filled in: what the node records and the daemon runs. */
export type HealthCheck = Required<Pick<HealthCheckSpec,
    "type" | "interval" | "timeout" | "failureCount" | "successCount" | "initialState" | "onFailure">> &
    Omit<HealthCheckSpec, "type" | "interval" | "timeout" | "failureCount" | "successCount" | "initialState" |
        "onFailure">;

/** A sorry server: the real server that takes a service's traffic while too few of its real servers are
 * healthy (ldirectord's fallback, keepalived's sorry_server). */
export interface SorryServerSpec {
    address: string;
    /** The service's port by default; only NAT may map it to another. */
    port?: number;
    /** dr (default), tun or nat. */
    forwarding?: "dr" | "tun" | "nat";
    /** 1 by default. */
    weight?: number;
}

/** What a service adds around its real servers' checks. */
export interface ServiceHealthSpec {
    /** The check its real servers take unless they declare their own. */
    healthCheck?: HealthCheckSpec;
    /** Takes the traffic while the weight of the healthy real servers is below the quorum, and leaves
     * when they are back. */
    sorryServer?: SorryServerSpec;
    /** The least total weight of healthy real servers the service needs, 1 to 2147483647 (1: one healthy
     * server of weight 1); below it the sorry server takes the traffic (keepalived's quorum). */
    quorum?: number;
    /** How far past the quorum the healthy weight must go before the state changes, 0 to quorum - 1 (0):
     * lost below quorum - hysteresis, back at quorum + hysteresis (keepalived's hysteresis). */
    hysteresis?: number;
}

const seconds = (min: number, max: number, what: string): Rule => (v) =>
    (typeof v === "number" && Number.isFinite(v) && v >= min && v <= max ? undefined
        : `${show(v)} is not ${what}: seconds from ${min} to ${max}`);
const count = intRule(1, 100, "a count of checks", "an integer from 1 to 100");
const text = (what: string, max = 1000): Rule => (v) =>
    (typeof v === "string" && v.length <= max && !/[\0\r\n]/.test(v) ? undefined
        : `${show(v)} is not ${what}: text of at most ${max} characters without line breaks`);
const regexRule: Rule = (v) => {
    const t = text("a regular expression")(v);
    if (t) return t;
    try { new RegExp(v as string); return undefined; } catch (e) {
        return `${show(v)} is not a regular expression: ${(e as Error).message}`;
    }
};
/** An argument list whose first word is an absolute path (no shell runs it). */
const argvRule = (what: string): Rule => (v) =>
    (Array.isArray(v) && v.length >= 1 && v.length <= 64 && v.every((a) => !text("")(a)) &&
        typeof v[0] === "string" && v[0].startsWith("/") ? undefined
        : `${show(v)} is not ${what}: a list of 1 to 64 words, the first an absolute path ` +
            '(e.g. ["/usr/local/bin/check-db", "--quick"]); no shell runs it');
const statusRule: Rule = (v) =>
    (typeof v === "string" && /^[1-5]\d\d(-[1-5]\d\d)?(,[1-5]\d\d(-[1-5]\d\d)?)*$/.test(v) &&
        statusRanges(v).every(([a, b]) => a <= b) ? undefined
        : `${show(v)} is not a list of HTTP statuses: e.g. "200-299" or "200,301-302" (from 100 to 599)`);
const addressRule: Rule = (v) => (typeof v === "string" && familyOf(v) ? undefined
    : `${show(v)} is not an IPv4 or IPv6 address`);

/** Each field of a check: its rule, its default and the check types it belongs to (all when absent). */
export const healthCheckAttributes: Record<keyof HealthCheckSpec,
    { rule: Rule; default?: unknown; types?: readonly CheckType[] }> = {
    type: { rule: oneOfRule(checkTypes, "a check type", `use ${choices(checkTypes)}`) },
    interval: { rule: seconds(0.1, 3600, "a check interval"), default: 10 },
    timeout: { rule: seconds(0.1, 600, "a check timeout"), default: 5 },
    failureCount: { rule: count, default: 1 },
    successCount: { rule: count, default: 1 },
    connectAddress: { rule: addressRule, types: ["tcp", "http", "https", "udp", "dns", "exec"] },
    connectPort: { rule: intRule(1, 65535, "a port to check", "an integer from 1 to 65535") },
    initialState: { rule: oneOfRule(["down", "up"], "an initial state", 'use "down" or "up"'), default: "down" },
    onFailure: { rule: oneOfRule(["quiesce", "remove"], "a failure action", 'use "quiesce" or "remove"'),
        default: "quiesce" },
    notify: { rule: argvRule("a notify command") },
    method: { rule: oneOfRule(["GET", "HEAD"], "an HTTP method", 'use "GET" or "HEAD"'), default: "GET",
        types: ["http", "https"] },
    request: { rule: text("a request"), types: ["http", "https", "udp", "dns"] },
    receive: { rule: regexRule, types: ["http", "https", "udp", "dns"] },
    virtualHost: { rule: text("a host name", 255), types: ["http", "https"] },
    statusCodes: { rule: statusRule, default: "200-299", types: ["http", "https"] },
    sni: { rule: text("a server name", 255), types: ["https"] },
    verifyTls: { rule: booleanRule, default: false, types: ["https"] },
    queryType: { rule: oneOfRule(dnsQueryTypes, "a DNS record type", `use ${choices(dnsQueryTypes)}`), default: "A",
        types: ["dns"] },
    command: { rule: argvRule("a check command"), types: ["exec"] },
};
export const healthCheckFields = Object.keys(healthCheckAttributes) as Array<keyof HealthCheckSpec>;

/** "200,301-302" as ranges [[200, 200], [301, 302]]. */
export function statusRanges(s: string): Array<[number, number]> {
    return s.split(",").map((r) => {
        const [a, b] = r.split("-").map(Number);
        return [a, b ?? a] as [number, number];
    });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);

/** The failures of a check, at `property.field`. */
export function validateHealthCheck(c: unknown, property: string, f: Failure[] = []): Failure[] {
    if (!isObject(c)) {
        f.push({ property, reason: `${show(c)} is not a health check: an object, e.g. ` +
            '{ type: "http", request: "/.testpage", receive: "test page" }' });
        return f;
    }
    unknownFields(c, healthCheckFields, property, "health check setting", f);
    if (c.type === undefined) {
        f.push({ property: `${property}.type`, reason: `a health check needs its type: ${choices(checkTypes)}` });
        return f;
    }
    for (const [field, a] of Object.entries(healthCheckAttributes)) {
        const v = c[field];
        if (v === undefined) continue;
        const reason = a.rule(v);
        if (reason) f.push({ property: `${property}.${field}`, reason });
        else if (a.types && !a.types.includes(c.type as CheckType) && checkTypes.includes(c.type as CheckType))
            f.push({ property: `${property}.${field}`,
                reason: `a ${c.type} check has no ${field} (it is for ${choices(a.types)} checks)` });
    }
    if (c.type === "dns" && c.request === undefined)
        f.push({ property: `${property}.request`,
            reason: 'a dns check needs the name it asks for, e.g. "www.example.com"' });
    if (c.type === "exec" && c.command === undefined)
        f.push({ property: `${property}.command`,
            reason: 'an exec check needs its command, e.g. ["/usr/local/bin/check"]' });
    if ((c.type === "http" || c.type === "https") && typeof c.request === "string" && !c.request.startsWith("/"))
        f.push({ property: `${property}.request`, reason: `${show(c.request)} is not a path: it starts with "/"` });
    return f;
}

/** A valid check with the defaults of its type filled in, its connect address canonical. */
export function normalizeHealthCheck(c: HealthCheckSpec): HealthCheck {
    const out: Record<string, unknown> = {};
    for (const [field, a] of Object.entries(healthCheckAttributes)) {
        const v = (c as unknown as Record<string, unknown>)[field];
        if (a.types && !a.types.includes(c.type)) continue;
        if (v !== undefined) out[field] = v;
        else if (a.default !== undefined) out[field] = a.default;
    }
    if (c.type === "http" || c.type === "https") out.request ??= "/";
    if (c.connectAddress) out.connectAddress = canonicalAddress(c.connectAddress);
    return out as HealthCheck;
}

/** The failures of a service's health settings (its default check, sorry server, quorum). */
export function validateServiceHealth(s: Record<string, unknown>, f: Failure[] = []): Failure[] {
    if (s.healthCheck !== undefined) validateHealthCheck(s.healthCheck, "healthCheck", f);
    const quorum = s.quorum ?? 1;
    if (s.quorum !== undefined && !isInt(s.quorum, 1, 0x7fffffff))
        f.push({ property: "quorum", reason: `${show(s.quorum)} is not a quorum: the least total weight of healthy ` +
            "real servers, an integer from 1 to 2147483647" });
    if (s.hysteresis !== undefined && !(isInt(s.hysteresis, 0, 0x7fffffff) && s.hysteresis < (quorum as number)))
        f.push({ property: "hysteresis", reason: `${show(s.hysteresis)} is not a hysteresis for quorum ` +
            `${show(quorum)}: an integer from 0 to ${isInt(quorum, 1, 0x7fffffff) ? quorum - 1 : "quorum - 1"}` });
    const sorry = s.sorryServer;
    if (sorry !== undefined) {
        if (!isObject(sorry))
            f.push({ property: "sorryServer", reason: `${show(sorry)} is not a sorry server: an object, ` +
                'e.g. { address: "10.0.0.99" }' });
        else {
            unknownFields(sorry, ["address", "port", "forwarding", "weight"], "sorryServer", "sorry server setting", f);
            const bad = addressRule(sorry.address);
            if (bad) f.push({ property: "sorryServer.address", reason: bad });
        }
    }
    return f;
}

/** A service's health settings as the node records them. */
export interface ServiceHealth {
    healthCheck?: HealthCheck;
    /** The sorry server in the kernel's form (the service's real-server rules hold for it). */
    sorryServer?: RealServer;
    quorum: number;
    hysteresis: number;
}

/** The sorry server's declaration as a real server's (its own rules are a real server's). */
export const sorryRealServer = (s: SorryServerSpec): RealServerSpec =>
    ({ address: s.address, ...(s.port !== undefined ? { port: s.port } : {}),
        ...(s.forwarding !== undefined ? { forwarding: s.forwarding } : {}),
        ...(s.weight !== undefined ? { weight: s.weight } : {}) });

/** What the health daemon knows of one endpoint (one check of one address and port). */
export interface EndpointHealth {
    up: boolean;
    /** When it last changed state (ISO time), or when the daemon first knew it. */
    since: string;
    /** The last check's result in words ("HTTP 200", "connection refused"), when one ran. */
    last?: string;
    /** When that check ran (ISO time). */
    lastAt?: string;
}

/** Where a check connects: its connect address and port, or the real server's. */
export function checkTarget(c: HealthCheck, r: { address: string; port: number }): { address: string; port: number } {
    return { address: c.connectAddress ?? r.address, port: c.connectPort ?? r.port };
}

/** The name of an endpoint: what is probed, how and where. Real servers of several services that share
 * it share one probe and one state. */
export function endpointKey(c: HealthCheck, r: { address: string; port: number }): string {
    const { initialState: _i, onFailure: _o, notify: _n, ...probe } = c;
    const t = checkTarget(c, r);
    const fields: Record<string, unknown> = { ...probe, connectAddress: t.address, connectPort: t.port };
    return JSON.stringify(Object.fromEntries(Object.keys(fields).sort().map((k) => [k, fields[k]])));
}

/** Whether an endpoint counts as up: what the daemon knows, else the check's initial state. */
export const isUp = (c: HealthCheck, known: EndpointHealth | undefined): boolean =>
    known ? known.up : c.initialState === "up";

/** What the kernel has of a declared real server: as declared while it is healthy (or unchecked);
 * weight 0 (quiesce) or nothing at all (remove) while its check holds it down; weight 0 while it drains. */
export function effectiveRealServer(declared: RealServer, check: HealthCheck | undefined, up: boolean,
    draining = false): RealServer | undefined {
    if (draining) return { ...declared, weight: 0 };
    if (!check || up) return declared;
    return check.onFailure === "remove" ? undefined : { ...declared, weight: 0 };
}

/** Whether a service has its quorum, given the total weight of its healthy real servers and whether it
 * had it before (hysteresis: lost below quorum - hysteresis, back at quorum + hysteresis). */
export function hasQuorum(h: Pick<ServiceHealth, "quorum" | "hysteresis">, healthyWeight: number,
    before: boolean | undefined): boolean {
    if (before === undefined) return healthyWeight >= h.quorum;
    return before ? healthyWeight >= h.quorum - h.hysteresis : healthyWeight >= h.quorum + h.hysteresis;
}

/** A check's problem with the port it would connect to: a real server of a fwmark service has port 0,
 * so its check (but exec) needs a connectPort. */
export function checkPortProblem(c: { type?: unknown; connectPort?: unknown }, port: number | undefined,
    property: string): Failure[] {
    return port === 0 && c.type !== "exec" && c.connectPort === undefined
        ? [{ property: `${property}.connectPort`, reason: "a real server of a fwmark service has no port of its " +
            `own: a ${show(c.type)} check needs connectPort` }] : [];
}

/** A service's health settings as the node records them: its check and its sorry server normalised,
 * quorum 1 and hysteresis 0 by default. */
export function normalizeServiceHealth(s: ServiceHealthSpec, sorryServer: (r: RealServerSpec) => RealServer):
    ServiceHealth {
    return {
        ...(s.healthCheck ? { healthCheck: normalizeHealthCheck(s.healthCheck) } : {}),
        ...(s.sorryServer ? { sorryServer: sorryServer(sorryRealServer(s.sorryServer)) } : {}),
        quorum: s.quorum ?? 1,
        hysteresis: s.hysteresis ?? 0,
    };
}
export const serviceHealthFields = ["healthCheck", "sorryServer", "quorum", "hysteresis"] as const;
