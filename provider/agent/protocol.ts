// The agent's wire protocol: one JSON request per line on stdin, one JSON reply per line on stdout, in
// order. Shared by the agent and the provider's client, so both sides name operations the same way.

export interface Request {
    id: number;
    op: string;
    args?: unknown;
}

export interface Reply {
    id: number;
    ok: boolean;
    result?: unknown;
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

/** What a writing operation did: every change it made to the node, in words an operator reads. */
export interface Report {
    changed: boolean;
    actions: string[];
    /** What the caller should be told: an object taken over that pulumi-lvs had not made. */
    warnings?: string[];
    /** Objects a delete left in place because other holders still declare them. */
    kept?: string[];
}
