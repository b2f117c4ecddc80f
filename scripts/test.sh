#!/usr/bin/env bash
# Sets everything up (dependencies, build) and runs every test, golden parity included.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh" --tests
bash "$root/scripts/build.sh"
build="${CLAPSEARCH_BUILD_DIR:-$root/build}"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 900
