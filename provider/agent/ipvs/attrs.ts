// Netlink attributes and the integers and names inside them, packed and read in host order unless a name
// says be (big-endian, network order). Pure: no socket here. A value out of range is a RangeError.
import * as os from "os";
import { IPVS, NETLINK } from "./constants";

/** Whether this host is little-endian: netlink lengths, types and most integers are in host order. */
export const LE = os.endianness() === "LE";

export function check(ok: boolean, what: string): void {
    if (!ok) throw new RangeError(what);
}
export function uint(v: number, bits: number, what: string): number {
    check(Number.isInteger(v) && v >= 0 && v < 2 ** bits,
        `${what} must be an integer in 0..${2 ** bits - 1}, got ${v}`);
    return v;
}
export function u8(v: number, what: string): Buffer {
    return Buffer.from([uint(v, 8, what)]);
}
export function u16(v: number, what: string): Buffer {
    const b = Buffer.alloc(2);
    LE ? b.writeUInt16LE(uint(v, 16, what)) : b.writeUInt16BE(uint(v, 16, what));
    return b;
}
export function be16(v: number, what: string): Buffer {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(uint(v, 16, what));
    return b;
}
export function u32(v: number, what: string): Buffer {
    const b = Buffer.alloc(4);
    LE ? b.writeUInt32LE(uint(v, 32, what)) : b.writeUInt32BE(uint(v, 32, what));
    return b;
}
export function name(s: string, what: string): Buffer {
    const b = Buffer.from(s + "\0", "utf8");
    check(s.length > 0 && !s.includes("\0") && b.length <= IPVS.nameMax,
        `${what} must be 1..${IPVS.nameMax - 1} bytes, got ${JSON.stringify(s)}`);
    return b;
}

export function readU8(b: Buffer): number {
    return b.readUInt8(0);
}
export function readU16(b: Buffer): number {
    return LE ? b.readUInt16LE(0) : b.readUInt16BE(0);
}
export function readU32(b: Buffer): number {
    return LE ? b.readUInt32LE(0) : b.readUInt32BE(0);
}
export function readU64(b: Buffer): number {
    return Number(LE ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0));
}
export function readName(b: Buffer): string {
    const end = b.indexOf(0);
    return b.subarray(0, end < 0 ? b.length : end).toString("utf8");
}

/** One netlink attribute: {u16 len, u16 type} in host order, the value, padding to 4 bytes. */
export function attr(type: number, value: Buffer): Buffer {
    const len = 4 + value.length;
    const b = Buffer.alloc((len + 3) & ~3);
    if (LE) { b.writeUInt16LE(len, 0); b.writeUInt16LE(type, 2); }
    else { b.writeUInt16BE(len, 0); b.writeUInt16BE(type, 2); }
    value.copy(b, 4);
    return b;
}

/** A nested attribute (NLA_F_NESTED set, as the kernel sets it on its replies). */
export function nest(type: number, attrs: Buffer[]): Buffer {
    return attr(type | NETLINK.NLA_F_NESTED, Buffer.concat(attrs));
}

/** Parses a stream of attributes into type -> value (flag bits masked off, the last of a type wins). */
export function parseAttrs(b: Buffer): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    let off = 0;
    while (off + 4 <= b.length) {
        const len = LE ? b.readUInt16LE(off) : b.readUInt16BE(off);
        const type = (LE ? b.readUInt16LE(off + 2) : b.readUInt16BE(off + 2)) & NETLINK.NLA_TYPE_MASK;
        if (len < 4 || off + len > b.length) throw new Error(`malformed netlink attribute at offset ${off}`);
        out.set(type, b.subarray(off + 4, off + len));
        off += (len + 3) & ~3;
    }
    return out;
}

/** The attribute of that type, which the kernel's reply must have. */
export function need(attrs: Map<number, Buffer>, type: number, what: string): Buffer {
    const v = attrs.get(type);
    if (!v) throw new Error(`the kernel's reply has no ${what} attribute`);
    return v;
}

/** A generic netlink payload: the genl header {u8 cmd, u8 version, u16 reserved} and the attributes. */
export function ipvsMessage(cmd: number, attrs: Buffer[]): Buffer {
    return Buffer.concat([Buffer.from([cmd, IPVS.genlVersion, 0, 0]), ...attrs]);
}
