// Addresses (VIPs on lo / tunl0 / any interface) and links over rtnetlink, with the kernel's errno
// exposed as is: an address already there is EEXIST, one not there EADDRNOTAVAIL, no such link ENODEV.
import type { RtNetlinkSocket } from "netlink";
import { addressBytes as bytesOf, formatAddress } from "../../model/address";
import { interfaceNameProblem } from "../../model/interface";
import type { InterfaceAddress } from "../../model/protocol";
import { show } from "../../model/show";
import { errnoName, HostError, hostError } from "../errno";

// ---------------------------------------------------------------------------------------------
// Interface names and addresses (validation shared with the provider side)

function checkInterfaceName(name: unknown): asserts name is string {
    const p = interfaceNameProblem(name);
    if (p) throw hostError(p, "EINVAL");
}

export type AddressFamily = 4 | 6;

export { formatAddress };

/** The bytes of an IPv4 or IPv6 address; anything else is HostError EINVAL. */
export function addressBytes(address: string): Buffer {
    try {
        return bytesOf(address.replace(/%.*$/, ""));
    } catch {
        throw hostError(`${show(address)} is not an IPv4 or IPv6 address`, "EINVAL");
    }
}

// ---------------------------------------------------------------------------------------------
// Addresses over rtnetlink

export interface Link {
    name: string;
    index: number;
    up: boolean;
}

const AF_INET = 2, AF_INET6 = 10;
const NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400;

function openRtnetlink(): RtNetlinkSocket {
    // required here, not at the top: this module (its validation) must load where the native binding cannot
    const { createRtNetlink } = require("netlink") as typeof import("netlink");
    return createRtNetlink();
}

/** Runs one rtnetlink conversation; a kernel refusal becomes a HostError carrying the errno name. */
async function rtnetlink<T>(what: string, run: (rt: RtNetlinkSocket) => Promise<T>): Promise<T> {
    const rt = openRtnetlink();
    try {
        return await run(rt);
    } catch (e) {
        if (e instanceof HostError) throw e;
        const message = (e as Error)?.message ?? String(e);
        // the netlink package reports a kernel NLMSG_ERROR as "Request rejected: <errno name or number>"
        const m = /Request rejected: (-?\w+)/.exec(message);
        const code = m ? (/^-?\d+$/.test(m[1]) ? errnoName(Math.abs(Number(m[1]))) : m[1]) : undefined;
        throw hostError(`${what}: ${code ?? message}`, code);
    } finally {
        rt.socket.close();
    }
}

const netlinkTimeout = { timeout: 15_000 };

async function linkByName(rt: RtNetlinkSocket, name: string): Promise<Link> {
    const [msg] = await rt.getLink({}, { ifname: name }, netlinkTimeout);
    if (!msg || msg.data.index === undefined) throw hostError(`interface ${name}: ENODEV`, "ENODEV");
    return { name: msg.attrs.ifname ?? name, index: msg.data.index, up: !!msg.data.flags?.up };
}

/** The link of that name; throws HostError ENODEV when there is none. */
export async function getLink(name: string): Promise<Link> {
    checkInterfaceName(name);
    return rtnetlink(`interface ${name}`, (rt) => linkByName(rt, name));
}

/** Sets a link up (IFF_UP) unless it is up already. */
async function setUp(rt: RtNetlinkSocket, link: Link): Promise<void> {
    if (!link.up) await rt.newLink({ family: 0, index: link.index, flags: { up: true }, change: { up: true } }, {},
        netlinkTimeout);
}

/** Sets the link administratively up (IFF_UP); a link already up is left as it is. */
export async function setLinkUp(name: string): Promise<void> {
    checkInterfaceName(name);
    await rtnetlink(`set ${name} up`, async (rt) => {
        const link = await linkByName(rt, name);
        await setUp(rt, link);
    });
}

function flagNames(flags: object | undefined): string[] {
    return Object.entries(flags ?? {}).filter(([k, v]) => v === true && k !== "__unknown").map(([k]) => k).sort();
}

/** Addresses of one interface (or of every interface), IPv4 and IPv6. ENODEV for an unknown interface. */
export async function listAddresses(name?: string): Promise<InterfaceAddress[]> {
    if (name !== undefined) checkInterfaceName(name);
    return rtnetlink(`list addresses${name ? ` of ${name}` : ""}`, async (rt) => {
        const names = new Map<number, string>();
        if (name !== undefined) {
            const link = await linkByName(rt, name);
            names.set(link.index, link.name);
        } else {
            for (const l of await rt.getLinks({}, {}, netlinkTimeout))
                if (l.data.index !== undefined) names.set(l.data.index, l.attrs.ifname ?? String(l.data.index));
        }
        const out: InterfaceAddress[] = [];
        for (const m of await rt.getAddresses({}, {}, netlinkTimeout)) {
            const index = m.data.index ?? -1;
            if (!names.has(index) || (m.data.family !== AF_INET && m.data.family !== AF_INET6)) continue;
            const bytes = m.attrs.local ?? m.attrs.address;
            if (!bytes) continue;
            out.push({
                interface: names.get(index)!, index,
                family: m.data.family === AF_INET ? 4 : 6,
                address: formatAddress(bytes),
                prefixLength: m.data.prefixlen ?? 0,
                scope: m.data.scope ?? 0,
                ...(m.attrs.label !== undefined ? { label: m.attrs.label } : {}),
                flags: flagNames(m.attrs.flags ?? m.data.flags),
            });
        }
        return out;
    });
}

function addressRequest(address: string, prefixLength: number | undefined) {
    const bytes = addressBytes(address);
    const family: AddressFamily = bytes.length === 4 ? 4 : 6;
    const max = family === 4 ? 32 : 128;
    const plen = prefixLength ?? max;
    if (!Number.isInteger(plen) || plen < 0 || plen > max)
        throw hostError(`prefix length ${show(prefixLength)} for ${address} is invalid (must be an integer 0-${max})`,
            "EINVAL");
    return { bytes, family, plen, text: `${formatAddress(bytes)}/${plen}` };
}

/**
 * Adds an address (default a host address: /32 or /128) to an interface and sets the link up.
 * Not idempotent on purpose: an address already there is HostError EEXIST, an unknown interface ENODEV.
 * IPv6 addresses get IFA_F_NODAD: a VIP is shared by design, duplicate detection would disable it.
 * The link is set up first, so that it is up even when the add fails with EEXIST.
 */
export async function addAddress(name: string, address: string, prefixLength?: number): Promise<void> {
    checkInterfaceName(name);
    const a = addressRequest(address, prefixLength);
    await rtnetlink(`add ${a.text} on ${name}`, async (rt) => {
        const link = await linkByName(rt, name);
        await setUp(rt, link);
        const flags = a.family === 6 ? { nodad: true as const } : {};
        await rt.newAddress(
            { family: a.family === 4 ? AF_INET : AF_INET6, prefixlen: a.plen, flags, scope: 0, index: link.index },
            { local: a.bytes, address: a.bytes, flags },
            { ...netlinkTimeout, flags: NLM_F_CREATE | NLM_F_EXCL });
    });
}

/**
 * Deletes exactly that address with that prefix length (default /32 or /128) from an interface.
 * Not idempotent on purpose: an address not there (or there with another prefix) is HostError EADDRNOTAVAIL.
 */
export async function deleteAddress(name: string, address: string, prefixLength?: number): Promise<void> {
    checkInterfaceName(name);
    const a = addressRequest(address, prefixLength);
    await rtnetlink(`delete ${a.text} from ${name}`, async (rt) => {
        const link = await linkByName(rt, name);
        await rt.delAddress(
            { family: a.family === 4 ? AF_INET : AF_INET6, prefixlen: a.plen, index: link.index },
            { local: a.bytes, address: a.bytes },
            netlinkTimeout);
    });
}
