// The node agent's host operations: everything it does on a node that is not the IPVS table.
//   - addresses (VIPs on lo / tunl0 / any interface) over rtnetlink, with the kernel's errno exposed as is;
//   - sysctls through /proc/sys, from a closed table (no other path can be read or written);
//   - kernel modules from a closed list, loaded through the kernel's own modprobe program;
//   - a probe of the kernel: release, IPVS version, schedulers, and the features its version has.
// Only validation tables and pure parsers run on the provider side; the I/O runs on the node.
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import { execFile } from "child_process";
import type { RtNetlinkSocket } from "netlink";
import { addressBytes as bytesOf, formatAddress } from "../model/address";
import { interfaceNameProblem } from "../model/interface";
import { KERNEL_FEATURES, KernelFeature, KernelVersion } from "../model/kernel";
import type { HostProbe, InterfaceAddress, IpvsInfo, ModuleState } from "../model/protocol";
import { SCHEDULER_FEATURE, SCHEDULERS, Scheduler } from "../model/schedulers";
import { show } from "../model/show";
import { findSysctl, INTERFACE_SYSCTLS, interfaceSysctl, ResolvedSysctl, sysctlProblem, SYSCTLS, SysctlValue } from "../model/sysctls";
export type { HostProbe, InterfaceAddress, IpvsInfo, KernelFeature, KernelVersion, ModuleState, Scheduler, SysctlValue };
export { INTERFACE_SYSCTLS, interfaceNameProblem, interfaceSysctl, KERNEL_FEATURES, SCHEDULER_FEATURE, SCHEDULERS, sysctlProblem, SYSCTLS };

/** A failure on the host. `code` is the errno name (EEXIST, EADDRNOTAVAIL, ENODEV, ...) when the kernel gave one. */
export class HostError extends Error {
    constructor(message: string, readonly code?: string, readonly errno?: number) {
        super(message);
        this.name = "HostError";
    }
}

const ERRNO = os.constants.errno as Record<string, number>;

function errnoOf(code: string | undefined): number | undefined {
    return code ? ERRNO[code] : undefined;
}

function errnoName(errno: number): string {
    return Object.keys(ERRNO).find((k) => ERRNO[k] === errno) ?? String(errno);
}

// ---------------------------------------------------------------------------------------------
// Interface names and addresses (validation shared with the provider side)
// ---------------------------------------------------------------------------------------------

function checkInterfaceName(name: unknown): asserts name is string {
    const p = interfaceNameProblem(name);
    if (p) throw new HostError(p, "EINVAL", errnoOf("EINVAL"));
}

export type AddressFamily = 4 | 6;

export { formatAddress };

/** The bytes of an IPv4 or IPv6 address; anything else is HostError EINVAL. */
export function addressBytes(address: string): Buffer {
    try {
        return bytesOf(address.replace(/%.*$/, ""));
    } catch {
        throw new HostError(`${show(address)} is not an IPv4 or IPv6 address`, "EINVAL", errnoOf("EINVAL"));
    }
}

// ---------------------------------------------------------------------------------------------
// Addresses over rtnetlink
// ---------------------------------------------------------------------------------------------

export interface Link {
    name: string;
    index: number;
    up: boolean;
}

const AF_INET = 2, AF_INET6 = 10;
const NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400;

function openRtnetlink(): RtNetlinkSocket {
    // required here, not at the top: the validation tables above must load where the native binding cannot
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
        throw new HostError(`${what}: ${code ?? message}`, code, errnoOf(code));
    } finally {
        rt.socket.close();
    }
}

const netlinkTimeout = { timeout: 15_000 };

async function linkByName(rt: RtNetlinkSocket, name: string): Promise<Link> {
    const [msg] = await rt.getLink({}, { ifname: name }, netlinkTimeout);
    if (!msg || msg.data.index === undefined) throw new HostError(`interface ${name}: ENODEV`, "ENODEV", errnoOf("ENODEV"));
    return { name: msg.attrs.ifname ?? name, index: msg.data.index, up: !!msg.data.flags?.up };
}

/** The link of that name; throws HostError ENODEV when there is none. */
export async function getLink(name: string): Promise<Link> {
    checkInterfaceName(name);
    return rtnetlink(`interface ${name}`, (rt) => linkByName(rt, name));
}

/** Sets the link administratively up (IFF_UP); a link already up is left as it is. */
export async function setLinkUp(name: string): Promise<void> {
    checkInterfaceName(name);
    await rtnetlink(`set ${name} up`, async (rt) => {
        const link = await linkByName(rt, name);
        if (!link.up) await rt.newLink({ family: 0, index: link.index, flags: { up: true }, change: { up: true } }, {}, netlinkTimeout);
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
        throw new HostError(`prefix length ${show(prefixLength)} for ${address} is invalid (must be an integer 0-${max})`, "EINVAL", errnoOf("EINVAL"));
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
        if (!link.up) await rt.newLink({ family: 0, index: link.index, flags: { up: true }, change: { up: true } }, {}, netlinkTimeout);
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

// ---------------------------------------------------------------------------------------------
// Sysctls: one closed table
// ---------------------------------------------------------------------------------------------

/** Finds a sysctl in the closed table; throws HostError EINVAL for any other name or a bad interface name. */
export function resolveSysctl(name: string): ResolvedSysctl {
    const s = findSysctl(name);
    if (typeof s === "string") throw new HostError(s, "EINVAL", errnoOf("EINVAL"));
    return s;
}

/** Parses the text of a sysctl file by its rule. */
export function parseSysctl(name: string, text: string): SysctlValue {
    const s = resolveSysctl(name);
    const fields = text.trim().split(/\s+/);
    const nums = fields.map(Number);
    if (fields[0] === "" || nums.some((n) => !Number.isSafeInteger(n)) || nums.length !== (s.rule.kind === "pair" ? 2 : 1))
        throw new HostError(`sysctl ${name}: cannot parse ${show(text)}`);
    return s.rule.kind === "pair" ? [nums[0], nums[1]] : nums[0];
}

export function formatSysctl(value: SysctlValue): string {
    return typeof value === "number" ? `${value}\n` : `${value[0]}\t${value[1]}\n`;
}

function sysctlIoError(s: ResolvedSysctl, verb: string, e: unknown): HostError {
    const code = (e as NodeJS.ErrnoException).code;
    let why = code ?? String(e);
    if (code === "ENOENT") {
        why = s.interface ? `ENOENT (no interface ${s.interface})`
            : s.module ? `ENOENT (it exists once the ${s.module} module is loaded)` : "ENOENT (not in this kernel)";
    } else if (code === "EINVAL") {
        why = "EINVAL (the kernel refused the value)";
    }
    return new HostError(`sysctl ${s.name}: ${verb} ${s.path}: ${why}`, code, errnoOf(code));
}

/** Reads a sysctl of the closed table (in this network namespace). */
export function getSysctl(name: string): SysctlValue {
    const s = resolveSysctl(name);
    let text: string;
    try {
        text = fs.readFileSync(s.path, "utf8");
    } catch (e) {
        throw sysctlIoError(s, "read", e);
    }
    return parseSysctl(name, text);
}

/** Validates and writes a sysctl of the closed table; returns the value it had before. */
export function setSysctl(name: string, value: SysctlValue): SysctlValue {
    const problem = sysctlProblem(name, value);
    if (problem) throw new HostError(problem, "EINVAL", errnoOf("EINVAL"));
    const s = resolveSysctl(name);
    const previous = getSysctl(name);
    try {
        fs.writeFileSync(s.path, formatSysctl(value));
    } catch (e) {
        throw sysctlIoError(s, "write", e);
    }
    return previous;
}

// ---------------------------------------------------------------------------------------------
// Kernel versions and the features that depend on them
// ---------------------------------------------------------------------------------------------

/** "6.1.0-56-amd64" -> 6.1.0. */
export function parseKernelRelease(release: string): KernelVersion {
    const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
    if (!m) throw new HostError(`cannot parse kernel release ${show(release)}`);
    return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

export function formatKernelVersion(v: KernelVersion): string {
    return `${v.major}.${v.minor}.${v.patch}`;
}

function atLeast(v: KernelVersion, since: string): boolean {
    const s = parseKernelRelease(since);
    return v.major !== s.major ? v.major > s.major : v.minor !== s.minor ? v.minor > s.minor : v.patch >= s.patch;
}

export function kernelSupports(kernel: KernelVersion, feature: KernelFeature): boolean {
    return atLeast(kernel, KERNEL_FEATURES[feature].since);
}

/** Every feature of the table, true when this kernel version has it. */
export function kernelFeatures(kernel: KernelVersion): Record<KernelFeature, boolean> {
    const out = {} as Record<KernelFeature, boolean>;
    for (const f of Object.keys(KERNEL_FEATURES) as KernelFeature[]) out[f] = kernelSupports(kernel, f);
    return out;
}

/** Throws "kernel 6.1.0 does not support the twos scheduler (needs 6.2)" when the kernel is too old. */
export function requireFeature(kernel: KernelVersion, feature: KernelFeature): void {
    if (!kernelSupports(kernel, feature)) {
        const f = KERNEL_FEATURES[feature];
        throw new HostError(`kernel ${formatKernelVersion(kernel)} does not support ${f.what} (needs ${f.since})`, "EOPNOTSUPP", errnoOf("EOPNOTSUPP"));
    }
}

// ---------------------------------------------------------------------------------------------
// Modules: one closed list, loaded through the kernel's modprobe
// ---------------------------------------------------------------------------------------------

/** Every module the agent may load. */
export const MODULES: readonly string[] = [
    "ip_vs",
    ...SCHEDULERS.map((s) => `ip_vs_${s}`),
    "ip_vs_pe_sip",   // sip persistence engine
    "ip_vs_ftp",      // FTP helper for NAT
    "ipip",           // creates tunl0: real servers of TUN (IPIP) services
    "ip6_tunnel",     // creates ip6tnl0: IPv6 real servers of TUN services
    "ip_gre",         // creates gre0: real servers of GRE tunnels (5.3+)
    "fou",            // GUE decapsulation on real servers (5.2+)
];

export function moduleProblem(name: unknown): string | undefined {
    if (typeof name === "string" && MODULES.includes(name)) return undefined;
    return `module ${show(name)} is not one the agent loads (allowed: ${MODULES.join(", ")})`;
}


const moduleKey = (name: string) => name.replace(/-/g, "_");

/** Module names of /proc/modules. */
export function parseProcModules(text: string): Set<string> {
    return new Set(text.split("\n").map((l) => l.split(" ")[0]).filter(Boolean).map(moduleKey));
}

/** Module names of modules.dep or modules.builtin ("kernel/net/.../ip_vs_mh.ko[.xz]: deps"). */
export function parseModuleList(text: string): Set<string> {
    const out = new Set<string>();
    for (const line of text.split("\n")) {
        const file = line.split(":")[0].trim();
        const m = /([^/]+)\.ko(?:\.(?:xz|gz|zst))?$/.exec(file);
        if (m) out.add(moduleKey(m[1]));
    }
    return out;
}

function readOr(path: string, fallback: string): string {
    try {
        return fs.readFileSync(path, "utf8");
    } catch {
        return fallback;
    }
}

interface ModuleTables {
    loaded: Set<string>;
    builtin: Set<string>;
    loadable: Set<string>;
}

function readModuleTables(): ModuleTables {
    const dir = `/lib/modules/${os.release()}`;
    return {
        loaded: parseProcModules(readOr("/proc/modules", "")),
        builtin: parseModuleList(readOr(`${dir}/modules.builtin`, "")),
        loadable: parseModuleList(readOr(`${dir}/modules.dep`, "")),
    };
}

function stateIn(t: ModuleTables, name: string): ModuleState {
    const key = moduleKey(name);
    if (!/^[A-Za-z0-9_]+$/.test(key)) return "missing";
    if (t.loaded.has(key)) return "loaded";
    // /sys/module/<name> without a /proc/modules line: compiled in (listed in modules.builtin or not)
    if (t.builtin.has(key) || fs.existsSync(`/sys/module/${key}`)) return "builtin";
    return t.loadable.has(key) ? "available" : "missing";
}

/** Where a module stands on this host. Any name may be asked about; reading is harmless. */
export function moduleState(name: string): ModuleState {
    return stateIn(readModuleTables(), name);
}

/** The program the kernel itself runs to load modules (/proc/sys/kernel/modprobe). */
export function modprobeProgram(): string {
    const program = readOr("/proc/sys/kernel/modprobe", "").trim();
    if (!program.startsWith("/")) throw new HostError(`module loading is disabled on this host (/proc/sys/kernel/modprobe is ${show(program)})`);
    return program;
}

/**
 * Loads a module of the closed list unless it is loaded or built in already; returns the state it had
 * before. This is the one place the agent runs a program: the kernel's modprobe, no shell, one argument.
 */
export async function loadModule(name: string): Promise<ModuleState> {
    const problem = moduleProblem(name);
    if (problem) throw new HostError(problem, "EINVAL", errnoOf("EINVAL"));
    const before = moduleState(name);
    if (before === "loaded" || before === "builtin") return before;
    const program = modprobeProgram();
    await new Promise<void>((resolve, reject) =>
        execFile(program, [name], { timeout: 60_000 }, (err, _stdout, stderr) =>
            err ? reject(new HostError(`load module ${name}: ${program} ${name} failed: ${String(stderr).trim() || err.message}`)) : resolve()));
    const after = moduleState(name);
    if (after !== "loaded" && after !== "builtin") throw new HostError(`load module ${name}: ${program} succeeded but the module is not loaded`);
    return before;
}

/** Whether a scheduler can be used here (its module is loaded, built in or loadable). */
export function schedulerAvailable(scheduler: Scheduler): boolean {
    return moduleState(`ip_vs_${scheduler}`) !== "missing";
}

// ---------------------------------------------------------------------------------------------
// Probe
// ---------------------------------------------------------------------------------------------

/** Parses the first line of /proc/net/ip_vs: "IP Virtual Server version 1.2.1 (size=4096)". */
export function parseIpvsVersion(text: string): IpvsInfo | undefined {
    const m = /^IP Virtual Server version (\d+\.\d+\.\d+) \(size=(\d+)\)/.exec(text);
    return m ? { version: m[1], connTableSize: Number(m[2]) } : undefined;
}

/** What this host's kernel offers. Reads files only; loads nothing. */
export function probe(): HostProbe {
    const kernelRelease = os.release();
    const kernel = parseKernelRelease(kernelRelease);
    const ipvs = parseIpvsVersion(readOr("/proc/net/ip_vs", ""));
    const tables = readModuleTables();
    const schedulers = {} as Record<Scheduler, ModuleState>;
    for (const s of SCHEDULERS) schedulers[s] = stateIn(tables, `ip_vs_${s}`);
    return { kernelRelease, kernel, ...(ipvs ? { ipvs } : {}), schedulers, features: kernelFeatures(kernel) };
}
