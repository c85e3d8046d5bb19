#!/usr/bin/env bash
# A PostgreSQL cluster of our own on a loopback port, for the tests and for
# scripts/cluster.sh: Debian's `postgresql` package (installed if missing), a
# data directory this script owns, trust authentication on 127.0.0.1 only.
#
#   scripts/postgres.sh start   # prints the server URL on stdout when it is ready
#   scripts/postgres.sh fresh   # the same, on a new empty data directory (the
#                               # test command's: its throw-away databases go)
#   scripts/postgres.sh stop
#   scripts/postgres.sh restart # the same data, stopped and started again
#
# GATEHOUSE_PG_DIR (default /tmp/gatehouse-pg-$UID) and GATEHOUSE_PG_PORT
# (default 25432: below Linux's ephemeral range, 32768-60999, so no outgoing
# connection or port-0 listener of the tests can be holding it) pick where. PostgreSQL refuses to run as root, so as root the
# server runs as the `postgres` user the package creates.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

DIR="${GATEHOUSE_PG_DIR:-/tmp/gatehouse-pg-$(id -u)}"
PORT="${GATEHOUSE_PG_PORT:-25432}"
URL="postgres://gatehouse@127.0.0.1:$PORT/postgres"

pg_bin() {
  local v
  v="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)"
  [ -n "$v" ] || { echo "postgres.sh: no PostgreSQL under /usr/lib/postgresql" >&2; exit 1; }
  echo "/usr/lib/postgresql/$v/bin"
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ready() {
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U gatehouse -d postgres
}

start() {
  ensure_debian_packages postgresql >&2
  BIN="$(pg_bin)"
  if [ ! -s "$DIR/PG_VERSION" ]; then
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
    chmod 700 "$DIR"
    # C collation: text sorts byte by byte, as it does on SQLite.
    as_pg "$BIN/initdb" -D "$DIR" -U gatehouse --auth=trust --locale=C -E UTF8 >"$DIR.initdb.log" 2>&1 \
      || { cat "$DIR.initdb.log" >&2; exit 1; }
  fi
  if ! ready; then
    as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=400" start >&2 \
      || { tail -20 "$DIR/server.log" >&2; exit 1; }
  fi
  # Ready means it answers, whatever pg_ctl said.
  for _ in $(seq 1 120); do ready && break; sleep 0.5; done
  ready || { echo "postgres.sh: PostgreSQL on 127.0.0.1:$PORT is not answering" >&2; exit 1; }
  echo "$URL"
}

stop() {
  BIN="$(pg_bin)"
  [ -s "$DIR/PG_VERSION" ] || return 0
  as_pg "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >&2 || true
}

case "${1:-start}" in
  start) start ;;
  # A server still shutting down keeps the port: wait for it before the data
  # directory goes, so the new one does not find the address in use.
  fresh) stop; BIN="$(pg_bin)"; for _ in $(seq 1 60); do ready || break; sleep 0.5; done
         rm -rf "$DIR" "$DIR.initdb.log"; start ;;
  stop) stop ;;
  restart) stop; start ;;
  *) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
