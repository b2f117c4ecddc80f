# start_postgres: a real PostgreSQL server for the shell tests (tests/subsonic/run.sh --postgres),
# as tests/support/postgres_server.h starts one for the C++ tests: initdb into a private temporary
# folder, started on 127.0.0.1 on a free port with durability off (a test's data need not survive
# a power cut), one empty database made; sets PG_URL (postgresql://clap@127.0.0.1:PORT/NAME).
# stop_postgres (for the caller's cleanup; nothing when none was started) stops it and removes the
# folder. Debian's server programs (/usr/lib/postgresql/<version>/bin, package `postgresql`) refuse
# to run as root: as root they run as the `postgres` system user, who owns the folder. Sourced, not
# run: the caller defines a fail function. Nothing is skipped when the server is missing.
PG_DIR=""
PG_AS=()
PG_BIN=""

start_postgres() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$PG_BIN" && -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] ||
    fail "no PostgreSQL server: /usr/lib/postgresql/*/bin/initdb not found; install Debian's postgresql package (bash scripts/install-deps.sh --tests)"
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/clapsearch-pg.XXXXXX")
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || fail "running as root and there is no postgres user to run the PostgreSQL server as"
    chown postgres: "$PG_DIR"
    PG_AS=(runuser -u postgres --)
  fi
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U clap -E UTF8 --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
    fail "initdb failed: $(tail -n 5 "$PG_DIR/initdb.log")"
  local port="" attempt
  for attempt in 1 2 3; do
    # A port nothing listens on now (node is there: the tests need it); taken by another
    # process before the server binds it, the next attempt picks another.
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    if "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null 2>&1; then
      PG_PORT=$port
      break
    fi
  done
  [[ -n "${PG_PORT:-}" ]] || fail "the PostgreSQL server did not start: $(tail -n 5 "$PG_DIR/server.log" 2>/dev/null)"
  "${PG_AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U clap clap_test || fail "createdb failed"
  PG_URL="postgresql://clap@127.0.0.1:$PG_PORT/clap_test"
}

stop_postgres() {
  [[ -n "$PG_DIR" ]] || return 0
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 ||
    { echo "could not stop the PostgreSQL server in $PG_DIR (pg_ctl -D $PG_DIR/data stop)" >&2; return 0; }
  rm -rf "$PG_DIR"
  PG_DIR=""
}
