#!/usr/bin/env bash
# Opens the Gatehouse console in demo mode: the IdP, resource authorization servers
# and MCP servers start in-process with a seeded world and the demo approver is
# signed in. `./scripts/demo.sh --stack` runs only the headless demo stack (one
# JSON line with URLs and credentials on stdout).
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_tools
if [ "${1:-}" = "--stack" ]; then
  shift
  cargo build -q -p gatehouse-demo -p gatehouse-agent
  echo "==> starting the demo stack (Ctrl-C to stop); agent: $CARGO_TARGET_DIR/debug/gatehouse-agent --help" >&2
  exec "$CARGO_TARGET_DIR/debug/gatehouse-demo" "$@"
fi
build_ui
cargo build -q -p gatehouse-app
echo "==> opening the Gatehouse console in demo mode" >&2
# With 90 days of history (GATEHOUSE_DEMO_HISTORY=0: the small world alone).
GATEHOUSE_DEMO=1 GATEHOUSE_DEMO_HISTORY="${GATEHOUSE_DEMO_HISTORY:-1}" exec "$CARGO_TARGET_DIR/debug/gatehouse" "$@"
