#!/bin/bash
# Hostile pass 21: a PostgreSQL server for the generators, as tests/support/start_postgres.sh
# starts one (initdb into a folder, loopback, durability off); prints its URL and the folder.
# Usage: pg21.sh start  (prints "URL DIR"); pg21.sh stop DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "pg21: $*" >&2; exit 1; }
source "$here/../../tests/support/start_postgres.sh"
case "$1" in
  start) start_postgres; echo "$PG_URL $PG_DIR" ;;
  stop) PG_DIR="$2"; PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
        [ "$(id -u)" -eq 0 ] && PG_AS=(runuser -u postgres --); stop_postgres ;;
esac
