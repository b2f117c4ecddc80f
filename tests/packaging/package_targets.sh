#!/usr/bin/env bash
# A package build (-DBUILD_TESTING=OFF, as scripts/package.sh configures it) builds only what the
# package ships: no test binary, fuzz target or layer link check (README and
# docs/operations-service.md say so, and the package's build time depends on it).
# (CTest: Package.BuildsOnlyWhatShips.)
#   package_targets.sh SOURCE_DIR
set -euo pipefail
source="$1"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cmake -S "$source" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
# Every target of the build's default target `all` (the package target depends on it).
targets="$(cmake --build "$build" --target help | sed -n 's/^\.\.\. //p' | cut -d' ' -f1)"
extra="$(grep -E '^(test_|fuzz_|link_check_)' <<<"$targets" || true)"
if [ -n "$extra" ]; then
  echo "a package build also builds what the package does not ship:"
  echo "$extra"
  exit 1
fi
grep -qx clapsearch <<<"$targets" || { echo "no clapsearch target in a package build"; exit 1; }
