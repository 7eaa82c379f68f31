// What the health daemon knows, kept beside the node's record (health.json): each endpoint's state (one
// check of one address and port, shared by every real server that has it), each real server's last
// state (so that a changed check starts from it, not from its initial state), each service's quorum,
// and the daemon itself (its pid and agent). Written only while holding the node's lock, ahead of the
// kernel: a daemon killed between the two finds the state it decided on and converges the kernel to it.
import * as fs from "fs";
import * as path from "path";
import type { EndpointHealth, HealthCheck, RealServer } from "../../model";
import * as model from "../../model";
import { writeAtomic } from "../files";

export interface HealthState {
    version: 1;
    endpoints: Record<string, EndpointHealth>;
    /** By serverKey: up or down, as last decided. */
    servers: Record<string, boolean>;
    /** By service name: whether it had its quorum. */
    quorum: Record<string, boolean>;
    /** The daemon that writes it. */
    daemon?: { pid: number; hash: string; startedAt: string };
}

export const healthFile = (dir: string) => path.join(dir, "health.json");
/** The running daemon's pid, alone in a file (keepalived's track script reads it). */
export const healthPidFile = (dir: string) => path.join(dir, "health.pid");
export const serverKey = (service: string, rsKey: string) => `${service} ${rsKey}`;
const empty = (): HealthState => ({ version: 1, endpoints: {}, servers: {}, quorum: {} });

/** The state on disk; an empty one when there is none or it does not read (the checks then start over). */
export function loadHealth(dir: string): HealthState {
    try {
        const h = JSON.parse(fs.readFileSync(healthFile(dir), "utf8"));
        if (h?.version !== 1) return empty();
        return { ...empty(), ...h };
    } catch {
        return empty();
    }
}

export function saveHealth(dir: string, h: HealthState): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomic(healthFile(dir), JSON.stringify(h) + "\n");
}

/** Whether a real server counts as up: its endpoint's state, else its own last state (its check
 * changed), else its check's initial state. */
export function serverUp(h: HealthState, service: string, rsKey: string, check: HealthCheck, rs: RealServer): boolean {
    const known = h.endpoints[model.endpointKey(check, rs)];
    if (known) return known.up;
    const last = h.servers[serverKey(service, rsKey)];
    return last ?? model.isUp(check, undefined);
}
