#!/usr/bin/env bash
# Two builds of the demo, side by side, at one fixed rate: the way a change to
# the exchange's tail is measured here. Runs alternate (A, B, A, B, …) so a
# machine that grows busier mid-way hurts both alike; each run starts its demo
# on a fresh database (a new SQLite folder, or a new PostgreSQL database when
# DATABASE_URL names a server), pins it to CPU 0, sends the open loop from
# CPU 1 (3 s warm-up, then SECS), and prints one row: the latencies, how busy
# the demo's core was, and how much CPU PostgreSQL's processes took meanwhile.
#
#   scripts/open-loop-ab.sh OLD_DEMO_BINARY NEW_DEMO_BINARY [RATE] [ROUNDS]
#   DATABASE_URL=postgres://user@127.0.0.1:25432/postgres scripts/open-loop-ab.sh old new 1634 3
#
# Build each side with `cargo build --release -p gatehouse-demo` and copy
# target/release/gatehouse-demo away between checkouts.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_tools
[ $# -ge 2 ] || { sed -n 2,14p "$0"; exit 2; }
a="$(realpath "$1")" b="$(realpath "$2")" rate="${3:-1000}" rounds="${4:-3}" secs="${SECS:-10}"
for bin in "$a" "$b"; do [ -x "$bin" ] || { echo "not an executable: $bin"; exit 2; }; done
cargo build -q --release -p gatehouse-tests --example exchange_form --example open_loop
tools="$CARGO_TARGET_DIR/release/examples"
port="${PORT:-18090}"
tck="$(getconf CLK_TCK)"
server="${DATABASE_URL:-}"
# CPU ticks of every PostgreSQL process (0 without one).
pg_ticks() {
  local t=0 p
  for p in $(pgrep -u postgres 2>/dev/null || true); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
one_run() {
  local label="$1" bin="$2" work demo_pid form tok body before after pg0 pg1 line
  local -a db=()
  work="$(mktemp -d)"
  if [ -n "$server" ]; then
    local name="gh_ab_$$"
    PGOPTIONS="--client-min-messages=warning" psql -q "$server" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
    db=(--database-url "${server%/*}/$name")
  fi
  RUST_LOG=warn taskset -c 0 "$bin" --listen "127.0.0.1:$port" --data "$work" "${db[@]}" \
    > "$work/demo.json" 2> "$work/demo.log" &
  demo_pid=$!
  for _ in $(seq 1 600); do [ -s "$work/demo.json" ] && break; sleep 0.1; done
  [ -s "$work/demo.json" ] || { cat "$work/demo.log"; echo "the demo never printed its line"; exit 1; }
  form="$("$tools/exchange_form" "$work/demo.json")"
  field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$form" "$1"; }
  tok="$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$(field subject_token)")"
  body="$(field form_body)"
  export FORM_BODY="${body//__SUBJECT_TOKEN__/$tok}"
  export AUTH_HEADER="Basic $(printf '%s:%s' "$(field client_id)" "$(field client_secret)" | base64 -w0)"
  taskset -c 1 "$tools/open_loop" "http://127.0.0.1:$port/token" "$rate" 3 > /dev/null
  before="$(awk '{print $14 + $15}' "/proc/$demo_pid/stat")"
  pg0="$(pg_ticks)"
  line="$(taskset -c 1 "$tools/open_loop" "http://127.0.0.1:$port/token" "$rate" "$secs")"
  after="$(awk '{print $14 + $15}' "/proc/$demo_pid/stat")"
  pg1="$(pg_ticks)"
  kill "$demo_pid" 2>/dev/null || true
  wait "$demo_pid" 2>/dev/null || true
  rm -rf "$work"
  if [ -n "$server" ]; then
    PGOPTIONS="--client-min-messages=warning" psql -q "$server" -c "DROP DATABASE IF EXISTS gh_ab_$$"
  fi
  python3 - "$label" "$line" "$(( (after - before) * 100 / tck / secs ))" "$(( (pg1 - pg0) * 100 / tck / secs ))" <<'PY'
import sys
label, line, demo, pg = sys.argv[1:5]
r = {k: v for k, v in (w.split('=', 1) for w in line.split()[1:] if '=' in w)}
print(f"| {label} | {r['ok']} | {r['failed']} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['p999_ms']} | {demo} % | {pg} % |")
PY
}
backend=SQLite
[ -n "$server" ] && backend=PostgreSQL
echo "open loop at $rate req/s, $secs s per run, $rounds rounds, on $backend; A = $a, B = $b"
echo
echo "| run | ok | failed | p50 ms | p90 ms | p99 ms | p99.9 ms | demo core | PostgreSQL (100 % = a core) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for round in $(seq 1 "$rounds"); do
  one_run "A $round" "$a"
  one_run "B $round" "$b"
done
