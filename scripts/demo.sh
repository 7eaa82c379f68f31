#!/usr/bin/env bash
# npm run demo: sets everything up, boots the lab, and runs `pulumi up` of the smallest program against
# director1 (state in a local backend under the cache, so a second demo is a no-op), then shows the table.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
lvs_step "build"; npm run --silent build || lvs_fail "the TypeScript build failed (see above)"
lvs_step "lab"; bash lab/lab.sh up || lvs_fail "the lab did not start (see above)"
export PULUMI_BACKEND_URL="file://$PULUMI_LVS_CACHE/demo-state" PULUMI_CONFIG_PASSPHRASE=pulumi-lvs-demo
mkdir -p "$PULUMI_LVS_CACHE/demo-state"
cd test/smoke
pulumi stack select demo --create --non-interactive >/dev/null
labjson=$PULUMI_LVS_CACHE/lab/run/lab.json
get() { node -p "const l=require('$labjson'); $1"; }
pulumi config set host "$(get 'l.hosts.director1.host')"
pulumi config set port "$(get 'l.hosts.director1.port')"
pulumi config set hostKey "$(get 'l.hosts.director1.hostKey')"
pulumi config set service 10.0.0.240:80
pulumi config set --secret privateKey < "$(get 'l.privateKeyPath')"
lvs_step "pulumi up"
pulumi up --yes --non-interactive
lvs_step "ipvsadm -Ln on director1"
bash ../../lab/lab.sh ssh director1 'ipvsadm -Ln'
