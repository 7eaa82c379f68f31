// The IPVS table as one request sees it: read once, kept current as the plan's changes are applied; and
// the names the agent gives services and real servers in its messages and its record.
import * as model from "../../model";
import type { RealServer, RealServerId, VirtualService, VirtualServiceId } from "../../model";
import type { IpvsHandle } from "../ipvs";

export const keyOf = (id: VirtualServiceId) => model.serviceName(id);
export const rsKey = (r: RealServerId) => `${r.address}|${r.port}`;
export const rsName = (service: VirtualServiceId, r: RealServerId) =>
    `real server ${r.addressFamily === "inet6" ? `[${r.address}]` : r.address}:${r.port} of ${keyOf(service)}`;

export class Table {
    private services?: Map<string, VirtualService>;
    private dests = new Map<string, Map<string, RealServer>>();
    constructor(private readonly h: IpvsHandle) {}

    async service(id: VirtualServiceId): Promise<VirtualService | undefined> {
        if (!this.services) this.services = new Map((await this.h.services()).map((s) => [keyOf(s), s]));
        return this.services.get(keyOf(id));
    }
    /** Records what the plan leaves: a new service starts with no real servers. */
    setService(id: VirtualServiceId, s: VirtualService | undefined): void {
        const key = keyOf(id);
        if (s && !this.services!.has(key)) this.dests.set(key, new Map());
        if (s) this.services!.set(key, s); else { this.services!.delete(key); this.dests.delete(key); }
    }
    async realServers(id: VirtualServiceId): Promise<Map<string, RealServer>> {
        let m = this.dests.get(keyOf(id));
        if (!m) {
            m = new Map((await this.service(id)) ? (await this.h.destinations(id)).map((d) => [rsKey(d), d]) : []);
            this.dests.set(keyOf(id), m);
        }
        return m;
    }
}

function strip<T extends object>(o: T, fields: string[]): T {
    const c = { ...o } as Record<string, unknown>;
    for (const f of fields) delete c[f];
    return c as T;
}
/** An object as the kernel has it, without what only the kernel fills in (counters): as it is written back. */
export const liveService = (s: VirtualService): VirtualService => strip(s, ["stats"]);
export const liveRealServer = (r: RealServer): RealServer =>
    strip(r, ["stats", "activeConns", "inactConns", "persistConns"]);
