// Sysctls through /proc/sys, from the shared tree's closed table (no other path can be read or written):
// their text parsed and formatted by each one's rule, read, and written (returning the value before).
import * as fs from "fs";
import { findSysctl, ResolvedSysctl, sysctlProblem, SysctlValue } from "../../model/sysctls";
import { show } from "../../model/show";
import { HostError, hostError } from "../errno";

/** Finds a sysctl in the closed table; throws HostError EINVAL for any other name or a bad interface name. */
export function resolveSysctl(name: string): ResolvedSysctl {
    const s = findSysctl(name);
    if (typeof s === "string") throw hostError(s, "EINVAL");
    return s;
}

/** Parses the text of a sysctl file by its rule. */
export function parseSysctl(name: string, text: string): SysctlValue {
    const s = resolveSysctl(name);
    const fields = text.trim().split(/\s+/);
    const nums = fields.map(Number);
    const count = s.rule.kind === "pair" ? 2 : 1;
    if (fields[0] === "" || nums.some((n) => !Number.isSafeInteger(n)) || nums.length !== count)
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
    return hostError(`sysctl ${s.name}: ${verb} ${s.path}: ${why}`, code);
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
    if (problem) throw hostError(problem, "EINVAL");
    const s = resolveSysctl(name);
    const previous = getSysctl(name);
    try {
        fs.writeFileSync(s.path, formatSysctl(value));
    } catch (e) {
        throw sysctlIoError(s, "write", e);
    }
    return previous;
}
