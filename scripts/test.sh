#!/usr/bin/env bash
# Sets everything up (dependencies, build) and runs every test, golden parity included, then a
# short run of every fuzz target (scripts/fuzz.sh, its own clang build in build-fuzz/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Each phase's wall and CPU time, so a slow CI run says where its minutes went (CPU time: this
# shell's waited-for children, /proc/PID/stat's cutime + cstime, in clock ticks).
children_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($16 + $17) / hz}' "/proc/$$/stat"; }
phase_start=$SECONDS
phase_cpu=$(children_cpu)
phase_done() {
  local cpu; cpu=$(children_cpu)
  echo "test.sh: $1 took $((SECONDS - phase_start)) s, $((cpu - phase_cpu)) s of CPU (whole run: ${SECONDS} s)"
  phase_start=$SECONDS; phase_cpu=$cpu
}
bash "$root/scripts/install-deps.sh" --tests
phase_done "installing dependencies"
CLAPSEARCH_WERROR=ON bash "$root/scripts/build.sh"
phase_done "building"
build="${CLAPSEARCH_BUILD_DIR:-$root/build}"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 900
phase_done "the tests"
# Fuzz smoke (fuzz/README.md): every libFuzzer target for 5 s with the sanitizers on, so a
# regression in a parser is caught here; scripts/fuzz.sh --seconds N runs them for longer.
bash "$root/scripts/fuzz.sh" --seconds "${CLAPSEARCH_FUZZ_SECONDS:-5}"
phase_done "the fuzz smoke"
