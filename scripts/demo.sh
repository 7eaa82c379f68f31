#!/usr/bin/env bash
# npm run demo: sets everything up, boots the lab and runs `pulumi up` of the root project (the staging
# cluster of examples/staging: director1 and its backup director2 with a NAT and a direct-routing
# service, and a web server on each real server), prints both directors' tables and sync daemons, then
# sends requests from the client host through each service and counts which real server answered each.
# It fails if a request fails or a real server answers none. Run again, it converges (and changes
# nothing). The stack's state lives with the running lab (a new boot starts it afresh).
# `npm run demo -- down` destroys the stack (npm test does, before its tests: they need the lab clean).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
run=$PULUMI_LVS_CACHE/lab/run
export PULUMI_BACKEND_URL="file://$run/demo-state?metadata=skip" PULUMI_CONFIG_PASSPHRASE=pulumi-lvs-demo
on() { bash lab/lab.sh ssh "$@"; }

if [ "${1:-}" = down ]; then
  # Nothing to do without a stack, or without the lab it describes.
  if [ -f Pulumi.demo.yaml ] && bash lab/lab.sh status >/dev/null 2>&1 \
    && pulumi stack select demo --non-interactive 2>/dev/null; then
    lvs_step "pulumi destroy (the demo's stack)"
    pulumi destroy --yes --non-interactive --skip-preview
  fi
  exit 0
fi

lvs_step "build"; npm run --silent build || lvs_fail "the TypeScript build failed (see above)"
lvs_step "lab"; bash lab/lab.sh up || lvs_fail "the lab did not start (see above)"
mkdir -p "$run/demo-state"
pulumi stack select demo --create --non-interactive >/dev/null
node -e 'const l = require(process.argv[1]); console.log(JSON.stringify(Object.fromEntries(Object.entries(l.hosts)
  .map(([k, h]) => [k, { host: h.host, port: h.port, hostKey: h.hostKey }]))))' "$run/lab.json" \
  | pulumi config set hosts
# The key as the credentials examples/lab.ts names: in the stack's config only, never in a resource.
pulumi config set --secret --path 'lvs:credentials.lab.privateKey' \
  < "$(node -p "require('$run/lab.json').privateKeyPath")"
lvs_step "pulumi up (the staging cluster, examples/staging)"
pulumi up --yes --non-interactive --skip-preview --refresh --suppress-progress
# director1 takes the VIPs once the VRRP election is over (both directors' keepalived start as backups).
lvs_step "director1 takes the VIPs (VRRP)"
on director1 'for i in $(seq 60); do [ "$(ip -o addr show dev lan0 | grep -cE " 10\.0\.0\.25[12]/32 ")" = 2 ] && exit 0
    sleep 0.5; done; echo "director1 holds no VIPs after 30 s"; exit 1' \
  || lvs_fail "director1 did not take the VIPs (see /var/lib/pulumi-lvs/keepalived.log on each director)"
# Each real server is out (weight 0) until its first health check passes, a few seconds after its web
# server starts.
lvs_step "the health checks bring the real servers in"
for h in director1 director2; do
  on "$h" 'for i in $(seq 120); do
      ipvsadm -Sn | grep -Eq -- "-r 10\.[01]\.0\.2[123]:.* -w 0$" || exit 0; sleep 0.5
    done; echo "still at weight 0 after 60 s:"; ipvsadm -Sn | grep -E -- " -w 0$"; exit 1' \
    || lvs_fail "the health checks did not bring every real server in on $h (see above)"
done
for h in director1 director2; do
  lvs_step "ipvsadm -Ln and ipvsadm -L --daemon on $h"
  on "$h" 'ipvsadm -Ln && ipvsadm -L --daemon'
done

out=$(pulumi stack output --json)
get() { node -p "const o = JSON.parse(process.argv[1]); $1" "$out"; }
# A real server that answered ARP for the DR VIP before its arp sysctls were set may still be in the
# client's neighbour cache (and then gets every request): start from a clean one.
on client "for v in $(get 'o.vips.join(" ")'); do ip neigh flush to \$v; done"
failed=0
for service in web site; do
  url=$(get "o.urls.$service")
  lvs_step "20 requests from the client to $url ($service), counted by the real server that answered"
  on client "node $PWD/test/lab/fetch.js $url 20" \
    | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const r = JSON.parse(s), answered = Object.keys(r.counts).length, want = Number(process.argv[1]);
    for (const [k, n] of Object.entries(r.counts)) console.log(`  ${String(n).padStart(3)}  ${k}`);
    if (r.failures.length) console.log(`  ${r.failures.length} failed: ${r.failures[0]}`);
    if (answered < want) console.log(`  only ${answered} of the ${want} real servers answered`);
    process.exitCode = r.failures.length || answered < want ? 1 : 0; })' "$(get "o.realServers.$service.length")" \
    || failed=1
done
[ "$failed" = 0 ] || lvs_fail "some requests failed, or a real server answered none (see above)"
