// Planning the director's failover (keepalived's VRRP): the record's failover is what desired.save()
// writes keepalived's configuration and unit from, after the request; a delete stops keepalived at once.
// And the sync daemons of a failover that follows the VRRP state, set on each change of state.
import * as model from "../../model";
import * as desired from "../desired";
import type { Context } from "../context";
import { checkCollision, findKeepalived, lastState, stopKeepalived, vrrpUnitName } from "../failover";
import { deleteAddress, listAddresses } from "../host/addresses";
import { hold, type Planner, release, type StepOf } from "./plan";

const O = desired.objectName;

/** The director's failover: keepalived is found (or the request fails, saying how to install it) and checked
 * against a keepalived of the node's own; the record's failover is what save() writes keepalived's
 * configuration and unit from, after the request (a new one starts it, a changed one reloads it). */
export function planFailover(s: StepOf<"failover">, p: Planner): void {
    const recorded = p.next.failover;
    const { keepalived: _, ...was } = recorded ?? { keepalived: "" };
    const diff = recorded ? model.differingFields(was, { ...s.want }) : [];
    hold(p, O.failover(), s.holder, diff, "failover");
    const keepalived = findKeepalived();
    checkCollision(p.dir, s.want);
    p.next.failover = { ...s.want, keepalived };
    if (!recorded) p.plan.push({ host: async () => undefined, undo: () => [],
        action: `started failover: VRRP router ${s.want.virtualRouterId} priority ${s.want.priority} on ` +
            `${s.want.interface} for ${s.want.addresses.map((a) => a.address).join(", ")} (keepalived)` });
    else if (diff.length || recorded.keepalived !== keepalived)
        p.plan.push({ host: async () => undefined, undo: () => [],
            action: `changed failover: ${[...diff, ...(recorded.keepalived !== keepalived ? ["keepalived"] : [])]
                .join(", ")}` });
}

/** Stops keepalived (it gives the addresses up as it stops) and removes those it still held. */
export function planDeleteFailover(s: StepOf<"deleteFailover">, p: Planner): void {
    const recorded = p.next.failover;
    if (!recorded || !release(p, O.failover(), s.holder)) return;
    delete p.next.failover;
    p.plan.push({
        host: async () => {
            desired.stopLongUnit(p.dir, vrrpUnitName);
            await stopKeepalived(p.dir);
            for (const a of recorded.addresses) {
                const present = (await listAddresses(a.interface).catch(() => []))
                    .some((x) => model.canonicalAddress(x.address) === a.address && x.prefixLength === a.prefixLength);
                if (present) await deleteAddress(a.interface, a.address, a.prefixLength);
            }
        },
        undo: () => [],
        action: `stopped failover (VRRP router ${recorded.virtualRouterId}) and removed its addresses`,
    });
}

/** The sync daemons of a failover that follows the VRRP state: the declared daemon of the state (master
 * on the holder of the addresses) runs, the other does not. Under the node's lock, from the record. */
export async function followSync(ctx: Context, log: (line: string) => void): Promise<void> {
    await ctx.exclusive(async () => {
        const record = desired.load(ctx.stateDir);
        if (record.failover?.syncDaemons !== "follow") return;
        const want = model.followedDaemon(lastState(ctx.stateDir).state);
        const h = await ctx.ipvs();
        const live = await h.daemons();
        for (const d of live) if (d.state !== want && record.daemons[d.state]) {
            await h.stopDaemon(d.state);
            log(`stopped the ${d.state} sync daemon (VRRP: ${want === "master" ? "MASTER" : "not MASTER"})`);
        }
        const declared = record.daemons[want];
        const running = live.find((d) => d.state === want);
        if (declared && (!running || model.daemonDiff(declared, running).length)) {
            if (running) await h.stopDaemon(want);
            await h.startDaemon(declared);
            log(`started the ${want} sync daemon on ${declared.mcastInterface} syncid ${declared.syncId}`);
        }
    });
}
