// IP addresses as text and as bytes, in one place for the provider and the agent (IPVS, rtnetlink).
// Text is read strictly and written as glibc's inet_ntop writes it (RFC 5952, IPv4-mapped with a
// dotted tail), which is what ipvsadm and ip print.
import * as net from "net";
import type { Family } from "./types";

function check(ok: boolean, what: string): void {
    if (!ok) throw new RangeError(what);
}

export function parseIPv4(text: string): Buffer {
    const parts = text.split(".");
    check(parts.length === 4 && parts.every(p => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255),
        `not an IPv4 address: ${JSON.stringify(text)}`);
    return Buffer.from(parts.map(Number));
}

export function formatIPv4(b: Buffer): string {
    return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

export function parseIPv6(text: string): Buffer {
    const bad = () => new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
    let s = text;
    const words: number[] = [];
    // an embedded IPv4 tail (::ffff:10.0.0.1) becomes two words
    const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    let tail: number[] = [];
    if (v4) {
        const q = parseIPv4(v4[2]);
        tail = [(q[0] << 8) | q[1], (q[2] << 8) | q[3]];
        s = v4[1].endsWith("::") ? v4[1] : v4[1].slice(0, -1);
    }
    const halves = s.split("::");
    if (halves.length > 2) throw bad();
    const group = (h: string): number[] => {
        if (h === "") return [];
        return h.split(":").map(g => {
            if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
            return parseInt(g, 16);
        });
    };
    const head = group(halves[0]);
    if (halves.length === 2) {
        const rest = [...group(halves[1]), ...tail];
        const zeros = 8 - head.length - rest.length;
        if (zeros < 1) throw bad();
        words.push(...head, ...new Array<number>(zeros).fill(0), ...rest);
    } else {
        words.push(...head, ...tail);
    }
    if (words.length !== 8) throw bad();
    const b = Buffer.alloc(16);
    words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
    return b;
}

export function formatIPv6(b: Buffer): string {
    const w = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
    // the longest run of two or more zero words (the first of equals) becomes "::" (RFC 5952)
    let best = -1, bestLen = 0;
    for (let i = 0; i < 8;) {
        if (w[i] !== 0) { i++; continue; }
        let j = i;
        while (j < 8 && w[j] === 0) j++;
        if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
        i = j;
    }
    // glibc's inet_ntop writes IPv4-compatible and IPv4-mapped addresses with a dotted tail
    if (best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff)))
        return `::${bestLen === 5 ? "ffff:" : ""}${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    const hex = (ws: number[]) => ws.map(x => x.toString(16)).join(":");
    if (best < 0) return hex(w);
    return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** The 4 or 16 bytes of an IPv4 or IPv6 address. */
export function addressBytes(text: string): Buffer {
    return text.includes(":") ? parseIPv6(text) : parseIPv4(text);
}

/** The text of 4 or 16 address bytes. */
export function formatAddress(bytes: Uint8Array): string {
    const b = Buffer.from(bytes);
    return b.length === 4 ? formatIPv4(b) : formatIPv6(b);
}

/** The canonical text of an address: "FD00:0::0001" is "fd00::1". */
export function canonicalAddress(text: string): string {
    return formatAddress(addressBytes(text));
}

/** The family of an address, or undefined when it is not one the kernel takes (an IPv6 zone, "%eth0",
 * is not: ipvsadm refuses it, and the kernel's address has no room for it). */
export function familyOf(address: string): Family | undefined {
    if (address.includes("%")) return undefined;
    const v = net.isIP(address);
    return v === 4 ? "inet" : v === 6 ? "inet6" : undefined;
}
