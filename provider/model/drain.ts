// A real server's drain on delete: weight 0, then a wait for its active connections, then the delete.
import { Failure, isInt, unknownFields } from "./rules";
import { show } from "./show";

export interface Drain {
    /** The deadline in whole seconds, 0 to 86400 (300): how long the delete waits for active connections to end. */
    timeout?: number;
}

export const defaultDrainTimeout = 300;
export const maxDrainTimeout = 86400;

export function validateDrainTimeout(t: unknown, property: string): Failure[] {
    return t === undefined || isInt(t, 0, maxDrainTimeout) ? []
        : [{ property, reason: `${show(t)} is not a drain deadline: whole seconds from 0 to ${maxDrainTimeout}` }];
}

/** Checks a RealServer's `drain` (none, or an object with at most its timeout). */
export function validateDrain(d: unknown): Failure[] {
    if (d === undefined || d === null) return [];
    if (typeof d !== "object" || Array.isArray(d))
        return [{ property: "drain", reason: `${show(d)} is not a drain setting: an object, ` +
            `e.g. { timeout: ${defaultDrainTimeout} } (or {} for the default deadline)` }];
    return [...unknownFields(d, ["timeout"], "drain", "drain setting"),
        ...validateDrainTimeout((d as Drain).timeout, "drain.timeout")];
}

/** The drain deadline a declaration asks for, or undefined when it deletes at once. */
export const drainTimeout = (d: Drain | undefined | null): number | undefined =>
    (d === undefined || d === null ? undefined : d.timeout ?? defaultDrainTimeout);
