// IPVS schedulers and their flags, by the names ipvsadm and the kernel use: one table.
import type { KernelFeature } from "./kernel";

/** IPVS schedulers, by the name ipvsadm and the kernel use; module ip_vs_<name>. */
export const SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
    "twos"] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

/** ipvsadm's scheduler, when a service names none. */
export const defaultScheduler: Scheduler = "wlc";

/** The feature a scheduler needs beyond the baseline, if any. */
export const SCHEDULER_FEATURE: Partial<Record<Scheduler, KernelFeature>> = {
    fo: "schedulerFo", ovf: "schedulerOvf", mh: "schedulerMh", twos: "schedulerTwos",
};

/** The service flag bits IP_VS_SVC_F_SCHED1..3, which each scheduler reads in its own way. */
export const SCHED_BITS = { SCHED1: 0x8, SCHED2: 0x10, SCHED3: 0x20 } as const;
const bits = [SCHED_BITS.SCHED1, SCHED_BITS.SCHED2, SCHED_BITS.SCHED3];

/** The scheduler flags by name (ipvsadm -b), in bit order: sh-fallback is SCHED1 of sh. */
const SCHED_FLAG_NAMES = {
    sh: ["sh-fallback", "sh-port"],
    mh: ["mh-fallback", "mh-port"],
} as const;
export type SchedulerFlag = (typeof SCHED_FLAG_NAMES)[keyof typeof SCHED_FLAG_NAMES][number];
export const SCHEDULER_FLAGS: readonly SchedulerFlag[] = Object.values(SCHED_FLAG_NAMES).flat();

/** The scheduler a flag belongs to ("sh" for "sh-port"). */
export const flagScheduler = (flag: SchedulerFlag): string => flag.split("-")[0];

/** Names of the scheduler flags set in `bits`, as ipvsadm prints them (flag-N for schedulers without names). */
export function schedFlagNames(scheduler: string, set: number): string[] {
    const names: readonly string[] = (SCHED_FLAG_NAMES as Record<string, readonly string[]>)[scheduler] ?? [];
    return bits.flatMap((bit, i) => (set & bit ? [names[i] ?? `flag-${i + 1}`] : []));
}

/** The SCHED1|SCHED2|SCHED3 bits for flag names; throws on a name that the scheduler does not have. */
export function schedFlagBits(scheduler: string, names: readonly string[]): number {
    const known: readonly string[] = (SCHED_FLAG_NAMES as Record<string, readonly string[]>)[scheduler] ?? [];
    let out = 0;
    for (const name of names) {
        let i = known.indexOf(name);
        if (i < 0) i = ["flag-1", "flag-2", "flag-3"].indexOf(name);
        if (i < 0) throw new RangeError(`scheduler ${scheduler} has no flag ${name}` +
            (known.length ? ` (it has ${known.join(", ")})` : ""));
        out |= bits[i];
    }
    return out;
}
