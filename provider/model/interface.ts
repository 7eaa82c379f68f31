// Interface names and the addresses a node holds on them (a director's VIPs, a real server's): one rule
// each, for the providers' checks, the Cluster and the agent alike.
import { familyOf } from "./address";
import { Failure, isInt, unknownFields } from "./rules";
import { show } from "./show";

/** The rule for an interface name in words. */
export const interfaceNameRule =
    "1-15 printable ASCII characters, no '/', ':' or whitespace, not '.' or '..'";

/** The kernel's rules for an interface name (dev_valid_name, IFNAMSIZ 16), kept to printable ASCII. */
export function interfaceNameProblem(name: unknown): string | undefined {
    if (typeof name !== "string")
        return `interface name ${show(name)} is not a string (must be ${interfaceNameRule})`;
    if (name.length < 1 || name.length > 15 || !/^[\x21-\x7e]+$/.test(name) || /[/:]/.test(name) ||
        name === "." || name === "..")
        return `interface name ${show(name)} is invalid (must be ${interfaceNameRule})`;
    return undefined;
}

/** An address a node holds on an interface: the prefix length is 32 or 128 when left out. */
export interface HostAddress {
    address: string;
    /** The interface, e.g. eth0. */
    interface: string;
    /** 32 or 128 by default. */
    prefixLength?: number;
}
export const hostAddressFields = ["address", "interface", "prefixLength"] as const;

/** The prefix length of a host address that gives none: the address alone. */
export const hostPrefixLength = (address: string): number => (familyOf(address) === "inet6" ? 128 : 32);

export function validateHostAddress(a: unknown, property: string): Failure[] {
    if (typeof a !== "object" || a === null || Array.isArray(a))
        return [{ property, reason: `${show(a)} is not an address: give address and interface` }];
    const o = a as Record<string, unknown>;
    const f = unknownFields(o, hostAddressFields, property, "address field");
    const family = typeof o.address === "string" ? familyOf(o.address) : undefined;
    if (!family)
        f.push({ property: `${property}.address`, reason: `${show(o.address)} is not an IPv4 or IPv6 address` });
    const p = interfaceNameProblem(o.interface);
    if (p) f.push({ property: `${property}.interface`, reason: p });
    const max = family === "inet6" ? 128 : 32;
    if (o.prefixLength !== undefined && !isInt(o.prefixLength, 1, max))
        f.push({ property: `${property}.prefixLength`,
            reason: `${show(o.prefixLength)} is not a prefix length${family ? ` for ${o.address}` : ""}: ` +
                `an integer from 1 to ${max}` });
    return f;
}
