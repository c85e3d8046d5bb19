#!/usr/bin/env bash
# Runs "$@" inside the current D-Bus session with gnome-keyring unlocked
# (HEADLESS.md): a private XDG_DATA_HOME, a non-empty password (an empty one
# leaves no `login` collection), and a wait until org.freedesktop.secrets has an
# owner before the first use. Call it under `dbus-run-session`.
set -euo pipefail
export XDG_DATA_HOME="$(mktemp -d)"
echo -n "gatehouse-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
for _ in $(seq 1 100); do
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true" && break
  sleep 0.1
done
exec "$@"
