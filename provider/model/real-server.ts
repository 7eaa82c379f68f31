// A real server of a virtual service: each field once with its doc (RealServerSpec), its rule, ipvsadm's
// default and the kernel's name for it (the tables). Check, the agent's validation, normalisation, the
// view refresh shows and the comparisons of diff and of the agent's plan are all made from these.
import { canonicalAddress, familyOf } from "./address";
import { choices, Failure, intRule, isInt, maxInt, oneOfRule, portRule } from "./rules";
import { Attribute, fieldRules, serviceFamily, ServiceKey } from "./service";
import { show } from "./show";
import type { Family, ForwardingMethod, Stats, TunnelFlags, TunnelType } from "./types";

// The kernel's form (what the agent writes and reads back, what a refresh compares).

export interface RealServerId {
    address: string;
    port: number;
    /** The real server's own address family (may differ from the service's only for "tun"). */
    addressFamily: Family;
}
export interface DestinationSettings {
    forwarding: ForwardingMethod;
    weight: number;
    upperThreshold: number;
    lowerThreshold: number;
    /** Only meaningful for "tun"; sent and read back only then. */
    tunnelType?: TunnelType;
    tunnelPort?: number;
    tunnelFlags?: TunnelFlags;
}
export interface RealServer extends RealServerId, DestinationSettings {
    /** Read only counters, filled in by the kernel on reads. */
    activeConns?: number;
    inactConns?: number;
    persistConns?: number;
    stats?: Stats;
}

/** How a real server is reached (the kernel's "local" is its own doing, never declared). */
export type Forwarding = Exclude<ForwardingMethod, "local">;
export type TunnelChecksum = TunnelFlags;

export interface Tunnel {
    /** ipip (default), gue (with port) or gre. */
    type?: TunnelType;
    /** The GUE tunnel's UDP port on the real server. */
    port?: number;
    /** nocsum (default), csum or remcsum (GUE only): the checksum of the outer packet. */
    checksum?: TunnelChecksum;
}

/** A real server's settings: everything but its address and port. */
export interface RealServerSettings {
    /** dr (default), tun or nat. */
    forwarding?: Forwarding;
    /** 0 to 2147483647 (1); 0 takes no new connections. */
    weight?: number;
    /** Stop sending new connections above this many (0: no limit). */
    upperThreshold?: number;
    /** Resume below this many. */
    lowerThreshold?: number;
    /** For tun: ipip (default), gue (with port) or gre, and the checksum mode. */
    tunnel?: Tunnel;
}

export interface RealServerSpec extends RealServerSettings {
    /** The real server's address, IPv4 or IPv6 (another family than the service's only with tun). */
    address: string;
    /** The port it listens on: the service's port by default; only NAT may map it to another. */
    port?: number;
}

const forwardings = ["dr", "tun", "nat"] as const;
const threshold = intRule(0, maxInt, "a connection threshold", `an integer from 0 (none) to ${maxInt}`);

/** The settings of a real server, by the program's name. */
export const realServerAttributes = {
    forwarding: { rule: oneOfRule(forwardings, "a forwarding method", `use ${choices(forwardings)}`), default: "dr",
        kernel: "forwarding", words: "forwarding" },
    weight: { rule: intRule(0, maxInt, "a weight", `an integer from 0 to ${maxInt} (0 takes no new connections)`),
        default: 1, kernel: "weight", words: "weight" },
    upperThreshold: { rule: threshold, default: 0, kernel: "upperThreshold", words: "upper threshold" },
    lowerThreshold: { rule: threshold, default: 0, kernel: "lowerThreshold", words: "lower threshold" },
    tunnel: { rule: (v) => (typeof v === "object" && v !== null && !Array.isArray(v) ? undefined
        : `${show(v)} is not a tunnel setting: an object, e.g. { type: "gue", port: 6080 }`),
        kernel: "tunnelType", words: "tunnel" },
} satisfies Record<keyof RealServerSettings, Attribute>;
export const realServerSettingFields = Object.keys(realServerAttributes) as Array<keyof RealServerSettings>;

const tunnelTypes = ["ipip", "gue", "gre"] as const;
const checksums = ["nocsum", "csum", "remcsum"] as const;
/** The fields of `tunnel` (sent, read back and compared only with forwarding tun). */
export const tunnelAttributes = {
    type: { rule: oneOfRule(tunnelTypes, "a tunnel type", `use ${choices(tunnelTypes)}`), default: "ipip",
        kernel: "tunnelType", words: "tunnel type" },
    port: { rule: () => undefined, default: 0, kernel: "tunnelPort",
        words: "tunnel port" }, // by type: validateRealServer
    checksum: { rule: oneOfRule(checksums, "a tunnel checksum mode", `use ${choices(checksums)}`), default: "nocsum",
        kernel: "tunnelFlags", words: "tunnel checksum" },
} satisfies Record<keyof Tunnel, Attribute>;
export const tunnelFields = Object.keys(tunnelAttributes) as Array<keyof Tunnel>;

/** The kernel's fields of a real server's settings, in table order (what the agent compares and records). */
const kernelFields = (r: RealServer) => (r.forwarding === "tun" ? [realServerAttributes, tunnelAttributes]
    : [realServerAttributes])
    .flatMap((t) => Object.values(t) as Attribute[]).filter((a) => a !== realServerAttributes.tunnel);

export function validateRealServer(r: RealServerSpec, service: ServiceKey): Failure[] {
    const f: Failure[] = [];
    const fwd = r.forwarding ?? realServerAttributes.forwarding.default;
    fieldRules(r as unknown as Record<string, unknown>, realServerAttributes, "", f);
    const family = familyOf(String(r.address));
    if (!family) f.push({ property: "address", reason: `${show(r.address)} is not an IPv4 or IPv6 address` });
    else if (family !== serviceFamily(service) && fwd !== "tun")
        f.push({ property: "address", reason: `${r.address} is ${family} but the service is ` +
            `${serviceFamily(service)}: mixing families needs forwarding "tun"` });
    if (r.port !== undefined) {
        const port = portRule(r.port);
        if (port) f.push({ property: "port", reason: port });
        else if (fwd !== "nat" && service.fwmark === undefined && r.port !== service.port)
            f.push({ property: "port", reason: `with forwarding "${fwd}" a real server listens on the service's port ` +
                `${service.port}, not ${r.port}; leave port out or use "nat"` });
    }
    // The kernel refuses (ERANGE) a lower threshold above the upper one, and "no upper threshold" is 0.
    const upper = r.upperThreshold ?? 0;
    if (isInt(upper, 0, maxInt) && isInt(r.lowerThreshold, 1, maxInt) && r.lowerThreshold > upper)
        f.push({ property: "lowerThreshold", reason: upper === 0
            ? `${r.lowerThreshold} needs an upper threshold at or above it ` +
                `(the kernel refuses a lower threshold alone: ERANGE)`
            : `${r.lowerThreshold} is above the upper threshold ${upper}` });
    const t = r.tunnel;
    if (t !== undefined && typeof t === "object" && t !== null) {
        if (fwd !== "tun")
            f.push({ property: "tunnel", reason: `tunnel settings need forwarding "tun", not "${fwd}"` });
        fieldRules(t as Record<string, unknown>, tunnelAttributes, "tunnel.", f);
        if (t.type === "gue" && !isInt(t.port, 1, 65535))
            f.push({ property: "tunnel.port",
                reason: `${show(t.port)}: a GUE tunnel needs its UDP port, from 1 to 65535` });
        if (t.type !== "gue" && t.port !== undefined)
            f.push({ property: "tunnel.port", reason: `only a GUE tunnel has a port` });
        if (t.checksum !== undefined && (t.type ?? "ipip") === "ipip")
            f.push({ property: "tunnel.checksum", reason: `an ipip tunnel has no checksum option (gue and gre do)` });
        if (t.checksum === "remcsum" && t.type !== "gue")
            f.push({ property: "tunnel.checksum",
                reason: `remote checksum offload (remcsum) is for GUE tunnels only` });
    }
    return f;
}

/** The kernel's form of a declared real server: ipvsadm's defaults (dr, weight 1, no thresholds, the
 * service's port) filled in, the address canonical. The tunnel's checksum only when given. */
export function normalizeRealServer(r: RealServerSpec, service: ServiceKey): RealServer {
    const out: Record<string, unknown> = {
        address: canonicalAddress(r.address),
        port: r.port ?? (service.fwmark !== undefined ? 0 : service.port!),
        addressFamily: familyOf(r.address)!,
    };
    const given = r as unknown as Record<string, unknown>;
    for (const [field, a] of Object.entries(realServerAttributes) as Array<[string, Attribute]>)
        if (a !== realServerAttributes.tunnel) out[a.kernel] = given[field] ?? a.default;
    if (out.forwarding === "tun") {
        const t = (r.tunnel ?? {}) as Record<string, unknown>;
        const T = tunnelAttributes;
        out[T.type.kernel] = t.type ?? T.type.default;
        out[T.port.kernel] = t.port ?? T.port.default;
        if (t.checksum) out[T.checksum.kernel] = t.checksum;
    }
    return out as unknown as RealServer;
}

/** The user's view of a live real server (its port and settings), so that refresh shows drift in the words of
 * the program. */
export function realServerView(r: RealServer): RealServerSettings & { port: number } {
    const live = r as unknown as Record<string, unknown>;
    const view: Record<string, unknown> = { port: r.port };
    for (const [field, a] of Object.entries(realServerAttributes) as Array<[string, Attribute]>)
        if (a !== realServerAttributes.tunnel) view[field] = live[a.kernel];
    if (r.forwarding === "tun") {
        view.tunnel = { type: r.tunnelType ?? "ipip", ...(r.tunnelPort ? { port: r.tunnelPort } : {}),
            ...(r.tunnelFlags && r.tunnelFlags !== "nocsum" ? { checksum: r.tunnelFlags } : {}) };
    }
    return view as unknown as RealServerSettings & { port: number };
}

/** What differs between a declared real server and the kernel's, in words ("weight 1 -> 2"): the
 * tunnel's fields count only with forwarding tun, each at its default when the kernel leaves it out. */
export function realServerDiff(want: RealServer, live: RealServer): string[] {
    const w = want as unknown as Record<string, unknown>, l = live as unknown as Record<string, unknown>;
    return kernelFields(want).flatMap((a) => {
        const ours = w[a.kernel] ?? a.default, theirs = l[a.kernel] ?? a.default;
        return ours === theirs ? [] : [`${a.words} ${String(theirs)} -> ${String(ours)}`];
    });
}

/** The settings of a kernel-form real server, without its identity and counters (what holders compare). */
export function realServerSettings(r: RealServer): Record<string, unknown> {
    const { address: _a, port: _p, addressFamily: _f, activeConns: _ac, inactConns: _ic, persistConns: _pc, stats: _s,
        ...rest } = r;
    return rest as Record<string, unknown>;
}
