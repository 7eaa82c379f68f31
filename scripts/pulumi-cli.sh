#!/usr/bin/env bash
# Builds the Pulumi CLI and its Node.js language host from the Go module proxy, at the version of
# @pulumi/pulumi that package.json pins, into a cache keyed by that version. Prints the bin folder.
#
# The CLI (pkg/v3) is built at exactly that version. The Node.js language host lives in a module of
# its own that the Go module proxy reachable here does not serve; the last release that shipped it
# inside sdk/v3 (v3.68.0) is built instead. Its gRPC contract with the engine is stable; see README.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$here/package.json').dependencies['@pulumi/pulumi'].replace(/^[^0-9]*/, '')")
hostVersion=3.68.0
cache=${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}
out=$cache/pulumi-cli/v$version-host$hostVersion
shim=$here/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs
fail() { echo "pulumi-cli: $*" >&2; exit 1; }
# The dynamic-provider plugin is the shim @pulumi/pulumi ships: it sits beside the CLI as a bundled plugin.
install_shim() { [ -f "$shim" ] || fail "$shim is missing (npm install first)"; install -m 755 "$shim" "$out/bin/"; }
if [ -x "$out/bin/pulumi" ] && [ -x "$out/bin/pulumi-language-nodejs" ]; then install_shim; echo "$out/bin"; exit 0; fi
command -v go >/dev/null || fail "Go is needed to build the Pulumi CLI and was not found on PATH"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version"
start=$SECONDS

mkdir -p "$work/cli" "$work/host" "$work/bin"
cd "$work/cli"
echo "pulumi-cli: building pulumi v$version with $(go version) (a cold build takes tens of minutes)" >&2
msg=$(go mod init pulumi-lvs-cli-build 2>&1) || fail "go mod init failed in $work/cli: $msg"
# pkg/v3 replaces sdk/v3 with a local path (dropped: we require the same version) and clipboard with a fork.
go mod edit -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e \
  || fail "go mod edit failed"
go get "github.com/pulumi/pulumi/pkg/v3@v$version" "github.com/pulumi/pulumi/sdk/v3@v$version" >&2 \
  || fail "go could not fetch github.com/pulumi/pulumi/pkg/v3@v$version from the Go module proxy (see above)"
go build -trimpath -ldflags "$ldflags" -o "$work/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2 \
  || fail "go build of pulumi v$version failed (see above)"

cd "$work/host"
echo "pulumi-cli: building its Node.js language host (sdk/v3 v$hostVersion)" >&2
msg=$(go mod init pulumi-lvs-host-build 2>&1) || fail "go mod init failed in $work/host: $msg"
go mod edit -replace golang.org/x/text=golang.org/x/text@v0.3.6 || fail "go mod edit failed"
go get "github.com/pulumi/pulumi/sdk/v3@v$hostVersion" >&2 \
  || fail "go could not fetch github.com/pulumi/pulumi/sdk/v3@v$hostVersion from the Go module proxy (see above)"
go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$hostVersion" \
  -o "$work/bin/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs >&2 \
  || fail "go build of the Node.js language host v$hostVersion failed (see above)"

mkdir -p "$out"; rm -rf "$out/bin"; mv "$work/bin" "$out/bin"; install_shim
echo "pulumi-cli: built in $((SECONDS - start)) s into $out/bin" >&2
echo "$out/bin"
