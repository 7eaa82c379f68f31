// What pulumi-lvs last applied on this node, kept on the node's own disk. IPVS rules, addresses, sysctls
// and loaded modules vanish on reboot; the restore unit (run once at boot, before anything else touches
// the node) puts them back from here. It also keeps what each sysctl and the IPVS timeouts were before
// pulumi-lvs first set them, so a delete puts that back, and who holds each object (the resources that
// declare it: an object is removed only when the last of them lets go). Only the agent holding the
// node's lock writes it, atomically (a temporary file, fsync, rename); the record it replaced, when that
// one was good, stays beside it (desired.prev.json), so a damaged file loses none of the found values.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { AgentError } from "../model/protocol";
import type { SysctlValue } from "../model/sysctls";
import type {
    Daemon, Failover, HealthCheck, RealServer, ServiceHealth, SyncState, Timeouts, VirtualService,
} from "../model";
import * as failover from "./failover";
import { writeAtomic } from "./files";
import { healthPidFile } from "./health/state";
import { longRunningUnit } from "./units";

export const defaultStateDir = "/var/lib/pulumi-lvs";
const file = (dir: string) => path.join(dir, "desired.json");
const prevFile = (dir: string) => path.join(dir, "desired.prev.json");
export const unitName = "pulumi-lvs-restore.service";
/** The health daemon's unit: installed while the record has health checks or a sorry server. */
export const healthUnitName = "pulumi-lvs-health.service";

/** The holder of objects recorded before holders were (by resources that know no holder name of their
 * own): such a resource's requests come without one and count as this holder. */
export const unnamedHolder = "pulumi-lvs/unnamed";

export interface Desired {
    version: 2;
    /** Written before the kernel is changed, with every object of the record before and after the change;
     * the record written once the change is confirmed has no such mark. */
    pending?: boolean;
    /** By service name: the service as written, and its real servers by address|port (as declared: the
     * kernel has them as their health allows, model.effectiveRealServer). */
    services: Record<string, ServiceRecord>;
    timeouts?: Partial<Timeouts>;
    daemons: Partial<Record<SyncState, Daemon>>;
    sysctls: Record<string, SysctlValue>;
    /** Who holds each object, by its name (objectName): the resources' holder names. */
    holders: Record<string, string[]>;
    /** By address/prefix%interface. */
    addresses: Record<string, { address: string; iface: string; prefixLength: number }>;
    modules: string[];
    /** What was there before pulumi-lvs first set it: sysctls by name, and "timeouts". */
    found: Record<string, SysctlValue | Timeouts>;
    /** The director's failover (its keepalived runs while the record has one), with keepalived's path. */
    failover?: Failover & { keepalived: string };
}

export interface ServiceRecord {
    service: VirtualService;
    realServers: Record<string, RealServer>;
    /** The service's default check, sorry server and quorum. */
    health?: ServiceHealth;
    /** The real servers' own checks, by address|port. */
    checks?: Record<string, HealthCheck>;
    /** The real servers being drained (weight 0 until they are deleted), by address|port. */
    draining?: string[];
}

/** A real server's check: its own, else its service's default. */
export const checkOf = (s: ServiceRecord, rsKey: string): HealthCheck | undefined =>
    s.checks?.[rsKey] ?? s.health?.healthCheck;

/** Whether the record has anything for the health daemon to do. */
export const hasHealth = (d: Desired): boolean =>
    Object.values(d.services).some((s) =>
        s.health?.sorryServer || Object.keys(s.realServers).some((k) => checkOf(s, k)));

const empty = (): Desired =>
    ({ version: 2, services: {}, daemons: {}, sysctls: {}, holders: {}, addresses: {}, modules: [], found: {} });

/** The names objects are held by, one per kind of object. */
export const objectName = {
    service: (service: string) => `service ${service}`,
    realServer: (service: string, realServer: string) => `real server ${realServer} of ${service}`,
    address: (key: string) => `address ${key}`,
    daemon: (state: SyncState) => `${state} sync daemon`,
    timeouts: () => "timeouts",
    sysctl: (name: string) => `sysctl ${name}`,
    module: (name: string) => `module ${name}`,
    failover: () => "failover",
};
export const addressKey = (a: { address: string; iface: string; prefixLength: number }) =>
    `${a.address}/${a.prefixLength}%${a.iface}`;

/** Every object the record has, by its name (objectName). */
export function objectNames(d: Desired): string[] {
    return [
        ...Object.entries(d.services).flatMap(([s, { realServers }]) =>
            [objectName.service(s), ...Object.keys(realServers).map((r) => objectName.realServer(s, r))]),
        ...Object.keys(d.addresses).map(objectName.address),
        ...(Object.keys(d.daemons) as SyncState[]).map(objectName.daemon),
        ...(d.timeouts ? [objectName.timeouts()] : []),
        ...Object.keys(d.sysctls).map(objectName.sysctl),
        ...d.modules.map(objectName.module),
        ...(d.failover ? [objectName.failover()] : []),
    ];
}

/** A record of version 1 (no holders but a sysctl's): its sysctls' holders under their new names, and
 * every other object held by the unnamed holder, as the resources that made it have no holder name. */
function migrate(d: Desired & { version: 1 | 2 }): Desired {
    if (d.version === 2) return d;
    const v1 = d.holders;
    const out: Desired = { ...d, version: 2, holders: {} };
    for (const [name, hs] of Object.entries(v1)) if (hs.length) out.holders[objectName.sysctl(name)] = hs;
    for (const o of objectNames(out)) out.holders[o] ??= [unnamedHolder];
    return out;
}

function parse(text: string): Desired {
    const d = JSON.parse(text);
    if (d?.version !== 1 && d?.version !== 2)
        throw new Error(`version ${JSON.stringify(d?.version)}, this agent reads 1 and 2`);
    for (const k of ["services", "daemons", "sysctls", "holders", "addresses", "found"] as const)
        if (d[k] !== undefined && (typeof d[k] !== "object" || d[k] === null || Array.isArray(d[k])))
            throw new Error(`${k} is not an object`);
    if (d.modules !== undefined && !Array.isArray(d.modules)) throw new Error("modules is not a list");
    return migrate({ ...empty(), ...d });
}

export function load(dir: string): Desired {
    let text: string;
    try {
        text = fs.readFileSync(file(dir), "utf8");
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return empty();
        throw new AgentError(`cannot read ${file(dir)}: ${(e as Error).message}`, "state");
    }
    try {
        return parse(text);
    } catch (e) {
        const prev = fs.existsSync(prevFile(dir)) ? `; the record before the last change is ${prevFile(dir)}: ` +
            `check it and move it to ${file(dir)} to go on from there` : "";
        throw new AgentError(`${file(dir)} is not a record of what pulumi-lvs applied that this agent reads ` +
            `(${(e as Error).message})${prev}. Do not delete it: it holds the values the sysctls and timeouts had ` +
            "before pulumi-lvs set them, which deletes put back", "state");
    }
}

/** Whether the record reads, for refresh to report: its problem, or undefined. */
export function problem(dir: string): string | undefined {
    try { load(dir); return undefined; } catch (e) { return (e as Error).message; }
}

/** What the record holds while a change is in flight: every object of `before` and of `next` (next's
 * settings and holders where it has the object), marked pending. An agent killed before the change is
 * confirmed leaves nothing in the kernel that the record does not name. */
export function inFlight(before: Desired, next: Desired): Desired {
    const services = structuredClone(before.services);
    for (const [k, s] of Object.entries(next.services))
        services[k] = { ...s, realServers: { ...(services[k]?.realServers ?? {}), ...s.realServers },
            checks: { ...(services[k]?.checks ?? {}), ...(s.checks ?? {}) } };
    return {
        ...next,
        pending: true,
        services,
        timeouts: next.timeouts ?? before.timeouts,
        daemons: { ...before.daemons, ...next.daemons },
        sysctls: { ...before.sysctls, ...next.sysctls },
        holders: { ...before.holders, ...next.holders },
        addresses: { ...before.addresses, ...next.addresses },
        modules: [...new Set([...before.modules, ...next.modules])],
        found: { ...before.found, ...next.found },
        ...(next.failover ?? before.failover ? { failover: next.failover ?? before.failover } : {}),
    };
}

/** Writes the desired state and the restore unit beside it; where systemd runs, installs and enables
 * the unit (as systemctl enable would: a file in /etc/systemd/system and its wants link). The record it
 * replaces is kept as desired.prev.json when it is a good one (it read, and no change was in flight). */
export function save(dir: string, d: Desired, agentFile: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    let old: string | undefined;
    try { old = fs.readFileSync(file(dir), "utf8"); } catch { /* none yet */ }
    try {
        if (old !== undefined && !parse(old).pending) writeAtomic(prevFile(dir), old);
    } catch { /* not a good one: the last good stays */ }
    writeAtomic(file(dir), JSON.stringify(d) + "\n");
    installUnit(dir, unitName, restoreUnit(process.execPath, agentFile));
    const health = hasHealth(d) ? healthUnit(process.execPath, agentFile) : undefined;
    installUnit(dir, healthUnitName, health);
    if (d.failover) {
        failover.writeConf(dir, failover.keepalivedConf(d.failover, {
            notify: [process.execPath, agentFile, "vrrp-state"],
            ...(health ? { healthPidFile: healthPidFile(dir) } : {}),
        }));
        installUnit(dir, failover.vrrpUnitName, failover.keepalivedUnit(d.failover.keepalived, dir, unitName));
    } else {
        installUnit(dir, failover.vrrpUnitName, undefined);
        failover.removeFiles(dir);
    }
}

const systemd = () => fs.existsSync("/run/systemd/system");
const systemctl = (...args: string[]) =>
    execFileSync("systemctl", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });

/** Stops a long-running unit now, before its record goes (so that nothing restarts it meanwhile): under
 * systemd, systemctl stop; elsewhere (the lab's init) its file beside the record goes, which stops it. */
export function stopLongUnit(dir: string, name: string): void {
    if (systemd()) { try { systemctl("stop", name); } catch { /* not running */ } return; }
    fs.rmSync(path.join(dir, name), { force: true });
}

/**
 * Keeps a unit beside the record (where the lab's init finds it) and, where systemd runs, installed and
 * enabled as systemctl enable would (a file in /etc/systemd/system and its wants link). A long-running
 * unit (the health daemon, keepalived) is also (re)started when its text changes (a new agent is a new
 * ExecStart), and stopped and removed when `unit` is undefined.
 */
function installUnit(dir: string, name: string, unit: string | undefined): void {
    const here = path.join(dir, name), etc = path.join("/etc/systemd/system", name);
    const wants = path.join("/etc/systemd/system/multi-user.target.wants", name);
    const long = name === healthUnitName || name === failover.vrrpUnitName;
    if (unit === undefined) {
        if (!fs.existsSync(here)) return;
        fs.rmSync(here, { force: true });
        if (systemd() && fs.existsSync(etc)) {
            try { systemctl("stop", "--no-block", name); } catch { /* not running */ }
            fs.rmSync(wants, { force: true }); fs.rmSync(etc, { force: true });
            systemctl("daemon-reload");
        }
        return;
    }
    const changed = writeAtomic(here, unit);
    if (!systemd()) return;
    const changedEtc = writeAtomic(etc, unit);
    fs.mkdirSync(path.dirname(wants), { recursive: true });
    if (!fs.existsSync(wants)) fs.symlinkSync(etc, wants);
    // --no-block: the daemon being stopped may be waiting for the node's lock, which this agent holds.
    if (long && (changed || changedEtc)) { systemctl("daemon-reload"); systemctl("restart", "--no-block", name); }
}

export function restoreUnit(node: string, agentFile: string): string {
    return [
        "# Written by the pulumi-lvs agent: puts back the IPVS rules, addresses and sysctls it last applied.",
        "[Unit]",
        "Description=pulumi-lvs: restore the last applied IPVS rules, addresses and sysctls",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        `ExecStart=${node} ${agentFile} restore`,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

/** The health daemon's unit: started after the restore (the table is back before checks change it), and
 * restarted whenever it stops (a crash, a kill -9). */
export function healthUnit(node: string, agentFile: string): string {
    return longRunningUnit({
        comment: "Written by the pulumi-lvs agent: checks the real servers and sets their weights by their health.",
        description: "pulumi-lvs: health checks of the real servers",
        after: unitName,
        execStart: `${node} ${agentFile} health`,
    });
}

