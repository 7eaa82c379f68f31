#!/usr/bin/env bash
# npm run demo: sets everything up, boots the lab, runs `pulumi up` of examples/nat against director1,
# shows the table it made, then sends requests from the client host through it and counts which real
# server answered each. The stack's state lives with the running lab (a new boot starts it afresh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
lvs_step "build"; npm run --silent build || lvs_fail "the TypeScript build failed (see above)"
lvs_step "lab"; bash lab/lab.sh up || lvs_fail "the lab did not start (see above)"
run=$PULUMI_LVS_CACHE/lab/run
export PULUMI_BACKEND_URL="file://$run/demo-state" PULUMI_CONFIG_PASSPHRASE=pulumi-lvs-demo
mkdir -p "$run/demo-state"
cd examples/nat
pulumi stack select demo --create --non-interactive >/dev/null
node -e 'const l = require(process.argv[1]); console.log(JSON.stringify(Object.fromEntries(Object.entries(l.hosts)
  .map(([k, h]) => [k, { host: h.host, port: h.port, hostKey: h.hostKey }]))))' "$run/lab.json" | pulumi config set hosts
pulumi config set --secret privateKey < "$(node -p "require('$run/lab.json').privateKeyPath")"
lvs_step "pulumi up (examples/nat)"
pulumi up --yes --non-interactive --skip-preview --refresh
lvs_step "ipvsadm -Ln on director1"
bash ../../lab/lab.sh ssh director1 'ipvsadm -Ln'
lvs_step "20 requests from the client to 10.0.0.240:80, counted by the real server that answered"
web=$(cd ../../test/lab && pwd)/web.js
start() { bash ../../lab/lab.sh ssh "$1" "setsid node $web $* >/dev/null 2>&1 < /dev/null & echo \$! > /tmp/demo-web-$1.pid"; }
stop() { for h in rs1 rs2 rs3; do bash ../../lab/lab.sh ssh "$h" "kill \$(cat /tmp/demo-web-$h.pid) 2>/dev/null; rm -f /tmp/demo-web-$h.pid" || true; done; }
trap stop EXIT
start rs1 10.1.0.21:80 10.1.0.21:8080; start rs2 10.1.0.22:80 10.1.0.22:8080; start rs3 10.1.0.23:80; sleep 1.5
bash ../../lab/lab.sh ssh client "node $(cd ../../test/lab && pwd)/fetch.js http://10.0.0.240/ 20" |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => { const r = JSON.parse(s);
    for (const [k, n] of Object.entries(r.counts)) console.log(`  ${String(n).padStart(3)}  ${k}`);
    if (r.failures.length) { console.log(`  ${r.failures.length} failed: ${r.failures[0]}`); process.exitCode = 1; } })'
