#!/usr/bin/env bash
# Installs what the test suite needs on a Debian 12 machine (run as root, or with sudo available):
#   - kcat (apt), and PostgreSQL 15 / MariaDB server if they are missing (apt);
#   - zincsearch (Elasticsearch-API server) and versitygw (S3-API server), built from the Go module
#     proxy by the shared scripts into $HOME/.cache/penstock/bin (idempotent; first build takes minutes).
# apt-get update runs only when something has to be installed.
#
# The shared scripts are looked up in $PENSTOCK_SHARED_SCRIPTS, else <repo root>/../shared/scripts.
set -euo pipefail

log() { printf '==> %s\n' "$*"; }
die() { printf 'deps.sh: %s\n' "$*" >&2; exit 1; }

REPO_ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/.." && pwd))
SHARED_SCRIPTS=${PENSTOCK_SHARED_SCRIPTS:-"$REPO_ROOT/../shared/scripts"}
BIN_DIR="$HOME/.cache/penstock/bin"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install system packages"
	SUDO=(sudo)
fi

have_pg() {
	command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1 && return 0
	compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}
have_mariadb() {
	command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]
}

# --- system packages -------------------------------------------------------------------------------
missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
have_pg || missing+=(postgresql-15)
have_mariadb || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
	log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update -qq
	"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
	log "system packages present (kcat, postgres, mariadbd)"
fi

# --- servers built from Go sources -----------------------------------------------------------------
build() { # name script args...
	local name=$1 script=$2; shift 2
	if [ -x "$BIN_DIR/$name" ]; then
		log "$name present: $BIN_DIR/$name"
		return
	fi
	[ -f "$SHARED_SCRIPTS/$script" ] ||
		die "cannot build $name: $SHARED_SCRIPTS/$script not found (the shared scripts are expected in ../shared/scripts next to the repository; set PENSTOCK_SHARED_SCRIPTS to their directory)"
	command -v go >/dev/null 2>&1 || die "cannot build $name: go not found in PATH"
	log "building $name (first time takes a few minutes)"
	local start=$SECONDS out
	out=$(mktemp)
	if ! bash "$SHARED_SCRIPTS/$script" "$@" >"$out" 2>&1; then
		grep -v '^go: downloading' "$out" | tail -n 40 >&2
		rm -f "$out"
		die "$script failed"
	fi
	rm -f "$out"
	[ -x "$BIN_DIR/$name" ] || die "$script did not produce $BIN_DIR/$name"
	log "$name built in $((SECONDS - start))s: $BIN_DIR/$name"
}
build versitygw install-versitygw.sh "$BIN_DIR"
build zincsearch install-zincsearch.sh "$BIN_DIR/zincsearch"

# --- object storage sink tests (connectors/blob) ---------------------------------------------------
# fake-gcs-server (GCS API, Go module proxy), Azurite (Azure Blob API, npm) and DuckDB for Node.js
# (npm @duckdb/node-api, the outside reader the tests check Parquet and JSON objects with).
build fake-gcs-server install-fake-gcs-server.sh "$BIN_DIR"
AZURITE_DIR="$HOME/.cache/penstock/azurite"
if [ -x "$AZURITE_DIR/node_modules/.bin/azurite-blob" ]; then
	log "azurite present: $AZURITE_DIR"
else
	command -v npm >/dev/null 2>&1 || die "cannot install azurite: npm not found in PATH"
	log "installing azurite"
	bash "$SHARED_SCRIPTS/install-azurite.sh" "$AZURITE_DIR" >/dev/null || die "install-azurite.sh failed"
fi
DUCKDB_NODE_VERSION=1.5.6-r.1
DUCKDB_DIR="$HOME/.cache/penstock/duckdb"
if [ -f "$DUCKDB_DIR/node_modules/@duckdb/node-api/package.json" ] &&
	grep -q "\"version\": \"$DUCKDB_NODE_VERSION\"" "$DUCKDB_DIR/node_modules/@duckdb/node-api/package.json"; then
	log "duckdb node-api present: $DUCKDB_DIR"
else
	command -v npm >/dev/null 2>&1 || die "cannot install @duckdb/node-api: npm not found in PATH"
	log "installing @duckdb/node-api@$DUCKDB_NODE_VERSION"
	mkdir -p "$DUCKDB_DIR"
	(cd "$DUCKDB_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } &&
		npm install --no-audit --no-fund "@duckdb/node-api@$DUCKDB_NODE_VERSION" >/dev/null) || die "npm install @duckdb/node-api failed"
fi

# --- schema registry conformance: Debian's Python Schema Registry client and Avro reader ---------
# The tests run /usr/bin/python3 (Debian's, not a pyenv or venv python) with these modules.
if ! /usr/bin/python3 -c 'import confluent_kafka.schema_registry, avro' >/dev/null 2>&1; then
	log "apt-get install python3-confluent-kafka python3-avro"
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update -qq
	"${SUDO[@]}" apt-get install -y -qq --no-install-recommends python3-confluent-kafka python3-avro python3-requests
else
	log "python3-confluent-kafka and python3-avro present"
fi

# --- web console browser test (worker/console) -----------------------------------------------------
# Debian's chromium, driven headless by chromedp in TestConsoleInBrowser.
if command -v chromium >/dev/null 2>&1; then
	log "chromium present: $(command -v chromium)"
else
	log "apt-get install chromium"
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update -qq
	"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
fi
