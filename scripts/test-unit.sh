#!/usr/bin/env bash
# npm run test:unit: the unit tests alone (our own logic; no lab, no VM), after the build they check.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
lvs_step "build"
npm run --silent build || lvs_fail "the TypeScript build failed (see above)"
lvs_step "unit tests"
npx vitest run --project unit "$@"
