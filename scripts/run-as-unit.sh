#!/usr/bin/env bash
# Runs a systemd service unit's ExecStartPre and ExecStart under the unit's own
# constraints where systemd is not PID 1 (this machine): named for what it is,
# an emulation of these directives read from the unit file, nothing more —
#   User= Group=               setpriv --reuid/--regid --init-groups
#   NoNewPrivileges=yes        setpriv --no-new-privs
#   CapabilityBoundingSet=     setpriv --bounding-set -all (and no inheritable caps)
#   UMask=                     umask
#   ProtectSystem=strict       a private mount namespace, every mount read-only
#                              but /proc, /sys, /dev and the StateDirectory
#   StateDirectory= (+Mode)    /var/lib/NAME, created for User, writable
#   ProtectHome=yes            empty read-only tmpfs over /home, /root, /run/user
#   PrivateTmp=yes             fresh tmpfs on /tmp and /var/tmp
# Any other directive (seccomp, kernel Protect*, address families) is not
# applied here; systemd-analyze checks those. Must run as root.
#   run-as-unit.sh UNIT          the service, in the foreground
#   run-as-unit.sh --probe UNIT  instead, checks from inside that the constraints hold
set -euo pipefail
probe=""
if [ "${1:-}" = --probe ]; then probe=1; shift; fi
unit="$1"
key() { sed -n "s/^$1=//p" "$unit" | tail -1; }
user="$(key User)"; group="$(key Group)"; umask_="$(key UMask)"
state="$(key StateDirectory)"; state_mode="$(key StateDirectoryMode)"
[ "$(key ProtectSystem)" = strict ] && [ "$(key NoNewPrivileges)" = yes ] && [ "$(key PrivateTmp)" = yes ] \
  && [ "$(key ProtectHome)" = yes ] && grep -qx 'CapabilityBoundingSet=' "$unit" \
  || { echo "run-as-unit: $unit lacks a directive this emulation expects" >&2; exit 2; }
install -d -o "$user" -g "${group:-$user}" -m "${state_mode:-0755}" "/var/lib/$state"
export UNIT_USER="$user" UNIT_GROUP="${group:-$user}" UNIT_UMASK="${umask_:-0022}" UNIT_STATE="/var/lib/$state"
export UNIT_PRE="$(key ExecStartPre)" UNIT_START="$(key ExecStart)" UNIT_PROBE="$probe"

exec unshare --mount --propagation private --fork -- bash -c '
  set -euo pipefail
  for mp in $(awk "{print \$5}" /proc/self/mountinfo | grep -Ev "^/(proc|sys|dev)(/|\$)" | sort -u); do
    mount -o remount,bind,ro "$mp" 2>/dev/null || true
  done
  mount --bind "$UNIT_STATE" "$UNIT_STATE" && mount -o remount,bind,rw "$UNIT_STATE"
  for d in /home /root /run/user; do [ -d "$d" ] && mount -t tmpfs -o ro,mode=0755 tmpfs "$d"; done
  for d in /tmp /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "$d"; done
  as_unit() {
    setpriv --reuid "$UNIT_USER" --regid "$UNIT_GROUP" --init-groups --no-new-privs \
      --bounding-set -all --inh-caps -all -- /bin/sh -c "umask $UNIT_UMASK; exec \"\$@\"" sh "$@"
  }
  if [ -n "$UNIT_PROBE" ]; then
    as_unit /bin/sh -c "
      set -e
      touch \"$UNIT_STATE/.probe\" && rm \"$UNIT_STATE/.probe\" || { echo \"the state directory is not writable\"; exit 1; }
      for f in /etc/gatehouse/.probe /usr/bin/.probe /var/log/.probe /opt/.probe; do
        if touch \"\$f\" 2>/dev/null; then echo \"\$f is writable\"; exit 1; fi
      done
      for h in /root /home; do [ -z \"\$(ls -A \$h 2>/dev/null)\" ] || { echo \"\$h is visible\"; exit 1; }; done
      [ -z \"\$(ls -A /tmp)\" ] || { echo \"/tmp is shared\"; exit 1; }
      grep -q \"^NoNewPrivs:[[:space:]]*1\" /proc/self/status || { echo \"no_new_privs is not set\"; exit 1; }
      grep -q \"^CapBnd:[[:space:]]*0000000000000000\" /proc/self/status || { echo \"capabilities remain\"; exit 1; }
      [ \"\$(id -u)\" != 0 ] || { echo \"running as root\"; exit 1; }
      [ \"\$(umask)\" = 0077 ] || { echo \"umask \$(umask)\"; exit 1; }
      echo \"    probe: state dir writable; /etc /usr /var/log /opt read-only; /root, /home empty; /tmp private; no_new_privs; no capabilities; uid \$(id -u); umask \$(umask)\"
    "
    exit
  fi
  # shellcheck disable=SC2086 # the unit'"'"'s command lines are split on spaces, as systemd does for these
  [ -z "$UNIT_PRE" ] || as_unit $UNIT_PRE
  exec setpriv --reuid "$UNIT_USER" --regid "$UNIT_GROUP" --init-groups --no-new-privs \
      --bounding-set -all --inh-caps -all -- /bin/sh -c "umask $UNIT_UMASK; exec \"\$@\"" sh $UNIT_START
'
