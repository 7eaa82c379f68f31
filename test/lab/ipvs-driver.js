// Runs in a lab guest (plain node, no TypeScript): reads a JSON list of steps on stdin, runs them in
// order on one IpvsHandle and prints one JSON result per step. A failing step does not stop the list,
// so the clean-up steps at its end always run. Steps:
//   { "call": "addService", "args": [...] }  -> { "ok": true, "value": ... } | { "ok": false, "error": {...} }
//   { "sh": "ipvsadm -Sn" }                  -> { "ok": true, "out": "..." } (the oracle, test code only)
//   { "raw": "<hex>", "dump": false }        -> { "ok": true, "value": ["<hex>", ...] }: a hand-built generic
//                                               netlink payload, to check the kernel's own bytes and rules
"use strict";
const { execSync } = require("child_process");
const { IpvsHandle } = require("../../lib/provider/agent/ipvs");

async function main() {
    let input = "";
    for await (const chunk of process.stdin) input += chunk;
    const steps = JSON.parse(input);
    const h = await IpvsHandle.open();
    const results = [];
    for (const step of steps) {
        if (step.sh !== undefined) {
            try {
                results.push({
                    ok: true, out: execSync(step.sh, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
                });
            } catch (e) {
                results.push({
                    ok: false, out: String(e.stdout ?? ""), error: { message: String(e.stderr || e.message) },
                });
            }
            continue;
        }
        try {
            if (step.raw !== undefined) {
                // the handle's private send: test code only, to probe the kernel beneath the typed API
                const replies = await h.send(Buffer.from(step.raw, "hex"), !!step.dump, "get service", "raw request");
                results.push({ ok: true, value: replies.map(r => r.toString("hex")) });
                continue;
            }
            const value = await h[step.call](...(step.args ?? []));
            results.push({ ok: true, value: value === undefined ? null : value });
        } catch (e) {
            results.push({
                ok: false,
                error: { name: e.name, code: e.code, errno: e.errno, op: e.op, meaning: e.meaning, message: e.message },
            });
        }
    }
    h.close();
    process.stdout.write(JSON.stringify(results));
}

main().catch(e => {
    process.stderr.write(String(e && e.stack || e));
    process.exit(1);
});
