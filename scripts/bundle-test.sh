#!/usr/bin/env bash
# The console as IT installs it: `tauri build` (the Tauri CLI from npm) makes
# the .deb and the .rpm with the real icons, desktop entry (Exec with %u, the
# gatehouse: scheme as its MimeType) and metadata; the .deb is installed with
# apt-get on this machine, the installed /usr/bin/gatehouse is launched under
# Xvfb in demo mode until its window shows the seeded queue (screenshot
# bundle-installed.png), and the package is purged, leaving nothing behind.
#   scripts/bundle-test.sh            the debug build (the test command's short form)
#   scripts/bundle-test.sh --release  the release build that ships (several minutes)
# The AppImage is configured but not built here: its bundler downloads
# linuxdeploy from GitHub, which this machine cannot reach.
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_debian_packages desktop-file-utils rpm
profile=debug; flags=(--debug)
if [ "${1:-}" = --release ]; then profile=release; flags=(); fi
fail() { echo "bundle: $*" >&2; exit 1; }
build_ui >/dev/null
blog="$(mktemp)"
(cd src-tauri && ../ui/node_modules/.bin/tauri build "${flags[@]}" --bundles deb rpm --ci) >"$blog" 2>&1 \
  || { cat "$blog"; fail "tauri build"; }
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
deb="$CARGO_TARGET_DIR/$profile/bundle/deb/Gatehouse_${version}_$(dpkg --print-architecture).deb"
rpm="$(ls "$CARGO_TARGET_DIR/$profile/bundle/rpm/Gatehouse-${version}-1."*.rpm)"
[ -f "$deb" ] || fail "no $deb"

echo "==> what the .deb says and holds"
[ "$(dpkg-deb -f "$deb" Package)" = gatehouse ] || fail "package name"
dpkg-deb -f "$deb" Depends | grep -q libwebkit2gtk-4.1-0 || fail "no WebKitGTK dependency"
dpkg-deb -f "$deb" Depends | grep -q gnome-keyring || fail "no Secret Service dependency"
contents="$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./||')"
for f in usr/bin/gatehouse usr/share/applications/Gatehouse.desktop \
  usr/share/icons/hicolor/32x32/apps/gatehouse.png usr/share/icons/hicolor/128x128/apps/gatehouse.png \
  usr/share/icons/hicolor/512x512/apps/gatehouse.png; do
  grep -qx "$f" <<<"$contents" || fail "the .deb has no $f"
done
x="$(mktemp -d)"; dpkg-deb -x "$deb" "$x"
desktop="$x/usr/share/applications/Gatehouse.desktop"
desktop-file-validate "$desktop" || fail "the desktop entry does not validate"
grep -qx 'Exec=gatehouse %u' "$desktop" || fail "Exec does not take the link (%u)"
grep -q '^MimeType=x-scheme-handler/gatehouse' "$desktop" || fail "the gatehouse: scheme is not registered"
cmp -s "$x/usr/share/icons/hicolor/512x512/apps/gatehouse.png" icons/icon.png || fail "the 512px icon is not icons/icon.png"
echo "==> what the .rpm says and holds"
rpm -qp --queryformat '%{NAME} %{VERSION}\n' "$rpm" 2>/dev/null | grep -qx "gatehouse $version" || fail "rpm name/version"
rpm -qlp "$rpm" 2>/dev/null | grep -qx /usr/bin/gatehouse || fail "the .rpm has no /usr/bin/gatehouse"
rpm -qp --requires "$rpm" 2>/dev/null | grep -q "libwebkit2gtk-4.1.so.0" || fail "the .rpm does not require WebKitGTK"
rpm -qp --requires "$rpm" 2>/dev/null | grep -q "gnome-keyring or" || fail "the .rpm does not require a Secret Service"

echo "==> apt-get install $(basename "$deb")"
if dpkg-query -W gatehouse >/dev/null 2>&1; then as_root apt-get purge -y -qq gatehouse >/dev/null; fi
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
[ -x /usr/bin/gatehouse ] || fail "not installed"
grep -q 'x-scheme-handler/gatehouse=Gatehouse.desktop' /usr/share/applications/mimeinfo.cache \
  || fail "the desktop database does not hand gatehouse: links to the console"

echo "==> the installed console under Xvfb in demo mode"
out="${SCREENSHOT_DIR:-$CARGO_TARGET_DIR/screenshots}"; mkdir -p "$out"
export OUT="$out"
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  set -uo pipefail
  export XDG_CONFIG_HOME="$(mktemp -d)" XDG_DATA_HOME="$(mktemp -d)"
  log="$OUT/bundle-installed.log"
  GATEHOUSE_DEMO=1 /usr/bin/gatehouse >"$log" 2>&1 &
  pid=$!
  ok=""
  for _ in $(seq 1 240); do
    if xwininfo -root -tree 2>/dev/null | grep -q "\"Gatehouse\"" && grep -q "demo mode: signed in" "$log" \
        && grep -Eq "pending queue served shown=[1-9]" "$log"; then ok=1; break; fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.5
  done
  [ -n "$ok" ] || { echo "the installed console did not come up:"; tail -20 "$log"; kill $pid 2>/dev/null; exit 1; }
  sleep 2
  import -window root "$OUT/bundle-installed.png"
  kill $pid; wait $pid 2>/dev/null
  echo "    window up, queue served; screenshot $OUT/bundle-installed.png"
' || fail "the installed console"

echo "==> apt-get purge gatehouse"
as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq gatehouse >/dev/null
for f in /usr/bin/gatehouse /usr/share/applications/Gatehouse.desktop /usr/share/icons/hicolor/512x512/apps/gatehouse.png; do
  [ ! -e "$f" ] || fail "$f left after purge"
done
dpkg-query -W gatehouse >/dev/null 2>&1 && fail "still known to dpkg"
grep -q 'x-scheme-handler/gatehouse' /usr/share/applications/mimeinfo.cache 2>/dev/null && fail "gatehouse: links still point at a removed app"
echo "bundle: .deb and .rpm built ($profile), the .deb installed, its console shown, purged"
