// IpvsHandle: one generic netlink socket to the kernel's IPVS, the family resolved once, requests sent
// in order, writes batched. No idempotence rules live here: an error carries its errno exactly, and the
// agent decides what EEXIST or ESRCH means to it.
import type { NetlinkMessage, NetlinkSocket } from "netlink";
import { IpvsError, IpvsOpKind } from "../errno";
import type {
    Daemon, DestinationSettings, Info, RealServer, RealServerId, SyncState, Timeouts, VirtualService,
    VirtualServiceId, VirtualServiceSettings,
} from "../../model";
import { attr, LE, need, parseAttrs, readU16 } from "./attrs";
import { describeService, unpackDaemon, unpackDestination, unpackInfo, unpackService, unpackTimeouts } from "./codec";
import { IPVS, NETLINK } from "./constants";
import { IpvsWrite, requests, writes } from "./requests";

const T = IPVS.cmdAttr;

/** The nested attribute `type` of a reply's payload (genl header already removed). */
function nested(payload: Buffer, type: number, what: string): Buffer {
    return need(parseAttrs(payload), type, what);
}

const REQUEST_TIMEOUT_MS = 30_000;
const WRITE_WINDOW = 64;

/**
 * One generic netlink socket to the IPVS of the caller's network namespace. Requests are sent one
 * at a time (a netlink socket runs one dump at a time), in the order they were called.
 */
export class IpvsHandle {
    private queue: Promise<unknown> = Promise.resolve();

    private constructor(private readonly socket: NetlinkSocket, readonly familyId: number) {}

    /** Opens the socket and resolves the "IPVS" family id (the kernel loads ip_vs on demand). */
    static async open(): Promise<IpvsHandle> {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { createNetlink } = require("netlink") as typeof import("netlink");
        const socket = createNetlink(NETLINK.GENERIC);
        try {
            const payload = Buffer.concat([
                Buffer.from([NETLINK.CTRL_CMD_GETFAMILY, 1, 0, 0]),
                attr(NETLINK.CTRL_ATTR_FAMILY_NAME, Buffer.from(IPVS.genlName + "\0")),
            ]);
            const replies = await exchange(socket, NETLINK.GENL_ID_CTRL, payload, false, "resolve family",
                "resolve the IPVS generic netlink family");
            const id = replies.length ? parseAttrs(replies[0]).get(NETLINK.CTRL_ATTR_FAMILY_ID) : undefined;
            if (!id) throw new Error("the generic netlink controller did not return the IPVS family id");
            return new IpvsHandle(socket, readU16(id));
        } catch (e) {
            socket.close();
            throw e;
        }
    }

    /** Closes the socket; the handle cannot be used afterwards. */
    close(): void {
        this.socket.close();
    }

    private send(payload: Buffer, dump: boolean, kind: IpvsOpKind, op: string): Promise<Buffer[]> {
        const run = () => exchange(this.socket, this.familyId, payload, dump, kind, op);
        const p = this.queue.then(run, run);
        this.queue = p.catch(() => undefined);
        return p;
    }

    async services(): Promise<VirtualService[]> {
        const replies = await this.send(requests.services(), true, "list services", "list services");
        return replies.map(r => unpackService(nested(r, T.SERVICE, "SERVICE")));
    }

    /** The service, or undefined when the kernel answers ESRCH (no such service). */
    async service(id: VirtualServiceId): Promise<VirtualService | undefined> {
        try {
            const op = `get service ${describeService(id)}`;
            const [r] = await this.send(requests.service(id), false, "get service", op);
            return r ? unpackService(nested(r, T.SERVICE, "SERVICE")) : undefined;
        } catch (e) {
            if (e instanceof IpvsError && e.code === "ESRCH") return undefined;
            throw e;
        }
    }

    /** Sends one write and waits for the kernel's answer. */
    async write(w: IpvsWrite): Promise<void> {
        await this.send(w.payload, false, w.kind, w.op);
    }

    /**
     * Sends writes WRITE_WINDOW at a time, each window in one datagram (the kernel takes its messages in
     * order), and collects every answer: one entry per write, undefined where it succeeded. A failure
     * does not stop the writes after it. The answers come back as 'message' events: their sequence
     * numbers are ours, not the library's.
     */
    async writeAll(ws: IpvsWrite[]): Promise<Array<IpvsError | undefined>> {
        const run = async () => {
            const { formatMessage } = require("netlink") as typeof import("netlink");
            const out: Array<IpvsError | undefined> = [];
            const port = this.socket.address().port;
            for (let i = 0; i < ws.length; i += WRITE_WINDOW) {
                const chunk = ws.slice(i, i + WRITE_WINDOW);
                const first = this.socket.generateSeq();
                for (let k = 1; k < chunk.length; k++) this.socket.generateSeq();
                const answers = new Map<number, IpvsError | undefined>();
                await new Promise<void>((resolve, reject) => {
                    const done = (e?: Error) => {
                        clearTimeout(timer);
                        this.socket.off("message", onMessage);
                        e ? reject(e) : resolve();
                    };
                    const onMessage = (msgs: NetlinkMessage[]) => {
                        for (const m of msgs) {
                            const k = m.seq - first;
                            if (m.type !== NETLINK.NLMSG_ERROR || k < 0 || k >= chunk.length) continue;
                            const code = LE ? m.data.readInt32LE(0) : m.data.readInt32BE(0);
                            answers.set(k, code === 0 ? undefined : new IpvsError(-code, chunk[k].kind, chunk[k].op));
                        }
                        if (answers.size === chunk.length) done();
                    };
                    const late = `${chunk[0].op}: no answer from the kernel in ${REQUEST_TIMEOUT_MS / 1000} s`;
                    const timer = setTimeout(() => done(new Error(late)), REQUEST_TIMEOUT_MS);
                    this.socket.on("message", onMessage);
                    const parts = chunk.flatMap((w, k) => formatMessage({
                        type: this.familyId, flags: NETLINK.NLM_F_REQUEST | NETLINK.NLM_F_ACK, seq: first + k, port,
                        data: w.payload,
                    }));
                    this.socket.socket.send(parts, {}, (e) => e && done(new Error(`${chunk[0].op}: ${e.message}`)));
                });
                for (let k = 0; k < chunk.length; k++) out.push(answers.get(k));
            }
            return out;
        };
        const p = this.queue.then(run, run);
        this.queue = p.catch(() => undefined);
        return p;
    }

    async addService(svc: VirtualServiceId & VirtualServiceSettings): Promise<void> {
        await this.write(writes.addService(svc));
    }

    async updateService(svc: VirtualServiceId & VirtualServiceSettings): Promise<void> {
        await this.write(writes.updateService(svc));
    }

    /** Deletes the service and every destination in it. */
    async deleteService(id: VirtualServiceId): Promise<void> {
        await this.write(writes.deleteService(id));
    }

    /**
     * The destinations of a service. The kernel answers a dump for a missing service with nothing at
     * all, so an empty answer is checked: it throws ESRCH when the service does not exist.
     */
    async destinations(id: VirtualServiceId): Promise<RealServer[]> {
        const op = `list destinations of service ${describeService(id)}`;
        const replies = await this.send(requests.destinations(id), true, "list destinations", op);
        if (replies.length === 0 && !(await this.service(id)))
            throw new IpvsError(3 /* ESRCH */, "list destinations", op);
        return replies.map(r => unpackDestination(nested(r, T.DEST, "DEST"), id.family));
    }

    async addDestination(id: VirtualServiceId, dest: RealServerId & DestinationSettings): Promise<void> {
        await this.write(writes.addDestination(id, dest));
    }

    async updateDestination(id: VirtualServiceId, dest: RealServerId & DestinationSettings): Promise<void> {
        await this.write(writes.updateDestination(id, dest));
    }

    async deleteDestination(id: VirtualServiceId, dest: RealServerId): Promise<void> {
        await this.write(writes.deleteDestination(id, dest));
    }

    async timeouts(): Promise<Timeouts> {
        const [r] = await this.send(requests.timeouts(), false, "get timeouts", "get timeouts");
        return unpackTimeouts(r);
    }

    /** Sets the timeouts given; the others stay as they are. */
    async setTimeouts(t: Partial<Timeouts>): Promise<void> {
        await this.write(writes.setTimeouts(t));
    }

    /** The running sync daemons (0, 1 or 2: master and backup). */
    async daemons(): Promise<Daemon[]> {
        const replies = await this.send(requests.daemons(), true, "list daemons", "list sync daemons");
        return replies.map(r => unpackDaemon(nested(r, T.DAEMON, "DAEMON")));
    }

    async startDaemon(d: Daemon): Promise<void> {
        await this.write(writes.startDaemon(d));
    }

    async stopDaemon(state: SyncState): Promise<void> {
        await this.write(writes.stopDaemon(state));
    }

    async info(): Promise<Info> {
        const [r] = await this.send(requests.info(), false, "get info", "get info");
        return unpackInfo(r);
    }

    /** Zeroes the counters of one service, or of every service when none is given. */
    async zero(id?: VirtualServiceId): Promise<void> {
        await this.write(writes.zero(id));
    }
}

/**
 * Sends one request and returns the payloads (after the genl header) of the replies of this family.
 * An NLMSG_ERROR with a non-zero code becomes an IpvsError; socket failures become one too.
 */
async function exchange(socket: NetlinkSocket, family: number, payload: Buffer, dump: boolean,
    kind: IpvsOpKind, op: string): Promise<Buffer[]> {
    let msgs: NetlinkMessage[];
    try {
        [msgs] = await socket.request(family, payload,
            { flags: dump ? NETLINK.NLM_F_DUMP : 0, checkError: false, timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
        const errno = (e as { errno?: number }).errno;
        if (typeof errno === "number") throw new IpvsError(Math.abs(errno), kind, op);
        throw new Error(`${op}: ${(e as Error).message}`);
    }
    const out: Buffer[] = [];
    for (const m of msgs) {
        if (m.type === NETLINK.NLMSG_ERROR) {
            const code = LE ? m.data.readInt32LE(0) : m.data.readInt32BE(0);
            if (code !== 0) throw new IpvsError(-code, kind, op);
        } else if (m.type === family) {
            out.push(m.data.subarray(4));
        }
    }
    return out;
}
