// What every operation of the agent runs with: the IPVS handle, the node's lock, and where the node keeps
// its record. main.ts makes the real one (a session); the tests make fakes.
import type { IpvsHandle } from "./ipvs";

export interface Context {
    ipvs(): Promise<IpvsHandle>;
    /** Runs `fn` holding the node's lock, so agents never interleave half-applied changes. */
    exclusive<T>(fn: () => Promise<T>): Promise<T>;
    /** Where the node keeps what was last applied (desired.ts), and the agent file its restore unit runs. */
    stateDir: string;
    agentFile: string;
}
