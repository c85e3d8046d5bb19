#!/usr/bin/env bash
# WebDriver end-to-end tests of the real console: builds the app, installs
# tauri-driver if missing, then runs tests/webdriver under Xvfb in a private
# D-Bus session with an unlocked gnome-keyring, and its no-keychain tests in a
# D-Bus session where no Secret Service can run. Screenshots go to
# $SCREENSHOT_DIR (default $CARGO_TARGET_DIR/screenshots).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
# cargo install puts it in $CARGO_HOME/bin, which need not be on PATH (Debian's cargo).
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v tauri-driver >/dev/null || cargo install --locked tauri-driver --version '^2'
# A real notification server to click (dunst) and a way to resize the window (xdotool).
ensure_debian_packages dunst xdotool
cargo build -q -p gatehouse-app
cargo test -q -p gatehouse-webdriver-tests --no-run
out="${SCREENSHOT_DIR:-$CARGO_TARGET_DIR/screenshots}"
mkdir -p "$out"
export GATEHOUSE_APP="$CARGO_TARGET_DIR/debug/gatehouse" SCREENSHOT_DIR="$(cd "$out" && pwd)"
export GATEHOUSE_DEMO=1 GATEHOUSE_DEMO_FLEET_MS=0 GATEHOUSE_DEMO_INFO="$(mktemp -d)/demo.json"
export XDG_CONFIG_HOME="$(mktemp -d)"
# The update test's signing key, made for this run with the Tauri CLI (npm): the
# debug build takes its public half from the environment; a release build only
# ever trusts the key in tauri.conf.json.
keys="$(mktemp -d)"
ui/node_modules/.bin/tauri signer generate --ci -p "" -w "$keys/update.key" >/dev/null
export GATEHOUSE_UPDATER_PUBKEY="$(cat "$keys/update.key.pub")" GATEHOUSE_UPDATER_TEST_KEY="$keys/update.key" \
  GATEHOUSE_TAURI_CLI="$PWD/ui/node_modules/.bin/tauri"
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- \
  scripts/with-keyring.sh cargo test -q -p gatehouse-webdriver-tests --test console -- --ignored --test-threads=1
# Again where no keychain answers: a session bus with no service directories, so
# no Secret Service runs and none can be activated (the "absent" case).
conf="$(mktemp -d)/session.conf"
cat > "$conf" <<'CONF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session --config-file="$conf" -- \
  cargo test -q -p gatehouse-webdriver-tests --test no_keychain -- --ignored --test-threads=1
