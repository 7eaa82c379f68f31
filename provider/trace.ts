// What the provider does on the wire, one line per event (SSH connections, agent installs), appended to
// the file named by PULUMI_LVS_TRACE when it is set: for operators who want to see the cost of a run.
import * as fs from "fs";

export function trace(event: string): void {
    const file = process.env.PULUMI_LVS_TRACE;
    if (file) fs.appendFileSync(file, `${new Date().toISOString()} pid ${process.pid} ${event}\n`);
}
