// drain: a real server taken out gently (weight 0, a wait for its connections to end), then deleted.
import * as model from "../../model";
import type { Result } from "../../model/protocol";
import type { Context } from "../context";
import * as desired from "../desired";
import { applySteps } from "./execute";
import { keyOf, liveRealServer, rsKey, rsName } from "./table";
import { fail, holder, object, onlyKeys, realServerKey, serviceKey } from "./validate";

/**
 * Drains a real server and removes it: weight 0 (no new connections), then waits until its active
 * connections end or the deadline passes, then deletes it. The lock is held only while writing.
 */
export async function drain(args: unknown, ctx: Context): Promise<Result<"drain">> {
    const a = object(args, "args");
    onlyKeys(a, ["service", "realServer", "timeoutSeconds", "holder"], "args");
    const service = serviceKey(a.service, "service");
    const id = realServerKey(a.realServer, service, "realServer");
    const by = holder(a.holder, "holder");
    const remove = () => applySteps([{ kind: "deleteRealServer", service, id, holder: by }], ctx);
    const timeout = a.timeoutSeconds ?? model.defaultDrainTimeout;
    const bad = model.validateDrainTimeout(timeout, "timeoutSeconds");
    if (bad.length) fail(bad[0].property, bad[0].reason);
    const h = await ctx.ipvs();
    const name = rsName(service, id);
    const find = async () =>
        (await h.service(service)) ? (await h.destinations(service)).find((d) => rsKey(d) === rsKey(id)) : undefined;
    const actions: string[] = [];
    // Held by another resource too: this one only lets go, and the real server keeps its weight.
    const first = await ctx.exclusive(async () => {
        const record = desired.load(ctx.stateDir);
        const held = record.holders[desired.objectName.realServer(keyOf(service), rsKey(id))];
        if ((held ?? []).some((x) => x !== by)) return "held" as const;
        // Recorded as draining (ahead of the kernel), so that the health daemon keeps it at weight 0.
        const entry = record.services[keyOf(service)];
        if (entry?.realServers[rsKey(id)] && !entry.draining?.includes(rsKey(id))) {
            entry.draining = [...(entry.draining ?? []), rsKey(id)];
            desired.save(ctx.stateDir, record, ctx.agentFile);
        }
        const live = await find();
        if (live && live.weight !== 0) {
            await h.updateDestination(service, { ...liveRealServer(live), weight: 0 });
            actions.push(`set weight of ${name} ${live.weight} -> 0 (draining)`);
        }
        return live;
    });
    if (first === "held" || !first) return { ...(await remove()), waitedSeconds: 0, activeConnections: 0 };
    const start = Date.now();
    let active = first.activeConns ?? 0;
    while (active > 0 && Date.now() - start < (timeout as number) * 1000) {
        await new Promise((r) => setTimeout(r, 500));
        active = (await find())?.activeConns ?? 0;
    }
    const waitedSeconds = Math.round((Date.now() - start) / 100) / 10;
    const deleted = await remove();
    if (deleted.changed) {
        actions.push(`deleted ${name} after ${waitedSeconds} s with ${active} active connection` +
            `${active === 1 ? "" : "s"} left`);
    }
    return { changed: actions.length > 0, actions, waitedSeconds, activeConnections: active };
}
