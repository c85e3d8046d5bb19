#!/usr/bin/env bash
# Two IdP nodes on one PostgreSQL, on loopback, with the demo's seeded world:
#   node 1: the demo stack (IdP, resource authorization servers, MCP servers) on
#           the PostgreSQL database; its address is the issuer every node shares
#   node 2: `gatehouse-idp serve` with node 1's config, its own --listen, the
#           same --database-url
# Prints the demo's JSON line, then one line per node; Ctrl-C stops everything
# (PostgreSQL too, with --stop-postgres). Try: revoke on one node, exchange on
# the other; `curl NODE/readyz`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_tools
cargo build -q --workspace --bins   # the same feature set as the test command: no rebuild

server="$(./scripts/postgres.sh start)"
db="gh_cluster_$(date +%s)"
psql -q -h 127.0.0.1 -p "${GATEHOUSE_PG_PORT:-25432}" -U gatehouse -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
url="${server%/postgres}/$db"
work="$(mktemp -d)"
stop_postgres=""
[ "${1:-}" = "--stop-postgres" ] && stop_postgres=1
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
  if [ -n "$stop_postgres" ]; then ./scripts/postgres.sh stop; fi
}
trap cleanup EXIT

"$CARGO_TARGET_DIR/debug/gatehouse-demo" --database-url "$url" --idp-config-out "$work/idp.toml" >"$work/demo.json" &
for _ in $(seq 1 600); do [ -s "$work/demo.json" ] && [ -s "$work/idp.toml" ] && break; sleep 0.1; done
[ -s "$work/demo.json" ] || { echo "cluster.sh: the demo stack did not start" >&2; exit 1; }
cat "$work/demo.json"
port2="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$CARGO_TARGET_DIR/debug/gatehouse-idp" serve --config "$work/idp.toml" --listen "127.0.0.1:$port2" --database-url "$url" &
node1="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["idp"])' "$work/demo.json")"
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port2/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
echo "node 1 (issuer): $node1"
echo "node 2:          http://127.0.0.1:$port2"
echo "database:        $url"
wait
