#!/usr/bin/env bash
# Gatehouse's token exchange beside a well-known OAuth server, in one run: the
# release demo pinned to CPU 0 (like the single-process peer), wrk on CPU 1,
# through ../shared/bench-peer (panva's oidc-provider, client_credentials, and
# the ES256 signing ceilings). Prints the harness's table.
#
#   scripts/exchange-bench.sh              # success path (an approved connection)
#   scripts/exchange-bench.sh refused      # refusal path (no connection: a pending request)
#   DATABASE_URL=postgres://… scripts/exchange-bench.sh   # the IdP on PostgreSQL
#
# Any bench-peer variable passes through (DURATION, CONNS, SIGN=0, PEER=0, …).
# Unless FLOOR=0, the harness then measures two floors the same way, each on
# CPU 0 with its tokens verified: tests/examples/http_floor on the IdP's own
# listener stack answering with an ES256 JWT signed afresh per request and
# nothing else ("floor-sign"), and with one token signed at start
# ("floor-http"). What the exchange costs above floor-sign is Gatehouse's own
# work; floor-sign's share of the signing ceiling bounds what any server on
# this stack reaches. A summary of the ratios follows.
# Then, unless OPEN_LOOP=0, the p99 at half of the c=16 peak: tests/examples/
# open_loop sends at a fixed rate from CPU 1 and times each request from when
# it was due (wrk's closed loop hides a stalled server's tail). Unless FLOOR=0,
# floor-sign takes the same open loop after it: the tail this machine gives the
# bare listener stack and one signature at that rate, beside Gatehouse's, with
# how busy each server's core was.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_tools
peer="${BENCH_PEER:-$(cd .. && pwd)/shared/bench-peer}"
[ -x "$peer/run.sh" ] || { echo "no bench-peer harness at $peer (set BENCH_PEER)"; exit 1; }
mode="${1:-success}"
port="${PORT:-18080}"
cargo build -q --release -p gatehouse-demo -p gatehouse-tests --bin gatehouse-demo --example exchange_form --example open_loop --example http_floor
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
trap 'kill "$demo_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
db=()
[ -n "${DATABASE_URL:-}" ] && db=(--database-url "$DATABASE_URL")
RUST_LOG=warn taskset -c "${TARGET_CPUS:-0}" "$bin/gatehouse-demo" --listen "127.0.0.1:$port" \
  --data "$work" "${db[@]}" > "$work/demo.json" 2> "$work/demo.log" &
demo_pid=$!
for _ in $(seq 1 600); do [ -s "$work/demo.json" ] && break; sleep 0.1; done
[ -s "$work/demo.json" ] || { cat "$work/demo.log"; echo "the demo never printed its line"; exit 1; }
args=("$work/demo.json")
[ "$mode" = refused ] && args+=(refused)
form="$("$bin/examples/exchange_form" "${args[@]}")"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$form" "$1"; }
export TARGET_NAME="gatehouse-exchange-$mode" TARGET_URL="http://127.0.0.1:$port/token" \
  TARGET_CLIENT_ID="$(field client_id)" TARGET_CLIENT_SECRET="$(field client_secret)" \
  SUBJECT_TOKEN="$(field subject_token)" TARGET_FORM_BODY="$(field form_body)" \
  PEER_MODES="${PEER_MODES:-single}"
if [ "$mode" = refused ]; then
  # A refusal has no token to verify.
  export TARGET_JWKS_URL="" TARGET_EXPECT_ALG="${TARGET_EXPECT_ALG:-none}" EXPECT_STATUS=400
fi
# The harness builds its own signing bench into its own folder, not ours.
env -u CARGO_TARGET_DIR "$peer/run.sh" | tee "$work/harness.log"
if [ "${FLOOR:-1}" != 0 ]; then
  for floor in sign http; do
    fport=$((port + 1))
    env -u CARGO_TARGET_DIR PEER=0 SIGN=0 TARGET_NAME="floor-$floor" \
      TARGET_URL="http://127.0.0.1:$fport/token" TARGET_CPUS="${TARGET_CPUS:-0}" \
      TARGET_START="$bin/examples/http_floor 127.0.0.1:$fport $floor" \
      TARGET_JWKS_URL=auto TARGET_EXPECT_ALG=ES256 \
      "$peer/run.sh" | tee -a "$work/floors.log"
  done
  # One summary: throughput per row, and each ratio that the issue asks for.
  python3 - "$work/harness.log" "$work/floors.log" "$TARGET_NAME" <<'PY'
import sys
rows, ceiling = {}, None
for path in sys.argv[1:3]:
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) >= 4 and cells[1] == 'wrk' and cells[2].isdigit():
            rows[(cells[0], int(cells[2]))] = float(cells[3])
        if len(cells) >= 3 and cells[0] == 'awslc-raw' and cells[1] == '1':
            ceiling = float(cells[2])
target = sys.argv[3]
ratio = lambda a, b: f"{a / b:.2f}" if a and b else "-"
num = lambda v: f"{v:,.0f}" if v else "-"
print(f"\n## Summary ({target})\n")
print("| conc | Gatehouse req/s | ÷ oidc-provider | ÷ floor-sign | ÷ signing ceiling | floor-sign ÷ ceiling | floor-http req/s |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for c in sorted({c for (_, c) in rows}):
    g = rows.get((target, c)); p = rows.get(('oidc-provider-single', c))
    fs = rows.get(('floor-sign', c)); fh = rows.get(('floor-http', c))
    print(f"| {c} | {num(g)} | {ratio(g, p)} | {ratio(g, fs)} | {ratio(g, ceiling)} | {ratio(fs, ceiling)} | {num(fh)} |")
print(f"\nsigning ceiling (aws-lc-rs ES256, one core, same run): {num(ceiling)}/s")
PY
fi
[ "${OPEN_LOOP:-1}" = 0 ] && exit 0
peak="$(awk -F'|' -v t="$TARGET_NAME" '$2 ~ t && $4+0 == 16 { gsub(/ /, "", $5); print $5 }' "$work/harness.log" | head -1)"
[ -n "$peak" ] || { echo "no c=16 row for $TARGET_NAME in the harness's table"; exit 1; }
rate="$(python3 -c "print(round($peak / 2))")"
tok="$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$SUBJECT_TOKEN")"
export FORM_BODY="${TARGET_FORM_BODY//__SUBJECT_TOKEN__/$tok}"
export AUTH_HEADER="Basic $(printf '%s:%s' "$TARGET_CLIENT_ID" "$TARGET_CLIENT_SECRET" | base64 -w0)"
secs="${DURATION:-15}"
# One open-loop run against the server `pid` at URL: its OPEN line, plus how
# busy the server's core was meanwhile (CPU time ÷ wall time, from /proc).
open_loop() {
  local pid="$1" url="$2" before after line
  taskset -c 1 "$bin/examples/open_loop" "$url" "$rate" 3 > /dev/null
  before="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
  line="$(taskset -c 1 "$bin/examples/open_loop" "$url" "$rate" "$secs")"
  after="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
  echo "$line server_cpu=$(( (after - before) * 100 / $(getconf CLK_TCK) / secs ))%"
}
echo "[exchange-bench] open loop at half of the c=16 peak ($peak req/s): $rate req/s, 3 s warm-up then $secs s"
gatehouse="$(open_loop "$demo_pid" "$TARGET_URL")"
echo "$gatehouse"
[ "${FLOOR:-1}" = 0 ] && exit 0
# The same rate against floor-sign (listener stack + one signature, nothing
# else): the tail this machine gives any server on this stack at that rate.
fport=$((port + 1))
taskset -c "${TARGET_CPUS:-0}" "$bin/examples/http_floor" "127.0.0.1:$fport" sign > /dev/null 2>&1 &
floor_pid=$!
trap 'kill "$demo_pid" "$floor_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$fport/jwks" && break; sleep 0.1; done
floor="$(unset AUTH_HEADER; export FORM_BODY=grant_type=x; open_loop "$floor_pid" "http://127.0.0.1:$fport/token")"
echo "$floor (floor-sign)"
python3 - "$gatehouse" "$floor" <<'PY'
import sys
g, f = ({k: v for k, v in (w.split('=', 1) for w in line.split()[1:] if '=' in w)} for line in sys.argv[1:3])
print(f"\n| open loop at {g['rate']} req/s | p50 ms | p99 ms | p99.9 ms | server core busy |")
print("|---|---:|---:|---:|---:|")
for name, r in (("Gatehouse", g), ("floor-sign", f)):
    print(f"| {name} | {r['p50_ms']} | {r['p99_ms']} | {r['p999_ms']} | {r['server_cpu']} |")
print(f"\nGatehouse p99 ÷ floor-sign p99 at the same rate: {float(g['p99_ms']) / float(f['p99_ms']):.2f}")
PY
