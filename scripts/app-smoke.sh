#!/usr/bin/env bash
# Starts the real console under Xvfb in demo mode (with an unlocked gnome-keyring
# in a private D-Bus session), waits for its window and for the demo approver's
# sign-in, for the UI to have fetched a non-empty queue through IPC, for the
# live change stream to be connected and the tray to show the pending count, then takes a screenshot to target/screenshots/pending.png.
# Fails if the window or the sign-in does not come within 90 s.
cd "$(dirname "$0")/.."
. scripts/lib.sh
cargo build -q -p gatehouse-app
out="${SCREENSHOT_DIR:-$CARGO_TARGET_DIR/screenshots}"
mkdir -p "$out"
export APP="$CARGO_TARGET_DIR/debug/gatehouse" OUT="$out"
exec xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- scripts/with-keyring.sh bash -c '
  set -uo pipefail
  export XDG_CONFIG_HOME="$(mktemp -d)"
  log="$OUT/app.log"
  GATEHOUSE_DEMO=1 "$APP" >"$log" 2>&1 &
  pid=$!
  ok=""
  for _ in $(seq 1 180); do
    if xwininfo -root -tree 2>/dev/null | grep -q "\"Gatehouse\"" && grep -q "demo mode: signed in" "$log" \
        && grep -Eq "pending queue served shown=[1-9]" "$log" \
        && grep -Eq "tray count updated pending=[1-9]" "$log" \
        && grep -q "IdP status reachable=true" "$log"; then ok=1; break; fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.5
  done
  if [ -z "$ok" ]; then echo "the console did not come up:"; tail -30 "$log"; kill $pid 2>/dev/null; exit 1; fi
  sleep 3
  import -window root "$OUT/pending.png"
  kill $pid; wait $pid 2>/dev/null
  echo "screenshot: $OUT/pending.png"
'
