#!/usr/bin/env bash
# The gatehouse-idp Debian package on this machine, as an administrator meets it:
# builds it (scripts/idp-deb.sh; --release for the shipped build, the debug
# build by default), installs it with apt, checks what it put where (binary,
# unit, conffile, system user, modes), verifies the unit with systemd-analyze
# (`verify`, and `security --offline` for its exposure score), runs the
# service, waits for /readyz, takes a backup as the service user while it
# serves, and purges the package.
#
# systemd is not PID 1 on this machine, so the service is not started by
# systemctl: the unit's ExecStartPre and ExecStart run under the unit's own
# constraints, applied by scripts/run-as-unit.sh from the installed unit file
# (User/Group, NoNewPrivileges, an empty capability bounding set, UMask,
# ProtectSystem=strict with the StateDirectory writable, ProtectHome,
# PrivateTmp). The seccomp filter and the kernel Protect* settings are only
# checked by systemd-analyze. Where systemd runs, systemctl is used instead.
cd "$(dirname "$0")/.."
. scripts/lib.sh
# systemd-analyze checks the unit offline (the package, not a running systemd).
ensure_debian_packages systemd
deb="$(scripts/idp-deb.sh "${1:---debug}")"
fail() { echo "idp package: $*" >&2; exit 1; }

if dpkg-query -W gatehouse-idp >/dev/null 2>&1; then as_root apt-get purge -y -qq gatehouse-idp >/dev/null; fi
as_root rm -rf /var/lib/gatehouse
echo "==> apt-get install $(basename "$deb")"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null

unit=/lib/systemd/system/gatehouse-idp.service
[ -x /usr/bin/gatehouse-idp ] || fail "no /usr/bin/gatehouse-idp"
[ -f "$unit" ] || fail "no $unit"
getent passwd gatehouse >/dev/null || fail "no gatehouse user"
[ "$(stat -c '%U:%G %a' /etc/gatehouse/idp.toml)" = "root:gatehouse 640" ] || fail "config mode $(stat -c '%U:%G %a' /etc/gatehouse/idp.toml)"
[ "$(stat -c '%U %a' /var/lib/gatehouse)" = "gatehouse 700" ] || fail "state dir mode $(stat -c '%U %a' /var/lib/gatehouse)"
grep -qx /etc/gatehouse/idp.toml /var/lib/dpkg/info/gatehouse-idp.conffiles || fail "idp.toml is not a conffile"
/usr/bin/gatehouse-idp check-config --config /etc/gatehouse/idp.toml >/dev/null || fail "the shipped config does not check"

echo "==> systemd-analyze verify and security --offline"
systemd-analyze verify "$unit" || fail "systemd-analyze verify"
exposure="$(systemd-analyze security --offline=true --no-pager "$unit" | tail -1)"
echo "    $exposure"
score="$(sed -n 's/.*exposure level for .*: \([0-9.]*\).*/\1/p' <<<"$exposure")"
[ -n "$score" ] && awk "BEGIN { exit !($score <= 2.0) }" || fail "exposure above 2.0: $exposure"

# The administrator's config: a free loopback port, metrics on another.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
as_root sed -i -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" \
  -e "s|^# metrics_listen = .*|metrics_listen = \"127.0.0.1:$mport\"|" /etc/gatehouse/idp.toml

log="$(mktemp)"
if [ -d /run/systemd/system ]; then
  as_root systemctl start gatehouse-idp
  stop_service() { as_root systemctl stop gatehouse-idp; }
else
  echo "==> systemd is not PID 1 here: the unit's commands under its constraints (scripts/run-as-unit.sh)"
  as_root scripts/run-as-unit.sh "$unit" >"$log" 2>&1 &
  svc=$!
  # As systemctl stop does: SIGTERM to the service's process, then wait for it.
  stop_service() {
    as_root pkill -TERM -u gatehouse -x gatehouse-idp 2>/dev/null || true
    wait "$svc" 2>/dev/null || true
    ! pgrep -u gatehouse -x gatehouse-idp >/dev/null || fail "the service did not stop on SIGTERM"
  }
fi
trap 'stop_service' EXIT
ready=""
for _ in $(seq 1 200); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; then ready=1; break; fi
  [ -d /run/systemd/system ] || kill -0 "$svc" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ready" ] || { cat "$log"; fail "/readyz never answered 200"; }
echo "    /readyz 200 on 127.0.0.1:$port; $(curl -s "http://127.0.0.1:$port/readyz")"
curl -s "http://127.0.0.1:$mport/metrics" | grep -q '^gatehouse_' || fail "no gatehouse_ metrics on $mport"
[ "$(curl -s "http://127.0.0.1:$port/.well-known/openid-configuration" | python3 -c 'import json,sys; print(json.load(sys.stdin)["issuer"])')" = https://idp.example.com ] \
  || fail "discovery does not name the configured issuer"
grep '^{' "$log" | python3 -c 'import json,sys; assert [json.loads(l) for l in sys.stdin]' || fail "the service's log is not JSON lines"
[ "$(stat -c %U /var/lib/gatehouse/idp.sqlite)" = gatehouse ] || fail "the database is not the service user's"
[ "$(stat -c %a /var/lib/gatehouse/idp.sqlite)" = 600 ] || fail "the database is not private (UMask)"

echo "==> the sandbox as the service sees it"
as_root scripts/run-as-unit.sh --probe "$unit" || fail "the unit's constraints do not hold"

echo "==> a backup as the service user while it serves"
backup="$(as_root runuser -u gatehouse -- mktemp -u /var/lib/gatehouse/backup-XXXX.sqlite)"
as_root runuser -u gatehouse -- gatehouse-idp backup --config /etc/gatehouse/idp.toml --to "$backup" | grep -q 'chain intact' \
  || fail "backup"
[ "$(stat -c '%U %a' "$backup")" = "gatehouse 600" ] || fail "the backup is not the service user's alone"
as_root rm -f "$backup"

stop_service; trap - EXIT
echo "==> apt-get purge gatehouse-idp"
as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq gatehouse-idp >/dev/null
for f in /usr/bin/gatehouse-idp "$unit" /etc/gatehouse; do [ ! -e "$f" ] || fail "$f left after purge"; done
dpkg-query -W gatehouse-idp >/dev/null 2>&1 && fail "still known to dpkg"
[ -f /var/lib/gatehouse/idp.sqlite ] || fail "purge removed the database (it keeps it)"
as_root rm -rf /var/lib/gatehouse
echo "idp package: installed, served /readyz under the unit's constraints, backed up, purged"
