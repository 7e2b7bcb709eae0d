#!/usr/bin/env bash
# Runs the project's checks the way CI does, on a Debian 12 machine with Go:
#   1. scripts/deps.sh: installs what is missing (kcat; zincsearch and versitygw built into
#      $HOME/.cache/penstock/bin);
#   2. go mod tidy -diff: go.mod and go.sum are tidy (direct requirements not marked indirect);
#   3. go vet ./...
#   4. go test -race -timeout 30m ./...   (integration tests start real servers through
#      internal/testservice; with CI=true a missing server fails instead of skipping).
# Extra arguments are passed to go test; PKGS (default ./...) picks the packages, e.g.
#   PKGS=./internal/testservice/... scripts/test.sh -run TestPostgres -v
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=${PKGS:-./...}

step() { printf '\n==> %s\n' "$*"; }
elapsed() { printf '    (%ss)\n' "$((SECONDS - $1))"; }

command -v go >/dev/null 2>&1 || { echo "test.sh: go not found in PATH" >&2; exit 1; }

t=$SECONDS; step "dependencies (scripts/deps.sh)"
scripts/deps.sh
elapsed "$t"

t=$SECONDS; step "go mod tidy -diff"
if ! go mod tidy -diff; then
	echo "test.sh: go.mod or go.sum is not tidy; run go mod tidy and commit the result" >&2
	exit 1
fi
elapsed "$t"

t=$SECONDS; step "go vet $PKGS"
# shellcheck disable=SC2086 # PKGS may hold several patterns
go vet $PKGS
elapsed "$t"

t=$SECONDS; step "go test -race -timeout 30m ${*:+$* }$PKGS"
# shellcheck disable=SC2086
go test -race -timeout 30m "$@" $PKGS
elapsed "$t"

step "all checks passed"
