#!/usr/bin/env bash
# Builds the Debian package (build-package/clapsearch_<version>_<arch>.deb) and only what it
# ships: its own build folder is configured with -DBUILD_TESTING=OFF, so the test binaries and
# fuzz targets (most of a full build's compile time) are not built. `cmake --build build
# --target package` in a build configured with the tests would compile every test first,
# because CPack's target depends on `all`.
#   bash scripts/package.sh            (CLAPSEARCH_PACKAGE_DIR moves the build folder)
# Installs the build dependencies first, as scripts/build.sh does.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
build="${CLAPSEARCH_PACKAGE_DIR:-$root/build-package}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target package
ls "$build"/clapsearch_*.deb
