#!/usr/bin/env bash
# Installs dependencies (idempotent) and builds clapsearch in ./build (Release).
# CLAPSEARCH_BUILD_TARGET=clapsearch builds only the CLI (the demo does; tests need all).
# CLAPSEARCH_WERROR=ON makes any compiler warning an error (the test command sets it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
build="${CLAPSEARCH_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${CLAPSEARCH_WERROR:+-DCLAPSEARCH_WERROR="$CLAPSEARCH_WERROR"} ${CLAPSEARCH_GOLDEN:+-DCLAPSEARCH_GOLDEN_DIR="$CLAPSEARCH_GOLDEN"} >/dev/null
cmake --build "$build" -j"$(nproc)" ${CLAPSEARCH_BUILD_TARGET:+--target "$CLAPSEARCH_BUILD_TARGET"}
