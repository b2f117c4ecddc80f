#!/usr/bin/env bash
# Every golden-parity case, plus a real-file index + search and bf16/int8 embeddings, with the
# x86-64 binary under emulated CPUs: qemu-x86_64 -cpu Haswell (AVX2, no AVX-512), Nehalem (no
# AVX2) and qemu64 (baseline x86-64), each compared with the native run (tests/isa/emulated.sh;
# the test command runs a short version of it as the ctest Isa.EmulatedCpus).
# Usage: scripts/test-cpus.sh [BUILD_DIR]   (default: build/, built with the tests)
# Takes about 10 minutes on 2 cores (emulation is 10-50x slower than native).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
[[ -x $build/clapsearch && -x $build/tests/test_model ]] || { echo "test-cpus: build clapsearch and test_model in $build first"; exit 1; }
exec bash "$root/tests/isa/emulated.sh" --full "$build"
