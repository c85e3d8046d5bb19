#!/usr/bin/env bash
# WebDriver end-to-end tests of the real console: builds the app, installs
# tauri-driver if missing, then runs tests/webdriver under Xvfb in a private
# D-Bus session with an unlocked gnome-keyring. Screenshots go to
# $SCREENSHOT_DIR (default $CARGO_TARGET_DIR/screenshots).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
command -v tauri-driver >/dev/null || cargo install --locked tauri-driver --version '^2'
cargo build -q -p gatehouse-app
cargo test -q -p gatehouse-webdriver-tests --no-run
out="${SCREENSHOT_DIR:-$CARGO_TARGET_DIR/screenshots}"
mkdir -p "$out"
export GATEHOUSE_APP="$CARGO_TARGET_DIR/debug/gatehouse" SCREENSHOT_DIR="$(cd "$out" && pwd)"
exec xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  set -euo pipefail
  export XDG_DATA_HOME="$(mktemp -d)" XDG_CONFIG_HOME="$(mktemp -d)"
  echo -n "gatehouse-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  for _ in $(seq 1 100); do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true" && break
    sleep 0.1
  done
  export GATEHOUSE_DEMO=1 GATEHOUSE_DEMO_FLEET_MS=0 GATEHOUSE_DEMO_INFO="$(mktemp -d)/demo.json"
  cargo test -q -p gatehouse-webdriver-tests -- --ignored --test-threads=1
'
