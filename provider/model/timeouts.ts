// A director's IPVS connection timeouts (ipvsadm --set tcp tcpfin udp), whole seconds: the kernel keeps
// them in jiffies of an int, so (like ipvsadm) at most 2147483. One rule, for preview and the agent alike.
import { Failure, isInt, maxInt, unknownFields } from "./rules";
import { show } from "./show";

export const timeoutFields = ["tcp", "tcpFin", "udp"] as const;
export const maxTimeout = Math.floor(maxInt / 1000);

export function validateTimeouts(t: unknown, property = "timeouts"): Failure[] {
    if (typeof t !== "object" || t === null || Array.isArray(t))
        return [{ property, reason: `${show(t)} is not a set of timeouts: give tcp, tcpFin and / or udp` }];
    const f = unknownFields(t, timeoutFields, property, "timeout");
    for (const [k, v] of Object.entries(t))
        if ((timeoutFields as readonly string[]).includes(k) && !isInt(v, 1, maxTimeout))
            f.push({ property: `${property}.${k}`,
                reason: `${show(v)} is not a timeout: whole seconds from 1 to ${maxTimeout}` });
    return f;
}
