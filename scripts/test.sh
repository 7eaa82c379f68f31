#!/usr/bin/env bash
# npm test: sets up everything it needs (Node 22, packages, the Pulumi CLI, the lab image), boots the
# lab unless it is already up (and then takes it down again at the end), and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
lvs_step "build"
npm run --silent build || lvs_fail "the TypeScript build failed (see above)"
lvs_step "lab"
if ! bash lab/lab.sh status >/dev/null 2>&1; then trap 'bash lab/lab.sh down >&2' EXIT; fi
bash lab/lab.sh up || lvs_fail "the lab did not start (see above); no test can run without it"
# A demo left running (npm run demo) holds node-wide state the tests compare exactly (sync daemons, arp sysctls).
bash scripts/demo.sh down || lvs_fail "the demo's stack could not be destroyed (see above)"
lvs_step "tests"
npx vitest run "$@"
