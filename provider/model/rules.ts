// The small pieces every attribute table is made of: a failure, the integer and choice rules, and the
// check for fields a declaration must not have.
import { show } from "./show";

export interface Failure {
    property: string;
    reason: string;
}

export const u32 = 0xffffffff;
/** The kernel's int: weights, thresholds, jiffies of a timeout. */
export const maxInt = 0x7fffffff;

export const isInt = (v: unknown, min: number, max: number): v is number =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** A rule: why a value is refused (naming the value and the rule), or undefined when it is taken. */
export type Rule = (v: unknown) => string | undefined;

/** An integer in [min, max]: "7.5 is not a weight: an integer from 0 to 2147483647". */
export const intRule = (min: number, max: number, what: string, text = `an integer from ${min} to ${max}`): Rule =>
    (v) => (isInt(v, min, max) ? undefined : `${show(v)} is not ${what}: ${text}`);

/** One of a list of words: '"lb" is not a forwarding method: use "dr", "tun" or "nat"'. */
export const oneOfRule = (values: readonly unknown[], what: string, text: string): Rule =>
    (v) => (values.includes(v) ? undefined : `${show(v)} is not ${what}: ${text}`);

/** A port, 0 (any) to 65535, as services, real servers and the agent's real-server keys take it. */
export const portRule: Rule = intRule(0, 65535, "a port");

export const booleanRule: Rule = (v) => (typeof v === "boolean" ? undefined : `${show(v)} is not a boolean`);

/** "a", "b" or "c", as the rules list choices. */
export const choices = (values: readonly string[]): string =>
    values.length === 1 ? `"${values[0]}"`
        : `${values.slice(0, -1).map((v) => `"${v}"`).join(", ")} or "${values[values.length - 1]}"`;

/** One failure per key of `o` that is not in `allowed`, at `property.key`. */
export function unknownFields(o: unknown, allowed: readonly string[], property: string, what: string,
    f: Failure[] = []): Failure[] {
    if (typeof o !== "object" || o === null || Array.isArray(o)) return f;
    for (const k of Object.keys(o)) if (!allowed.includes(k))
        f.push({ property: property ? `${property}.${k}` : k,
            reason: `unknown ${what} ${show(k)} (allowed: ${allowed.join(", ")})` });
    return f;
}

/** The fields of `o` that are in `fields` and set. */
export function pick<T extends string>(o: Record<string, unknown>, fields: readonly T[]): Partial<Record<T, unknown>> {
    const out: Partial<Record<T, unknown>> = {};
    for (const f of fields) if (o[f] !== undefined) out[f] = o[f];
    return out;
}

/** The fields in which two declarations of one object differ (compared as JSON), in the order they come. */
export function differingFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])]
        .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}
