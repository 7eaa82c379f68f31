// Runs in the lab guest under `node`: reads a JSON list of steps on stdin, runs them in order in one process
// and prints a JSON list of results. A step is either {call: "<export of provider/agent/host>", args: [...]}
// (result {value} or {error, code}) or {sh: "<oracle command>"} (result {stdout} or {error}).
// Oracle commands are test code: the product code never runs ip, sysctl or a shell.
"use strict";
const { execSync } = require("child_process");
const host = require("../../lib/provider/agent/host");

async function main() {
    let input = "";
    for await (const chunk of process.stdin) input += chunk;
    const results = [];
    for (const step of JSON.parse(input)) {
        if (step.sh !== undefined) {
            try {
                results.push({ stdout: execSync(step.sh, { encoding: "utf8", shell: "/bin/sh" }) });
            } catch (e) {
                results.push({ error: String(e.stderr || e.message) });
            }
            continue;
        }
        try {
            const value = await host[step.call](...(step.args || []));
            results.push(value === undefined ? {} : { value });
        } catch (e) {
            results.push({ error: e.message, code: e.code });
        }
    }
    process.stdout.write(JSON.stringify(results));
}
main().catch((e) => {
    process.stderr.write(String(e && e.stack || e));
    process.exit(1);
});
