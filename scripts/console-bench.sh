#!/usr/bin/env bash
# The console benchmark (tests/webdriver/benches/console.rs): cold start and
# memory of the real console against a minimal Tauri window, and filter/search
# latency, with a large store. `--quick` (CI) uses 10k connections / 1k pending;
# the default is 100k / 10k. Runs under Xvfb with a private D-Bus session and an
# unlocked gnome-keyring (the console restores its session from it).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
# The quick form measures debug builds (CI has them); the full form measures
# what a person installs: release builds of both windows.
if [ "${1:-}" = "--quick" ]; then profile=debug; else profile=release; fi
cargo build -q --profile "${profile/debug/dev}" -p gatehouse-app --bin gatehouse --example minimal_window
export GATEHOUSE_APP="$CARGO_TARGET_DIR/$profile/gatehouse" GATEHOUSE_MINIMAL_WINDOW="$CARGO_TARGET_DIR/$profile/examples/minimal_window"
if [ "$profile" = debug ]; then
  cargo test -q -p gatehouse-webdriver-tests --bench console --no-run
  run=(cargo test -q -p gatehouse-webdriver-tests --bench console -- --quick)
else
  cargo bench -q -p gatehouse-webdriver-tests --bench console --no-run
  run=(cargo bench -q -p gatehouse-webdriver-tests --bench console)
fi
exec xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- scripts/with-keyring.sh "${run[@]}"
