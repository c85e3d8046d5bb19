#!/usr/bin/env bash
# Runs the console's real-keychain test inside a private D-Bus session with
# gnome-keyring unlocked (HEADLESS.md): a private XDG_DATA_HOME, a non-empty
# password, and a wait until org.freedesktop.secrets has an owner.
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_debian_packages gnome-keyring dbus-x11 libsecret-tools
exec dbus-run-session -- bash -c '
  set -euo pipefail
  export XDG_DATA_HOME="$(mktemp -d)"
  echo -n "gatehouse-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  for _ in $(seq 1 100); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; then
      break
    fi
    sleep 0.1
  done
  cargo test -q -p gatehouse-console --test keychain -- --ignored
'
