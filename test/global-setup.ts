// The lab must be up before any test runs (npm test starts it). Fail loudly, never skip.
import { lab } from "./lab";
import { execFileSync } from "child_process";
import * as path from "path";

export default function setup(): void {
    lab();
    try {
        execFileSync("bash", [path.join(__dirname, "..", "lab", "lab.sh"), "status"], { stdio: "pipe" });
    } catch (e) {
        throw new Error(`the lab is not running or a host does not answer (npm run lab:up): ` +
            `${(e as { stdout?: Buffer }).stdout ?? e}`);
    }
}
