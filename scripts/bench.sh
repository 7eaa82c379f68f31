#!/usr/bin/env bash
# npm run bench -- NAME: builds, boots the lab, runs bench/NAME.ts. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: npm run bench -- NAME (one of: $(ls bench | sed 's/\.ts$//' | tr '\n' ' '))}
[ -f "bench/$name.ts" ] || { echo "no benchmark bench/$name.ts" >&2; exit 1; }
source scripts/env.sh
npm run --silent build || lvs_fail "the TypeScript build failed (see above)"
bash lab/lab.sh up || lvs_fail "the lab did not start (see above)"
node "lib/bench/$name.js"
