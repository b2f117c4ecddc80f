#!/usr/bin/env bash
# Runs host.mjs (the Navidrome-like test host) after installing its one dependency,
# @extism/extism, from the committed lockfile when node_modules is missing or older than it.
# Needs node + npm (the npm registry or npm's cache), ffmpeg and curl.
# run.sh CLAPSEARCH_BINARY MODEL_DIR clapsearch.ndp
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v node >/dev/null || { echo "Navidrome.Plugin: node is not installed" >&2; exit 1; }
if [[ ! -d "$HERE/node_modules/@extism/extism" || "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed (needs the npm registry or a warm npm cache)" >&2; exit 1; }
fi
[[ $# -eq 3 ]] || { echo "usage: run.sh CLAPSEARCH_BINARY MODEL_DIR clapsearch.ndp" >&2; exit 2; }
args=("$(realpath "$1")" "$(realpath "$2")" "$(realpath "$3")")
cd "$HERE"
exec node host.mjs "${args[@]}"
