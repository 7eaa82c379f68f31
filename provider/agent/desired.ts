// What pulumi-lvs last applied on this node, kept on the node's own disk. IPVS rules, addresses, sysctls
// and loaded modules vanish on reboot; the restore unit (run once at boot, before anything else touches
// the node) puts them back from here. It also keeps what each sysctl and the IPVS timeouts were before
// pulumi-lvs first set them, so a delete puts that back. Only the agent holding the node's lock writes
// it, atomically (a temporary file, fsync, rename).
import * as fs from "fs";
import * as path from "path";
import type { Daemon, RealServer, SyncState, Timeouts, VirtualService } from "./ipvs";
import type { SysctlValue } from "./host";
import { AgentError } from "./protocol";

export const defaultStateDir = "/var/lib/pulumi-lvs";
const file = (dir: string) => path.join(dir, "desired.json");
export const unitName = "pulumi-lvs-restore.service";

export interface Desired {
    version: 1;
    /** By service name: the service as written, and its real servers by address|port. */
    services: Record<string, { service: VirtualService; realServers: Record<string, RealServer> }>;
    timeouts?: Partial<Timeouts>;
    daemons: Partial<Record<SyncState, Daemon>>;
    sysctls: Record<string, SysctlValue>;
    /** Who set each sysctl (resources' ids): restored only once the last of them lets go. */
    holders: Record<string, string[]>;
    /** By address/prefix%interface. */
    addresses: Record<string, { address: string; iface: string; prefixLength: number }>;
    modules: string[];
    /** What was there before pulumi-lvs first set it: sysctls by name, and "timeouts". */
    found: Record<string, SysctlValue | Timeouts>;
}

const empty = (): Desired => ({ version: 1, services: {}, daemons: {}, sysctls: {}, holders: {}, addresses: {}, modules: [], found: {} });

export function load(dir: string): Desired {
    let text: string;
    try {
        text = fs.readFileSync(file(dir), "utf8");
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return empty();
        throw new AgentError(`cannot read ${file(dir)}: ${(e as Error).message}`, "state");
    }
    try {
        const d = JSON.parse(text);
        if (d?.version !== 1) throw new Error(`version ${JSON.stringify(d?.version)}, this agent reads 1`);
        return { ...empty(), ...d };
    } catch (e) {
        throw new AgentError(`${file(dir)} is not a desired state this agent reads (${(e as Error).message}); ` +
            `move it away to start afresh (the next apply writes a new one)`, "state");
    }
}

/** Writes the desired state and the restore unit beside it; where systemd runs, installs and enables
 * the unit (as systemctl enable would: a file in /etc/systemd/system and its wants link). */
export function save(dir: string, d: Desired, agentFile: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomic(file(dir), JSON.stringify(d) + "\n");
    const unit = restoreUnit(process.execPath, agentFile);
    writeAtomic(path.join(dir, unitName), unit);
    if (fs.existsSync("/run/systemd/system")) {
        writeAtomic(path.join("/etc/systemd/system", unitName), unit);
        const wants = "/etc/systemd/system/multi-user.target.wants";
        fs.mkdirSync(wants, { recursive: true });
        if (!fs.existsSync(path.join(wants, unitName))) fs.symlinkSync(path.join("/etc/systemd/system", unitName), path.join(wants, unitName));
    }
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

/** Replaces `target` with `text` whole or not at all (unchanged files are left alone). */
function writeAtomic(target: string, text: string): void {
    try { if (fs.readFileSync(target, "utf8") === text) return; } catch { /* missing: write it */ }
    const tmp = `${target}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, "w", 0o600);
    try { fs.writeSync(fd, text); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
    fs.renameSync(tmp, target);
    const dirFd = fs.openSync(path.dirname(target), "r");
    try { fs.fsyncSync(dirFd); } finally { fs.closeSync(dirFd); }
}
