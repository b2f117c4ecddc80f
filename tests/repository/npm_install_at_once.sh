#!/usr/bin/env bash
# Two tests that share a folder of npm clients install them at the same moment, as ctest -j2 does
# with Server.Subsonic and Server.SubsonicPostgres on a fresh clone: both must succeed and leave a
# complete node_modules (tests/support/npm_install.sh). Before the lock, both `npm ci` runs failed
# (ENOTEMPTY / ENOENT) and CI went red. Uses tests/subsonic's lockfile in a folder of its own.
# Usage: npm_install_at_once.sh SOURCE_DIR
set -euo pipefail
SRC=$(cd "$1" && pwd)
command -v npm >/dev/null || { echo "npm not found" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/clapsearch-npm-at-once.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cp "$SRC/tests/subsonic/package.json" "$SRC/tests/subsonic/package-lock.json" "$TMP/"
source "$SRC/tests/support/npm_install.sh"
# The second starts 0 to 1.6 s after the first: the runs overlap in different phases (npm ci first
# removes node_modules, then extracts; either phase of one run breaks the other's).
for delay in 0 0.2 0.4 0.8 1.2 1.6; do
  rm -rf "$TMP/node_modules"
  npm_install "$TMP" subsonic-api > "$TMP/a.log" 2>&1 & a=$!
  sleep "$delay"
  npm_install "$TMP" subsonic-api > "$TMP/b.log" 2>&1 & b=$!
  status=0
  wait $a || { status=1; echo "second $delay s later: the first install failed:" >&2; cat "$TMP/a.log" >&2; }
  wait $b || { status=1; echo "second $delay s later: the second install failed:" >&2; cat "$TMP/b.log" >&2; }
  [[ $status -eq 0 ]] || exit 1
  (cd "$TMP" && node --input-type=module -e "import 'subsonic-api'; import 'ajv';") ||
    { echo "second $delay s later: node_modules is incomplete after two installs at once" >&2; exit 1; }
done
echo "npm_install at once: 6 overlaps, both installs succeeded each time"
