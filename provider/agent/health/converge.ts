// What the kernel must have of a service's checked real servers and its sorry server, given what the
// health daemon knows: the quorum (pure), the writes for one service (from the record, the health state
// and the table), and the report of each checked real server that the state operation returns.
import * as model from "../../model";
import type { RealServer, RealServerHealth } from "../../model";
import { checkOf, type ServiceRecord } from "../desired";
import { IpvsWrite, writes as W } from "../ipvs/requests";
import { liveRealServer, rsKey, rsName } from "../apply/table";
import { type HealthState, serverUp } from "./state";

/** Whether the service has its quorum now: the total declared weight of its healthy real servers
 * (unchecked ones count as healthy, draining ones do not) against its quorum, with hysteresis. */
export function quorumOf(key: string, s: ServiceRecord, h: HealthState): boolean {
    let weight = 0;
    for (const [k, rs] of Object.entries(s.realServers)) {
        if (s.draining?.includes(k)) continue;
        const check = checkOf(s, k);
        if (!check || serverUp(h, key, k, check, rs)) weight += rs.weight;
    }
    return model.hasQuorum(s.health ?? { quorum: 1, hysteresis: 0 }, weight, h.quorum[key]);
}

/** The writes that bring one service's checked (or draining) real servers and its sorry server to what
 * their health says, with what each does in words. Unchecked real servers are apply's, never touched here. */
export function convergeService(key: string, s: ServiceRecord, h: HealthState, live: Map<string, RealServer>):
    { writes: IpvsWrite[]; actions: string[] } {
    const service = s.service;
    const out: { writes: IpvsWrite[]; actions: string[] } = { writes: [], actions: [] };
    const push = (w: IpvsWrite, action: string) => { out.writes.push(w); out.actions.push(action); };
    for (const [k, declared] of Object.entries(s.realServers)) {
        const check = checkOf(s, k);
        const draining = s.draining?.includes(k) ?? false;
        if (!check && !draining) continue;
        const up = !check || serverUp(h, key, k, check, declared);
        const want = model.effectiveRealServer(declared, check, up, draining);
        const now = live.get(k);
        const name = rsName(service, declared);
        if (!want) {
            if (now) push(W.deleteDestination(service, now), `removed ${name}`);
        } else if (!now) {
            push(W.addDestination(service, want), `added ${name} with weight ${want.weight}`);
        } else if (model.realServerDiff(want, liveRealServer(now)).length) {
            push(W.updateDestination(service, want), `set weight of ${name} ${now.weight} -> ${want.weight}`);
        }
    }
    const sorry = s.health?.sorryServer;
    if (sorry && !s.realServers[rsKey(sorry)]) {
        const needed = h.quorum[key] === false;
        const now = live.get(rsKey(sorry));
        const name = `sorry server ${rsName(service, sorry).replace(/^real server /, "")}`;
        if (needed && !now) push(W.addDestination(service, sorry), `added ${name}: too few healthy real servers`);
        else if (needed && now && model.realServerDiff(sorry, liveRealServer(now)).length)
            push(W.updateDestination(service, sorry), `updated ${name}`);
        else if (!needed && now) push(W.deleteDestination(service, now), `removed ${name}: the quorum is back`);
    }
    return out;
}

/** Each checked real server of a service as the daemon last decided it (what refresh reports). */
export function serviceHealthReport(key: string, s: ServiceRecord, h: HealthState): RealServerHealth[] {
    const out: RealServerHealth[] = [];
    for (const [k, rs] of Object.entries(s.realServers)) {
        const check = checkOf(s, k);
        if (!check) continue;
        const up = serverUp(h, key, k, check, rs);
        const known = h.endpoints[model.endpointKey(check, rs)];
        const draining = s.draining?.includes(k);
        out.push({
            service: key, address: rs.address, port: rs.port, check: check.type, state: up ? "up" : "down",
            ...(known ? { since: known.since } : {}),
            ...(known?.last ? { last: known.last, lastAt: known.lastAt } : {}),
            effect: draining ? "draining" : up ? "declared" : check.onFailure === "remove" ? "removed" : "quiesced",
        });
    }
    return out;
}
