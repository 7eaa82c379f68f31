// A probe of the kernel: its release, its IPVS version, the schedulers, and the features its version has
// (from the shared tree's table of features and the release that brought each).
import * as os from "os";
import { KERNEL_FEATURES, KernelFeature, KernelVersion } from "../../model/kernel";
import type { HostProbe, IpvsInfo, ModuleState } from "../../model/protocol";
import { SCHEDULERS, Scheduler } from "../../model/schedulers";
import { show } from "../../model/show";
import { HostError, hostError } from "../errno";
import { readModuleTables, readOr, stateIn } from "./modules";

// ---------------------------------------------------------------------------------------------
// Kernel versions and the features that depend on them

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
        throw hostError(`kernel ${formatKernelVersion(kernel)} does not support ${f.what} (needs ${f.since})`,
            "EOPNOTSUPP");
    }
}

// ---------------------------------------------------------------------------------------------
// Probe

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
