# Sourced by the npm scripts: puts Node >= 22 and the Pulumi CLI (built on demand, cached by version)
# on PATH, installs the packages, and makes every Pulumi command run offline against a local backend.
# Each step says what failed and why, then stops.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PULUMI_LVS_CACHE=${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}
lvs_fail() { echo "pulumi-lvs: $*" >&2; exit 1; }
lvs_step() { echo "== $* ($((SECONDS - lvs_t0)) s)" >&2; }
lvs_t0=${lvs_t0:-$SECONDS}
lvs_step "Node.js"
node_bin=$(bash "$root/scripts/node.sh") || lvs_fail "no Node.js >= 22 could be set up (see above)"
PATH="$node_bin:$PATH"
if [ ! -d "$root/node_modules/@pulumi/pulumi" ] \
  || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  # npm install, not npm ci: npm 11 writes lock files without other platforms' optional packages and
  # then refuses them in ci. install takes the locked versions all the same.
  lvs_step "npm install"
  (cd "$root" && npm install --no-audit --no-fund) >&2 || lvs_fail "npm install failed (see above)"
fi
# Programs in this checkout (examples/, test/) import the package by its name, as users do.
ln -sfn .. "$root/node_modules/pulumi-lvs"
lvs_step "Pulumi CLI"
pulumi_bin=$(bash "$root/scripts/pulumi-cli.sh") || lvs_fail "the Pulumi CLI could not be built with Go (see above)"
PATH="$pulumi_bin:$root/node_modules/.bin:$PATH"
export PATH
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_HOME=${PULUMI_HOME:-$PULUMI_LVS_CACHE/pulumi-home}
