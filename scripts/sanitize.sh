#!/usr/bin/env bash
# Builds clapsearch and its tests with AddressSanitizer + UndefinedBehaviorSanitizer (GCC) in
# build-asan/ (or $CLAPSEARCH_ASAN_BUILD_DIR) and runs the whole test suite there.
# Any sanitizer report fails the test that triggered it. Extra arguments go to ctest
# (e.g. -R Store). The build takes most of an hour on 2 busy cores, the tests about 4 minutes;
# not part of the default test command.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh" --tests
build="${CLAPSEARCH_ASAN_BUILD_DIR:-$root/build-asan}"
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  ${CLAPSEARCH_GOLDEN:+-DCLAPSEARCH_GOLDEN_DIR="$CLAPSEARCH_GOLDEN"} >/dev/null
cmake --build "$build" -j"$(nproc)"
# abort_on_error: a report ends the process with a signal the test sees; leaks are reported
# only for our code (suppressions for libraries that keep allocations until exit); the fault
# tests preload their injector, so the ASan runtime need not come first; a small quarantine keeps
# the bounded-memory tests (peak RSS of a 3-hour file) meaningful.
export ASAN_OPTIONS="quarantine_size_mb=32:verify_asan_link_order=0:abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export CLAPSEARCH_SANITIZED=1
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 1800 "$@"
