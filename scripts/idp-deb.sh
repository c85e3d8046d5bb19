#!/usr/bin/env bash
# Builds the gatehouse-idp Debian package with dpkg-deb (what cargo-deb would
# do, from files kept in crates/idp/packaging): the binary, the hardened systemd
# unit, /etc/gatehouse/idp.toml as a conffile, the maintainer scripts (a
# `gatehouse` system user, its state directory) and the docs. Prints the .deb's
# path on stdout.
#   scripts/idp-deb.sh            the release build (what ships)
#   scripts/idp-deb.sh --debug    the debug build the test command already has
cd "$(dirname "$0")/.."
. scripts/lib.sh
profile=release
[ "${1:-}" = --debug ] && profile=debug
if [ "$profile" = release ]; then
  cargo build -q --release -p gatehouse-idp --bin gatehouse-idp >&2
else
  # As the test command builds it (the whole workspace's features), so nothing rebuilds.
  cargo build -q --workspace --bins >&2
fi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
arch="$(dpkg --print-architecture)"
pkg="$CARGO_TARGET_DIR/deb/gatehouse-idp"
rm -rf "$pkg" && mkdir -p "$pkg/DEBIAN"
src=crates/idp/packaging
install -D -m 0755 "$CARGO_TARGET_DIR/$profile/gatehouse-idp" "$pkg/usr/bin/gatehouse-idp"
strip --strip-unneeded "$pkg/usr/bin/gatehouse-idp"
install -D -m 0644 "$src/gatehouse-idp.service" "$pkg/lib/systemd/system/gatehouse-idp.service"
install -D -m 0640 "$src/idp.toml" "$pkg/etc/gatehouse/idp.toml"
for doc in docs/configuration.md docs/deployment.md; do
  install -D -m 0644 "$doc" "$pkg/usr/share/doc/gatehouse-idp/$(basename "$doc")"
done
cat > "$pkg/usr/share/doc/gatehouse-idp/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: gatehouse
Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPY
install -m 0755 "$src"/debian/postinst "$src"/debian/prerm "$src"/debian/postrm "$pkg/DEBIAN/"
echo /etc/gatehouse/idp.toml > "$pkg/DEBIAN/conffiles"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: gatehouse-idp
Version: $version
Architecture: $arch
Maintainer: Gatehouse maintainers <maintainers@gatehouse.invalid>
Depends: adduser, libc6 (>= 2.34), libgcc-s1
Section: net
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
Description: Gatehouse IdP: OIDC and XAA token exchange behind a policy gate
 The reference enterprise IdP of Gatehouse: OIDC sign-in, the Cross App
 Access token exchange (ID-JAG) behind a policy gate of approved connections,
 a hash-chained audit log and the /admin/v1 API the desktop console drives.
 Runs as a hardened systemd service on SQLite or PostgreSQL.
CONTROL
out="$CARGO_TARGET_DIR/deb/gatehouse-idp_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >&2
echo "$out"
