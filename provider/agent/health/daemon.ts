// The health daemon (`node agent.js health`, under its own unit): checks every endpoint the node's
// record names, one probe per endpoint however many services share it, each at its check's interval;
// counts failures and successes in a row; and when a real server's state changes, records it (ahead of
// the kernel) and sets the weights of every real server of that endpoint, and the sorry servers of
// their services, under the node's lock, through the same IPVS code as apply. It re-reads the record
// when it changes (apply wrote it), and at start converges the table to what it knows, so a daemon
// killed halfway through a change leaves nothing half-done once it is back.
import * as fs from "fs";
import { performance } from "perf_hooks";
import * as model from "../../model";
import type { HealthCheck, RealServer } from "../../model";
import type { Context } from "../context";
import * as desired from "../desired";
import type { Desired } from "../desired";
import { rsKey } from "../apply/table";
import { convergeService, quorumOf } from "./converge";
import { runCheck, runCommand } from "./probes";
import { writeAtomic } from "../files";
import { type HealthState, healthPidFile, loadHealth, saveHealth, serverKey, serverUp } from "./state";

/** One probe: what it checks, where, and who shares it. */
interface Endpoint {
    key: string;
    check: HealthCheck;
    target: { address: string; port: number };
    /** The real servers that have it: their services' names and their address|port. */
    users: Array<{ service: string; rsKey: string; rs: RealServer; check: HealthCheck }>;
    timer?: NodeJS.Timeout;
    oks: number;
    fails: number;
}

/** At most this many checks in flight: past it, checks wait their turn (late rather than all timing out
 * at once on a director that cannot keep up). */
const maxInFlight = 200;
/** The fewest the cap comes down to (and where it starts): with a check's CPU in milliseconds, 16 at once
 * stay well within any timeout, and fewer would only lose checks a second. */
const minInFlight = 16;
/** How often the daemon looks at how busy its event loop is, which its cap of checks in flight follows. */
const busyEveryMs = 250;

/** The cap of checks in flight after a look at how busy the event loop was since the last (its utilization,
 * 0 to 1): cut by a third while it is busy 95% of the time or more, grown by 8 while it is busy under 80%;
 * from minInFlight to maxInFlight. A check's time is the checks in flight over the checks done a second: on a
 * director whose CPU cannot keep up, fewer at once keeps each one's time (and so what its timeout measures)
 * the real server's, and checks come late instead of failing healthy servers. */
export function nextCap(cap: number, busy: number): number {
    if (busy >= 0.95) return Math.max(minInFlight, Math.floor(cap * 2 / 3));
    if (busy < 0.8) return Math.min(maxInFlight, cap + 8);
    return cap;
}

/** How long the daemon lets go of the node's lock between two of its writes, so an apply waiting for it
 * (which polls) gets its turn. */
const politeMs = 300;

export interface DaemonOptions {
    /** How often the record is looked at for changes (ms). */
    pollMs?: number;
    log?: (line: string) => void;
    hash?: string;
}

export class HealthDaemon {
    private record: Desired;
    private stamp = "";
    private health: HealthState;
    private endpoints = new Map<string, Endpoint>();
    private dirty = new Set<string>();
    private flushing?: Promise<void>;
    private flushAgain = false;
    private detailsChanged = false;
    private stopped = false;
    private poller?: NodeJS.Timeout;
    private inFlight = 0;
    /** Starts low and grows while the daemon is not busy (a thousand checks due at its start, after a reboot,
     * would otherwise all be in flight before it knew whether the CPU keeps up). */
    private cap = minInFlight;
    private busyTimer?: NodeJS.Timeout;
    private lateSince = 0;
    private queue: Array<() => void> = [];
    private readonly log: (line: string) => void;

    constructor(private readonly ctx: Context, private readonly opts: DaemonOptions = {}) {
        this.log = opts.log ?? ((line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
        this.record = desired.load(ctx.stateDir);
        this.health = loadHealth(ctx.stateDir);
    }

    /** Converges the table to what is known, then checks until stopped. */
    async start(): Promise<void> {
        this.health.daemon = { pid: process.pid, hash: this.opts.hash ?? "dev", startedAt: new Date().toISOString() };
        writeAtomic(healthPidFile(this.ctx.stateDir), `${process.pid}\n`);
        this.reload(true);
        for (const key of Object.keys(this.record.services)) this.dirty.add(key);
        await this.flush();
        const poll = this.opts.pollMs ?? 500;
        this.poller = setInterval(() => { if (this.reload(false)) void this.flush(); }, poll);
        // Details of checks that changed no state (a new result text) are written now and then.
        const details = setInterval(() => { if (this.detailsChanged) void this.flush(); }, 5000);
        details.unref?.();
        this.watchBusy();
        this.log(`health daemon ${process.pid}: ${this.endpoints.size} endpoint(s) of ` +
            `${Object.keys(this.record.services).length} service(s)`);
    }

    /** Stops checking; resolves once no change is half made. */
    async stop(): Promise<void> {
        this.stopped = true;
        if (this.poller) clearInterval(this.poller);
        clearTimeout(this.busyTimer);
        fs.rmSync(healthPidFile(this.ctx.stateDir), { force: true });
        for (const e of this.endpoints.values()) clearTimeout(e.timer);
        while (this.flushing) await this.flushing;
    }

    /** Re-reads the record when it changed on disk; rebuilds the endpoints. True when it did. */
    private reload(force: boolean): boolean {
        let stamp: string;
        try {
            const st = fs.statSync(`${this.ctx.stateDir}/desired.json`);
            stamp = `${st.mtimeMs}/${st.size}/${st.ino}`;
        } catch { stamp = "none"; }
        if (!force && stamp === this.stamp) return false;
        this.stamp = stamp;
        try { this.record = desired.load(this.ctx.stateDir); } catch (e) {
            this.log(`the record does not read, keeping the checks as they were: ${(e as Error).message}`);
            return false;
        }
        this.rebuild();
        for (const key of Object.keys(this.record.services)) this.dirty.add(key);
        return true;
    }

    private rebuild(): void {
        const wanted = new Map<string, Endpoint>();
        for (const [service, s] of Object.entries(this.record.services)) {
            for (const [k, rs] of Object.entries(s.realServers)) {
                const check = desired.checkOf(s, k);
                if (!check) continue;
                const key = model.endpointKey(check, rs);
                let e = wanted.get(key);
                if (!e) {
                    e = this.endpoints.get(key) ??
                        { key, check, target: model.checkTarget(check, rs), users: [], oks: 0, fails: 0 };
                    e.users = [];
                    wanted.set(key, e);
                }
                e.users.push({ service, rsKey: k, rs, check });
            }
        }
        for (const [key, e] of this.endpoints) if (!wanted.has(key)) clearTimeout(e.timer);
        for (const [key, e] of wanted) {
            if (this.endpoints.has(key)) continue;
            // The first check soon, spread over a second so that a thousand endpoints do not start at once.
            e.timer = setTimeout(() => void this.probe(e), Math.random() * Math.min(1000, e.check.interval * 1000));
        }
        this.endpoints = wanted;
        // Forget what no endpoint, real server or service of the record has any more.
        const h = this.health;
        for (const key of Object.keys(h.endpoints)) if (!wanted.has(key)) delete h.endpoints[key];
        const servers = new Set([...wanted.values()].flatMap((e) => e.users.map((u) => serverKey(u.service, u.rsKey))));
        for (const key of Object.keys(h.servers)) if (!servers.has(key)) delete h.servers[key];
        for (const key of Object.keys(h.quorum)) if (!this.record.services[key]) delete h.quorum[key];
    }

    private async probe(e: Endpoint): Promise<void> {
        if (this.stopped || this.endpoints.get(e.key) !== e) return;
        const started = Date.now();
        const u = e.users[0];
        if (this.inFlight < this.cap) this.inFlight++;
        else await new Promise<void>((resolve) => this.queue.push(resolve)); // handed its slot on release
        let r: Awaited<ReturnType<typeof runCheck>>;
        try { r = await runCheck(e.check, e.target, { address: u.rs.address, port: u.rs.port }); } finally {
            // The slot goes to the next check in line, unless the cap has come down below what is in flight.
            const next = this.inFlight <= this.cap ? this.queue.shift() : undefined;
            if (next) next(); else this.inFlight--;
        }
        if (this.stopped || this.endpoints.get(e.key) !== e) return;
        const h = this.health;
        const now = new Date().toISOString();
        let known = h.endpoints[e.key];
        if (!known) {
            known = h.endpoints[e.key] = { up: serverUp(h, u.service, u.rsKey, e.check, u.rs), since: now };
            this.detailsChanged = true;
        }
        if (known.last !== r.detail) this.detailsChanged = true;
        known.last = r.detail;
        known.lastAt = now;
        if (r.ok) { e.oks++; e.fails = 0; } else { e.fails++; e.oks = 0; }
        const change = known.up ? (!r.ok && e.fails >= e.check.failureCount ? false : undefined)
            : (r.ok && e.oks >= e.check.successCount ? true : undefined);
        if (change !== undefined) {
            known.up = change;
            known.since = now;
            const t = e.target.address.includes(":") ? `[${e.target.address}]:${e.target.port}`
                : `${e.target.address}:${e.target.port}`;
            this.log(`${e.check.type} check of ${t} ${change ? "up" : "down"}: ${r.detail} ` +
                `(${change ? e.oks : e.fails} in a row)`);
            for (const user of e.users) {
                h.servers[serverKey(user.service, user.rsKey)] = change;
                this.dirty.add(user.service);
                if (user.check.notify) {
                    const args = [change ? "up" : "down", user.rs.address, String(user.rs.port)];
                    void runCommand(user.check.notify, args, {}, 30_000).then((n) => {
                        if (n.code !== 0)
                            this.log(`notify ${user.check.notify!.join(" ")} ${args.join(" ")}: ${n.detail}`);
                    });
                }
            }
            void this.flush();
        }
        const wait = Math.max(0, e.check.interval * 1000 - (Date.now() - started));
        e.timer = setTimeout(() => void this.probe(e), wait);
    }

    /** Follows how busy the event loop is with the cap of checks in flight (nextCap), starts what waits
     * when the cap grows, and says when checks start coming late and when they are on time again. */
    private watchBusy(since = performance.eventLoopUtilization()): void {
        this.busyTimer = setTimeout(() => {
            if (this.stopped) return;
            const now = performance.eventLoopUtilization();
            const busy = performance.eventLoopUtilization(now, since).utilization;
            this.cap = nextCap(this.cap, busy);
            while (this.inFlight < this.cap && this.queue.length) { this.inFlight++; this.queue.shift()!(); }
            // Late: checks wait for a slot while the daemon is busy and its cap a quarter or less (from 200, four
            // busy looks in a row: not one busy moment). On time: none waits and the daemon is not busy.
            if (busy >= 0.95 && this.cap <= maxInFlight / 4 && this.queue.length && !this.lateSince) {
                this.lateSince = Date.now();
                this.log(`checks are coming late: this director's CPU does not keep up with them (the daemon busy ` +
                    `${Math.round(busy * 100)}% of the time); at most ${this.cap} checks at once until it does`);
            } else if (this.lateSince && !this.queue.length && busy < 0.8) {
                this.log(`checks are on time again, after ${((Date.now() - this.lateSince) / 1000).toFixed(0)} s`);
                this.lateSince = 0;
            }
            this.watchBusy(now);
        }, busyEveryMs);
        this.busyTimer.unref?.();
    }

    /** Writes what changed: the health state first, then the kernel, under the node's lock. */
    private flush(): Promise<void> {
        if (this.flushing) { this.flushAgain = true; return this.flushing; }
        this.flushing = (async () => {
            try {
                for (;;) {
                    this.flushAgain = false;
                    await this.ctx.exclusive(() => this.write());
                    if (!this.flushAgain || this.stopped) break;
                    await new Promise((resolve) => setTimeout(resolve, politeMs));
                }
            } catch (e) {
                // Every service again, with the details' next write (within 5 s): converging is idempotent,
                // and a change that is not made now must not wait for the next change of state.
                for (const key of Object.keys(this.record.services)) this.dirty.add(key);
                this.detailsChanged = true;
                this.log(`could not apply health changes (trying again within 5 s): ${(e as Error).message}`);
            } finally {
                this.flushing = undefined;
            }
        })();
        return this.flushing;
    }

    private async write(): Promise<void> {
        // The record as it is now (apply may have changed it since the last look), read under the lock.
        try { this.record = desired.load(this.ctx.stateDir); } catch { /* keep the last good one */ }
        const services = [...this.dirty].filter((k) => this.record.services[k]);
        this.dirty.clear();
        const h = this.health;
        for (const key of services) {
            const had = h.quorum[key];
            h.quorum[key] = quorumOf(key, this.record.services[key], h);
            if (had !== undefined && had !== h.quorum[key] && this.record.services[key].health?.sorryServer)
                this.log(`service ${key} ${h.quorum[key] ? "has its quorum again" : "lost its quorum"}`);
        }
        saveHealth(this.ctx.stateDir, h);
        this.detailsChanged = false;
        if (!services.length) return;
        const ipvs = await this.ctx.ipvs();
        for (const key of services) {
            const s = this.record.services[key];
            // (A service that is not in the table has no destinations to read: its dump fails.)
            const dests = await ipvs.destinations(s.service).catch(() => undefined);
            if (!dests) continue;
            const live = new Map(dests.map((d) => [rsKey(d), d]));
            const { writes, actions } = convergeService(key, s, h, live);
            if (!writes.length) continue;
            const results = await ipvs.writeAll(writes);
            results.forEach((err, i) => this.log(err ? `could not ${writes[i].op}: ${err.message}` : actions[i]));
        }
    }
}
