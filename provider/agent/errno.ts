// errno, once for the whole agent: its names, ipvsadm's meanings of what the IPVS netlink calls answer,
// and the two errors that carry one (IpvsError for the IPVS table, HostError for the rest of the host).
import * as os from "os";
import * as util from "util";

const ERRNO = os.constants.errno as Record<string, number>;

/** errno number -> name ("EEXIST"): libuv's name, else the one os.constants has, else "E<number>". */
export function errnoName(errno: number): string {
    return util.getSystemErrorMap().get(-errno)?.[0]
        ?? Object.keys(ERRNO).find((k) => ERRNO[k] === errno) ?? `E${errno}`;
}

/** errno name -> number (undefined for no name, or one this system does not know). */
export function errnoOf(code: string | undefined): number | undefined {
    return code ? ERRNO[code] : undefined;
}

// ---------------------------------------------------------------------------------------------
// IPVS

/** Operation kinds, for the errno meanings (ipvsadm's table). */
export type IpvsOpKind =
    | "resolve family" | "list services" | "get service" | "add service" | "update service" | "delete service"
    | "list destinations" | "add destination" | "update destination" | "delete destination"
    | "list daemons" | "start daemon" | "stop daemon" | "get timeouts" | "set timeouts" | "get info" | "zero";

const ERRNO_MEANINGS: Array<[IpvsOpKind[] | "any", string, string]> = [
    [["add service"], "EEXIST", "service already exists"],
    [["add service", "update service"], "ENOENT", "scheduler or persistence engine not found"],
    [["get service", "update service", "delete service", "zero", "list destinations"], "ESRCH", "no such service"],
    [["add destination", "update destination", "delete destination"], "ESRCH", "service not defined"],
    [["add destination"], "EEXIST", "destination already exists"],
    [["update destination", "delete destination"], "ENOENT", "no such destination"],
    [["start daemon"], "EEXIST", "daemon already running"],
    [["stop daemon"], "ESRCH", "no daemon running"],
    [["resolve family"], "ENOENT", "the kernel has no IPVS (module ip_vs not available)"],
    ["any", "EPERM", "no CAP_NET_ADMIN (run as root)"],
    ["any", "EINVAL", "invalid operation or combination"],
    ["any", "EAFNOSUPPORT", "unsupported address family"],
];

/** What an errno means for an operation, in ipvsadm's words (falls back to the C library's text). */
export function errnoMeaning(kind: IpvsOpKind, code: string, errno: number): string {
    for (const [kinds, c, meaning] of ERRNO_MEANINGS)
        if (c === code && (kinds === "any" || kinds.includes(kind))) return meaning;
    return util.getSystemErrorMap().get(-errno)?.[1] ?? `errno ${errno}`;
}

export class IpvsError extends Error {
    /** The positive errno number (17 for EEXIST). */
    readonly errno: number;
    /** The errno name: EEXIST, ENOENT, ESRCH, ... */
    readonly code: string;
    /** What was being done: "add service tcp 10.0.0.200:80". */
    readonly op: string;
    readonly kind: IpvsOpKind;
    /** ipvsadm's meaning of this errno for this operation. */
    readonly meaning: string;
    constructor(errno: number, kind: IpvsOpKind, op: string) {
        const code = errnoName(errno);
        const meaning = errnoMeaning(kind, code, errno);
        super(`${op}: ${code}: ${meaning}`);
        this.name = "IpvsError";
        this.errno = errno;
        this.code = code;
        this.op = op;
        this.kind = kind;
        this.meaning = meaning;
    }
}

// ---------------------------------------------------------------------------------------------
// The host

/** A failure on the host. `code` is the errno name (EEXIST, EADDRNOTAVAIL, ENODEV, ...) when the kernel
 * gave one. */
export class HostError extends Error {
    constructor(message: string, readonly code?: string, readonly errno?: number) {
        super(message);
        this.name = "HostError";
    }
}

/** A HostError with the errno of that name: hostError("...", "EINVAL"). */
export function hostError(message: string, code: string | undefined): HostError {
    return new HostError(message, code, errnoOf(code));
}
