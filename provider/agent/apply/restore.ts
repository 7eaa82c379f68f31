// restore: what the node last applied (its record, desired.ts), put back at boot by the restore unit.
import type { Report } from "../../model/protocol";
import type { Context } from "../context";
import * as desired from "../desired";
import type { Desired } from "../desired";
import { applySteps } from "./execute";
import type { Step } from "./validate";

const withoutPath = ({ keepalived: _, ...f }: NonNullable<Desired["failover"]>) => f;

function restoreSteps(d: Desired): Step[] {
    return [
        ...d.modules.map((name): Step => ({ kind: "module", name })),
        ...Object.entries(d.sysctls).map(([name, value]): Step => ({ kind: "sysctl", name, value })),
        ...Object.values(d.addresses).map((a): Step => ({ kind: "address", ...a })),
        ...(d.timeouts ? [{ kind: "timeouts", want: d.timeouts } as Step] : []),
        ...Object.values(d.daemons).map((want): Step => ({ kind: "startDaemon", want: want! })),
        ...(d.failover ? [{ kind: "failover", want: withoutPath(d.failover) } as Step] : []),
        ...Object.values(d.services).flatMap(({ service, realServers, health, checks }): Step[] => [
            { kind: "service", want: service, adopt: true, ...(health ? { health } : {}) },
            ...Object.entries(realServers).map(([k, want]): Step =>
                ({ kind: "realServer", service, want, adopt: true, ...(checks?.[k] ? { check: checks[k] } : {}) })),
        ]),
    ];
}

/** Puts back everything last applied in one request; if that fails, each change alone, so that one
 * which no longer applies (an interface that is gone) does not hold back the rest. */
export async function restore(ctx: Context): Promise<Report & { failed: string[] }> {
    const steps = restoreSteps(desired.load(ctx.stateDir));
    try {
        return { ...(await applySteps(steps, ctx, true)), failed: [] };
    } catch { /* one at a time, below */ }
    const actions: string[] = [], failed: string[] = [];
    for (const s of steps)
        await applySteps([s], ctx, true)
            .then((r) => actions.push(...r.actions), (e) => failed.push((e as Error).message));
    return { changed: actions.length > 0, actions, failed };
}
