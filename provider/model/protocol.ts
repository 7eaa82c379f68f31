// The agent's wire protocol: one JSON request per line on stdin, one JSON reply per line on stdout, in
// order. Every operation's arguments and result are typed here, and both the provider's client and the
// agent use these types, so the two sides name operations and their fields the same way.
import type { FailoverSpec, FailoverState } from "./failover";
import type { CheckType, HealthCheckSpec, ServiceHealthSpec } from "./health";
import type { HostAddress } from "./interface";
import type { KernelFeature, KernelVersion } from "./kernel";
import type { RealServer, RealServerSpec } from "./real-server";
import type { Scheduler } from "./schedulers";
import type { ServiceKey, ServiceSpec, VirtualService } from "./service";
import type { Daemon, SyncState } from "./sync";
import type { SysctlValue } from "./sysctls";
import type { Timeouts } from "./types";

/** A change to the node. Each may name its holder (the resource it comes from, by a name made at the
 * resource's creation): an object stays while any holder is left, and two holders cannot declare it
 * differently. A change without one counts as the unnamed holder. */
export type Change = { holder?: string } & (
    | { service: ServiceSpec; adopt?: boolean; health?: ServiceHealthSpec }
    | { deleteService: ServiceKey }
    | { realServer: RealServerSpec; service: ServiceKey; adopt?: boolean; healthCheck?: HealthCheckSpec }
    | { deleteRealServer: { address: string; port?: number }; service: ServiceKey }
    | { timeouts: Partial<Timeouts> }
    | { startDaemon: Daemon }
    | { stopDaemon: SyncState }
    | { sysctl: string; value: SysctlValue }
    | { restore: string }
    | { address: string; interface: string; prefixLength?: number }
    | { deleteAddress: string; interface: string; prefixLength?: number }
    | { module: string }
    | { deleteModule: string }
    | { renameHolder: string; to: string }
    /** The director's failover (keepalived's VRRP) and the addresses it moves; deleteFailover stops it. */
    | { failover: FailoverSpec; addresses: HostAddress[] }
    | { deleteFailover: true });

/** What a writing operation did: every change it made to the node, in words an operator reads. */
export interface Report {
    changed: boolean;
    actions: string[];
    /** What the caller should be told: an object taken over that pulumi-lvs had not made. */
    warnings?: string[];
    /** Objects a delete left in place because other holders still declare them. */
    kept?: string[];
    /** How many requests (this one among them) were applied together, when more than one. */
    together?: number;
}

/** A service with its real servers, as the kernel has them (counters included). */
export type ServiceState = VirtualService & { realServers: RealServer[] };

/** A checked real server's health, as the health daemon last decided it. */
export interface RealServerHealth {
    /** The service's name (model.serviceName) and the real server's address and port. */
    service: string;
    address: string;
    port: number;
    check: CheckType;
    state: "up" | "down";
    /** Since when (ISO time); absent before the daemon first knew it. */
    since?: string;
    /** The last check's result in words, and when it ran. */
    last?: string;
    lastAt?: string;
    /** What its health has the kernel do: its declared weight, weight 0, or not in the table. */
    effect: "declared" | "quiesced" | "removed" | "draining";
}

/** The health daemon, as the node sees it. */
export interface HealthDaemon {
    running: boolean;
    pid?: number;
    /** The content hash of the agent it runs (a new agent restarts it). */
    hash?: string;
    startedAt?: string;
}

/** loaded: in /proc/modules; builtin: compiled in; available: in modules.dep; missing: none of those. */
export type ModuleState = "loaded" | "builtin" | "available" | "missing";

export interface InterfaceAddress {
    interface: string;
    index: number;
    family: 4 | 6;
    address: string;
    prefixLength: number;
    /** rtnetlink scope: 0 global, 200 site, 253 link, 254 host. */
    scope: number;
    /** IPv4 label (the interface name, or name:alias). */
    label?: string;
    /** IFA_F_* flags that are set, e.g. ["permanent", "nodad"]. */
    flags: string[];
}

export interface IpvsInfo {
    /** e.g. "1.2.1" */
    version: string;
    /** Size of the connection hash table. */
    connTableSize: number;
}

/** What a host's kernel offers (read from files; nothing loaded). */
export interface HostProbe {
    kernelRelease: string;
    kernel: KernelVersion;
    /** Absent when ip_vs is not loaded in this host (or namespace). */
    ipvs?: IpvsInfo;
    schedulers: Record<Scheduler, ModuleState>;
    features: Record<KernelFeature, boolean>;
}

/** The probe operation's answer: the host, the agent, and why the node's record cannot be read (if so). */
export interface Probe extends HostProbe {
    agent: { version: string; hash: string; node: string; maxRssKiB: number };
    recordProblem?: string;
}

/** Every operation: its arguments and its result. Nothing else is accepted. */
export interface Operations {
    probe: { args: undefined; result: Probe };
    /** The table (or the services asked for: those missing are left out), the timeouts and the daemons. */
    state: {
        args: { services?: ServiceKey[] };
        result: {
            services: ServiceState[]; timeouts: Timeouts; daemons: Daemon[];
            /** The checked real servers of those services (those the record has), and the health daemon. */
            health: RealServerHealth[]; healthDaemon?: HealthDaemon;
            /** The failover, when the record has one. */
            failover?: FailoverState;
        };
    };
    /** The changes, all or none. */
    apply: { args: { changes: Change[] }; result: Report };
    /** Weight 0, a wait for the active connections (or the deadline), then the delete. */
    drain: {
        args: {
            service: ServiceKey;
            realServer: { address: string; port?: number };
            timeoutSeconds?: number;
            holder?: string;
        };
        result: Report & { waitedSeconds: number; activeConnections: number };
    };
    /** Zeroes the counters of one service, or of all. */
    zero: { args: { service?: ServiceKey }; result: Report };
    /** The values of sysctls from the closed table. */
    sysctls: { args: { names: string[] }; result: Record<string, SysctlValue> };
    /** The addresses of one interface, or of all. */
    addresses: { args: { interface?: string }; result: InterfaceAddress[] };
}
export type Op = keyof Operations;
export type Args<O extends Op> = Operations[O]["args"];
export type Result<O extends Op> = Operations[O]["result"];

export interface Request<O extends Op = Op> {
    id: number;
    op: O;
    args?: Args<O>;
}

export interface Reply<O extends Op = Op> {
    id: number;
    ok: boolean;
    result?: Result<O>;
    error?: AgentErrorInfo;
}

export interface AgentErrorInfo {
    message: string;
    /** errno name when the kernel refused (EEXIST, ESRCH, ...). */
    code?: string;
    /** The request field at fault, for a bad request. */
    field?: string;
}

/** An error the agent reports to its caller, with the field at fault when the request was bad. */
export class AgentError extends Error {
    constructor(message: string, readonly field?: string, readonly code?: string) {
        super(message);
        this.name = "AgentError";
    }
}
