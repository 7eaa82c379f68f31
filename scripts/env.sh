# Sourced by the npm scripts: puts Node >= 22 and the Pulumi CLI (built on demand, cached by version)
# on PATH and makes every Pulumi command run offline against a local file backend.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PULUMI_LVS_CACHE=${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}
PATH="$(bash "$root/scripts/node.sh"):$PATH"
if [ ! -d "$root/node_modules/@pulumi/pulumi" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  (cd "$root" && npm ci --no-audit --no-fund) >&2
fi
PATH="$(bash "$root/scripts/pulumi-cli.sh"):$root/node_modules/@pulumi/pulumi:$root/node_modules/.bin:$PATH"
export PATH
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_HOME=${PULUMI_HOME:-$PULUMI_LVS_CACHE/pulumi-home}
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE-pulumi-lvs-lab}
