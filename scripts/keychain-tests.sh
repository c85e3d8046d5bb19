#!/usr/bin/env bash
# Runs the console's real-keychain test inside a private D-Bus session with
# gnome-keyring unlocked (scripts/with-keyring.sh).
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_debian_packages gnome-keyring dbus-x11 libsecret-tools
exec dbus-run-session -- scripts/with-keyring.sh cargo test -q -p gatehouse-console --test keychain -- --ignored
