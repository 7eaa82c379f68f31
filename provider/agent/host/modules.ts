// Kernel modules from a closed list, loaded through the kernel's own modprobe program; where each module
// stands on this host (loaded, built in, available or missing), read from /proc and /lib/modules.
import * as fs from "fs";
import * as os from "os";
import { execFile } from "child_process";
import type { ModuleState } from "../../model/protocol";
import { SCHEDULERS, Scheduler } from "../../model/schedulers";
import { show } from "../../model/show";
import { HostError, hostError } from "../errno";

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

/** A file's text, or `fallback` when it cannot be read. */
export function readOr(path: string, fallback: string): string {
    try {
        return fs.readFileSync(path, "utf8");
    } catch {
        return fallback;
    }
}

/** The modules loaded, built in and loadable here, read once for many questions. */
export interface ModuleTables {
    loaded: Set<string>;
    builtin: Set<string>;
    loadable: Set<string>;
}

export function readModuleTables(): ModuleTables {
    const dir = `/lib/modules/${os.release()}`;
    return {
        loaded: parseProcModules(readOr("/proc/modules", "")),
        builtin: parseModuleList(readOr(`${dir}/modules.builtin`, "")),
        loadable: parseModuleList(readOr(`${dir}/modules.dep`, "")),
    };
}

/** Where a module stands by those tables. */
export function stateIn(t: ModuleTables, name: string): ModuleState {
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
    if (!program.startsWith("/"))
        throw new HostError(`module loading is disabled on this host (/proc/sys/kernel/modprobe is ${show(program)})`);
    return program;
}

/**
 * Loads a module of the closed list unless it is loaded or built in already; returns the state it had
 * before. This is the one place the agent runs a program: the kernel's modprobe, no shell, one argument.
 */
export async function loadModule(name: string): Promise<ModuleState> {
    const problem = moduleProblem(name);
    if (problem) throw hostError(problem, "EINVAL");
    const before = moduleState(name);
    if (before === "loaded" || before === "builtin") return before;
    const program = modprobeProgram();
    await new Promise<void>((resolve, reject) =>
        execFile(program, [name], { timeout: 60_000 }, (err, _stdout, stderr) =>
            err ? reject(new HostError(`load module ${name}: ${program} ${name} failed: ` +
                (String(stderr).trim() || err.message))) : resolve()));
    const after = moduleState(name);
    if (after !== "loaded" && after !== "builtin")
        throw new HostError(`load module ${name}: ${program} succeeded but the module is not loaded`);
    return before;
}

/** Whether a scheduler can be used here (its module is loaded, built in or loadable). */
export function schedulerAvailable(scheduler: Scheduler): boolean {
    return moduleState(`ip_vs_${scheduler}`) !== "missing";
}
