// The director's failover on the node: keepalived, found where the node's package put it and run by
// the agent under its own unit, configuration and pid files (pulumi-lvs-keepalived.service,
// keepalived.conf and keepalived*.pid beside the record), for VRRP only (--vrrp, and a configuration of
// one vrrp_instance: never a virtual_server, so keepalived never touches the IPVS table). A keepalived
// that the node runs for its own purposes is left alone, unless it speaks for the same virtual router,
// which is refused. keepalived reports each change of VRRP state to `node agent.js vrrp-state`, which
// keeps the last one in vrrp.json for refresh.
import * as fs from "fs";
import * as path from "path";
import { canonicalAddress, type Failover, failoverAttributes, type FailoverState } from "../model";
import { AgentError } from "../model/protocol";
import { writeAtomic } from "./files";
import { listAddresses } from "./host/addresses";
import { longRunningUnit } from "./units";

export const vrrpUnitName = "pulumi-lvs-keepalived.service";
export const confFile = (dir: string) => path.join(dir, "keepalived.conf");
const pidFile = (dir: string) => path.join(dir, "keepalived.pid");
const vrrpPidFile = (dir: string) => path.join(dir, "keepalived-vrrp.pid");
const stateFile = (dir: string) => path.join(dir, "vrrp.json");

/** Where distributions install keepalived, after the directories of PATH. */
const sbin = ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin", "/usr/local/bin"];

/** keepalived's absolute path on this node, or an error that says how to install it. */
export function findKeepalived(): string {
    const dirs = [...(process.env.PATH ?? "").split(":").filter((d) => d.startsWith("/")), ...sbin];
    for (const d of dirs) {
        const p = path.join(d, "keepalived");
        try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* not here */ }
    }
    throw new AgentError("failover needs keepalived, which this node does not have (looked in PATH and " +
        `${sbin.join(", ")}): install the distribution's package (Debian, Ubuntu: apt-get install keepalived; ` +
        "RHEL, Fedora, Rocky: dnf install keepalived; Alpine: apk add keepalived); pulumi-lvs runs an instance " +
        "of its own, for VRRP only, and leaves the package's own service alone", "failover", "ENOENT");
}

/** The pids of the keepalived processes of this network namespace's node that are not ours (their
 * command line does not name our configuration), with the configuration file each reads. */
function otherKeepaliveds(dir: string): Array<{ pid: number; conf: string }> {
    const out: Array<{ pid: number; conf: string }> = [];
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        let argv: string[];
        try {
            if (fs.readFileSync(`/proc/${d}/comm`, "utf8").trim() !== "keepalived") continue;
            argv = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").filter(Boolean);
        } catch { continue; }
        if (argv.includes(confFile(dir)) || argv.some((a) => a === `--use-file=${confFile(dir)}`)) continue;
        const i = argv.findIndex((a) => a === "-f" || a === "--use-file");
        const eq = argv.find((a) => a.startsWith("--use-file="));
        const conf = i >= 0 ? argv[i + 1] : eq ? eq.slice("--use-file=".length) : "/etc/keepalived/keepalived.conf";
        out.push({ pid: Number(d), conf });
    }
    return out;
}

/** Refuses a virtual router id that a keepalived of the node's own already uses (two VRRP speakers of one
 * router on one host fight over the addresses); any other keepalived is left alone. */
export function checkCollision(dir: string, f: Failover): void {
    for (const other of otherKeepaliveds(dir)) {
        let text = "";
        try { text = fs.readFileSync(other.conf, "utf8"); } catch { continue; }
        const ids = [...text.matchAll(/^\s*virtual_router_id\s+(\d+)/gm)].map((m) => Number(m[1]));
        if (ids.includes(f.virtualRouterId))
            throw new AgentError(`failover.virtualRouterId: ${f.virtualRouterId} is taken: this node's own ` +
                `keepalived (pid ${other.pid}, ${other.conf}) speaks VRRP for virtual router ` +
                `${f.virtualRouterId}: choose another id for this pair (1 to 255, unused on the network)`,
            "failover.virtualRouterId", "EEXIST");
    }
}

/** What the agent's notify hook and the health daemon look like to keepalived. */
export interface Hooks {
    /** The command keepalived runs on each change of state (the agent's vrrp-state mode). */
    notify: string[];
    /** The health daemon's pid file, tracked: without the daemon running, the director gives the addresses
     * up. A track script rather than keepalived's track_process, whose process events reach only the host's
     * first network namespace. */
    healthPidFile?: string;
}

const quote = (words: string[]) => `"${words.join(" ")}"`;

/** keepalived's configuration for a director's failover: one VRRP instance, nothing else. */
export function keepalivedConf(f: Failover, hooks: Hooks): string {
    const name = `pulumi_lvs_${f.virtualRouterId}`;
    const lines = [
        "# Written by the pulumi-lvs agent from this director's record (desired.json): VRRP only. The IPVS",
        "# table is pulumi-lvs's; change the program, not this file.",
        "global_defs {",
        "    vrrp_version 3",
        "    script_user root",
        "    enable_script_security",
        "}",
    ];
    if (hooks.healthPidFile) lines.push(
        "vrrp_script pulumi_lvs_health {",
        // One process (the shell's builtins read the pid and ask), every 2 s. A script that has not answered
        // in 10 s fails: with 2 s, a director whose CPUs were busy for a moment (the lab's, emulated, under
        // load) went to FAULT and back every minute, and each change ran the notify hook, which kept them busy.
        `    script "/bin/sh -c 'read p < ${hooks.healthPidFile} && kill -0 $p'"`,
        "    interval 2",
        "    timeout 10",
        // Three failures in a row (6 s): a daemon restarted by its unit (Restart=always, RestartSec=1) moves
        // nothing.
        "    fall 3",
        "    rise 1",
        "    weight 0",
        "}");
    lines.push(
        `vrrp_instance ${name} {`,
        "    state BACKUP",
        `    interface ${f.interface}`,
        `    virtual_router_id ${f.virtualRouterId}`,
        `    priority ${f.priority}`,
        `    advert_int ${f.advertInterval}`,
        // Left out at keepalived's default, which is ours (VRRP's); a record of an older agent has none.
        ...(f.downTimerAdverts && f.downTimerAdverts !== failoverAttributes.downTimerAdverts.default
            ? [`    down_timer_adverts ${f.downTimerAdverts}`] : []),
        ...(f.preempt ? [] : ["    nopreempt"]),
        ...(f.unicastPeers ? ["    unicast_peer {", ...f.unicastPeers.map((p) => `        ${p}`), "    }"] : []),
        "    virtual_ipaddress {",
        ...f.addresses.map((a) => `        ${a.address}/${a.prefixLength} dev ${a.interface}`),
        "    }",
        ...(hooks.healthPidFile ? ["    track_script {", "        pulumi_lvs_health", "    }"] : []),
        `    notify ${quote(hooks.notify)}`,
        "}",
        "");
    return lines.join("\n");
}

/** The unit that runs it: after the restore unit (the table is back before the director can take the
 * addresses); restarted whenever it stops. */
export function keepalivedUnit(keepalived: string, dir: string, restoreUnit: string): string {
    return longRunningUnit({
        comment: "Written by the pulumi-lvs agent: keepalived for this director's failover (VRRP only).",
        description: "pulumi-lvs: VRRP failover of the director's addresses (keepalived)",
        after: restoreUnit,
        execStart: `${keepalived} --vrrp --dont-fork --log-console --log-detail --use-file=${confFile(dir)} ` +
            `--pid=${pidFile(dir)} --vrrp_pid=${vrrpPidFile(dir)}`,
        execReload: "/bin/kill -HUP $MAINPID",
    });
}

/** Our keepalived's pid (its parent process), if it runs. */
function ourPid(dir: string): number | undefined {
    let pid: number;
    try { pid = Number(fs.readFileSync(pidFile(dir), "utf8").trim()); } catch { return undefined; }
    try {
        if (!pid || fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "keepalived") return undefined;
        return /^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")) ? undefined : pid;
    } catch { return undefined; }
}

/** Writes the configuration; a running keepalived whose configuration changed reloads it (SIGHUP). */
export function writeConf(dir: string, text: string): void {
    if (!writeAtomic(confFile(dir), text)) return;
    const pid = ourPid(dir);
    if (pid) try { process.kill(pid, "SIGHUP"); } catch { /* ended meanwhile: its restart reads the new one */ }
}

/** Stops our keepalived and waits for it (up to 10 s): it gives up the addresses as it stops. */
export async function stopKeepalived(dir: string): Promise<void> {
    const pid = ourPid(dir);
    if (!pid) return;
    try { process.kill(pid, "SIGTERM"); } catch { return; }
    for (let i = 0; i < 100 && ourPid(dir) === pid; i++) await new Promise((r) => setTimeout(r, 100));
    if (ourPid(dir) === pid) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
}

/** Removes the files of a failover that is gone, if any (the unit goes with the record's other units). */
export function removeFiles(dir: string): void {
    for (const f of [confFile(dir), stateFile(dir), pidFile(dir), vrrpPidFile(dir)]) fs.rmSync(f, { force: true });
}

/** The agent's vrrp-state mode: keepalived's notify arguments (INSTANCE|GROUP, name, state, priority),
 * kept in vrrp.json with the time they came. */
export function recordState(dir: string, args: string[]): void {
    const [kind, name, state, priority] = args;
    if (kind !== "INSTANCE") return;
    writeAtomic(stateFile(dir), JSON.stringify({ instance: name, state, priority: Number(priority),
        since: new Date().toISOString() }) + "\n");
}

/** The VRRP state our keepalived last reported, while it runs (undefined: not running, or none yet). */
export function lastState(dir: string): { state?: string; since?: string } {
    if (ourPid(dir) === undefined) return {};
    try { return JSON.parse(fs.readFileSync(stateFile(dir), "utf8")); } catch { return {}; }
}

/** What refresh reports: whether our keepalived runs, the last state it reported, the addresses held. */
export async function failoverState(dir: string, f: Failover): Promise<FailoverState> {
    const running = ourPid(dir) !== undefined;
    const last = lastState(dir);
    const holds: string[] = [];
    for (const iface of [...new Set(f.addresses.map((a) => a.interface))]) {
        let present: Array<{ address: string; prefixLength: number }> = [];
        try { present = await listAddresses(iface); } catch { /* interface gone: holds none there */ }
        for (const a of f.addresses.filter((x) => x.interface === iface))
            if (present.some((p) => canonicalAddress(p.address) === a.address && p.prefixLength === a.prefixLength))
                holds.push(a.address);
    }
    return { running, ...(running && last.state ? { state: last.state, since: last.since } : {}), holds };
}
