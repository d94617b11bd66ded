#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `cluster.sh start DIR` creates one in DIR
# (initdb as an unprivileged user), starts it on a free loopback port, and writes its
# connection URI to DIR/uri; `cluster.sh stop DIR` stops it and removes DIR. `cluster.sh halt
# DIR` stops it as a crash would (immediate shutdown, data kept); `cluster.sh resume DIR`
# starts it again on the same port.
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop|halt|resume DIR}
dir=${2:?usage: cluster.sh start|stop|halt|resume DIR}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -x "$bindir/initdb" ] || { echo "cluster.sh: PostgreSQL server binaries not found" >&2; exit 1; }

# initdb refuses to run as root: the cluster belongs to the postgres user then.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  bash "$0" stop "$dir" 2>/dev/null || true
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -U nyx --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
         echo $((20000 + RANDOM % 20000)))
  echo "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c max_connections=200" >"$dir/opts"
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/opts")" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "postgresql://nyx@127.0.0.1:$port/postgres" >"$dir/uri"
  cat "$dir/uri"
  ;;
halt)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  ;;
resume)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/opts")" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  ;;
stop)
  [ -d "$dir/data" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  # A server's last processes may still be writing as they exit: try again briefly.
  for _ in 1 2 3 4 5; do rm -rf "$dir" 2>/dev/null && break; sleep 0.2; done
  [ ! -e "$dir" ] || { echo "cluster.sh: cannot remove $dir" >&2; exit 1; }
  ;;
*) echo "cluster.sh: unknown command $cmd" >&2; exit 2 ;;
esac
