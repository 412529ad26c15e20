#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL: `scripts/pg-test.sh cargo nextest run`.
# Starts Debian's PostgreSQL (the `postgresql` package) in a temporary folder on 127.0.0.1 with a
# free port, exports NAUTES_LINT_TEST_POSTGRES (the tests make one database each from it), runs
# the command, then stops the server and removes the folder. As root, the server runs as the
# `postgres` user (initdb refuses root).
# The server trades durability for speed (fsync off) unless PG_TEST_DURABLE=1 (for benchmarks).
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg-test: no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 2
fi
if [ $# -eq 0 ]; then
  echo "usage: scripts/pg-test.sh COMMAND [ARGS...]" >&2
  exit 2
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/nautes-lint-pg.XXXXXX")
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

options="-h 127.0.0.1 -p $port -k $dir -c max_connections=400"
if [ "${PG_TEST_DURABLE:-0}" != 1 ]; then
  options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$options" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

export NAUTES_LINT_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
echo "pg-test: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at $NAUTES_LINT_TEST_POSTGRES" >&2
set +e
"$@"
status=$?
set -e
exit $status
