#!/usr/bin/env bash
# Runs the Gatehouse demo stack: IdP + resource authorization servers + MCP servers
# with a seeded world, on loopback. Prints one JSON line with URLs and credentials.
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_tools
cargo build -q -p gatehouse-demo -p gatehouse-agent
echo "==> starting the demo stack (Ctrl-C to stop); agent: $CARGO_TARGET_DIR/debug/gatehouse-agent --help" >&2
exec "$CARGO_TARGET_DIR/debug/gatehouse-demo" "$@"
