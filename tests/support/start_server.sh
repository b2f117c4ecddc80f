# start_server NAME [serve options...]: starts `clapsearch serve` on a free loopback port for the
# shell tests that drive a real server (tests/browser/run.sh, tests/openapi/run.sh), waits for its
# "listening on" line and sets URL. Sourced, not run: the caller defines CLI, DB, TMP, a fail
# function and the SERVER_PIDS array; stop_servers (for its cleanup) stops every server started here.
start_server() {
  local name=$1 line="" deadline=$((SECONDS + 60))
  shift
  mkfifo "$TMP/$name.out"
  "$CLI" serve --db "$DB" --port 0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$!
  SERVER_PIDS+=("$pid")
  exec {fd}<"$TMP/$name.out"
  URL=""
  while [[ -z "$URL" && $SECONDS -lt $deadline ]]; do
    if IFS= read -r -t 1 line <&"$fd"; then
      if [[ "$line" =~ ^clapsearch\ serve:\ listening\ on\ (http://[^[:space:]]+) ]]; then URL="${BASH_REMATCH[1]}"; fi
    elif ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
  done
  if [[ -z "$URL" ]]; then
    echo "--- $name stderr:" >&2; cat "$TMP/$name.err" >&2 || true
    fail "$name did not print 'clapsearch serve: listening on http://...' within 60 s"
  fi
  cat <&"$fd" >/dev/null &   # keep draining its stdout so it never blocks on a full pipe
  exec {fd}<&-
}

# Stops every server start_server started: SIGTERM, up to 5 s each to exit, then SIGKILL.
stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
