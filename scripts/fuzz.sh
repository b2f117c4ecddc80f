#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with AddressSanitizer + UndefinedBehaviorSanitizer)
# in build-fuzz/ (or $CLAPSEARCH_FUZZ_BUILD_DIR) and runs each for a while (fuzz/README.md).
#
#   scripts/fuzz.sh [--seconds N] [--build-only | --no-build] [target...]
#
# Targets are the fuzz/fuzz_<target>.cpp names (default: all). Each target first replays its
# committed inputs (fuzz/corpus/<target>, fuzz/regressions/<target>), then fuzzes for N seconds
# (default 5) on a scratch copy of its corpus in the build folder (the committed corpus is never
# written). Crash, leak, timeout and out-of-memory inputs go to <build>/findings/<target>/; the
# script exits non-zero naming the target and the input. Only scripts/install-deps.sh installs
# anything (clang and its runtimes are among the --tests packages). --no-build runs what was
# built before (e.g. several runs side by side: `scripts/fuzz.sh --build-only` once, then
# `scripts/fuzz.sh --no-build --seconds 600 csv &` and so on).
# Targets run side by side, one per core. Environment: CLAPSEARCH_FUZZ_TIMEOUT (seconds one input
# may take, default 30), CLAPSEARCH_FUZZ_JOBS (build jobs, default nproc), CLAPSEARCH_FUZZ_PARALLEL
# (targets fuzzing at once, default nproc; 1 runs them one after the other).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=5
build_only=0
no_build=0
targets=()
all=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --seconds=*) seconds="${1#--seconds=}"; shift ;;
    --build-only) build_only=1; shift ;;
    --no-build) no_build=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); all=0; shift ;;
  esac
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: --seconds must be a whole number of at least 1, got $seconds" >&2
  exit 2
fi
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/fuzz/fuzz_*.cpp; do n="$(basename "$f" .cpp)"; targets+=("${n#fuzz_}"); done
fi
for t in "${targets[@]}"; do
  [ -f "$root/fuzz/fuzz_$t.cpp" ] || { echo "fuzz.sh: no target '$t' (fuzz/fuzz_$t.cpp)" >&2; exit 2; }
done

build="${CLAPSEARCH_FUZZ_BUILD_DIR:-$root/build-fuzz}"
if [ "$no_build" = 0 ]; then
  bash "$root/scripts/install-deps.sh" --tests
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release \
    -DCLAPSEARCH_FUZZ=ON -DBUILD_TESTING=OFF ${CLAPSEARCH_GOLDEN:+-DCLAPSEARCH_GOLDEN_DIR="$CLAPSEARCH_GOLDEN"} >/dev/null
  # Only the fuzz targets and the layers they link (not the CLI, server or tests).
  if [ "$all" = 1 ]; then build_targets=(fuzz_all); else build_targets=("${targets[@]/#/fuzz_}"); fi
  cmake --build "$build" -j"${CLAPSEARCH_FUZZ_JOBS:-$(nproc)}" --target "${build_targets[@]}"
fi
[ "$build_only" = 1 ] && exit 0

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/fuzz/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
timeout_s="${CLAPSEARCH_FUZZ_TIMEOUT:-30}"
flags=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout="$timeout_s" -print_final_stats=1)
# The targets run side by side, CLAPSEARCH_FUZZ_PARALLEL at a time (default nproc): each is one
# single-threaded process that fuzzes for --seconds of wall time, so one at a time left all but
# one core idle (CI: 17 x ~6.4 s on 2 cores). Each still gets its N seconds and a core of its own
# when nothing else runs. Results print in the targets' order.
parallel="${CLAPSEARCH_FUZZ_PARALLEL:-$(nproc)}"
if ! [[ "$parallel" =~ ^[0-9]+$ ]] || [ "$parallel" -lt 1 ]; then
  echo "fuzz.sh: CLAPSEARCH_FUZZ_PARALLEL must be a whole number of at least 1, got $parallel" >&2
  exit 2
fi
run_target() {   # run_target TARGET: fuzzes it; its exit status is the fuzzer's
  local t="$1" bin="$build/fuzz/fuzz_$1" findings="$build/findings/$1" scratch="$build/scratch/$1"
  rm -rf "$scratch"
  mkdir -p "$findings" "$scratch"
  cp -r "$root/fuzz/corpus/$t/." "$scratch/" 2>/dev/null || true
  local inputs=("$scratch")
  [ -d "$root/fuzz/regressions/$t" ] && inputs+=("$root/fuzz/regressions/$t")
  # New inputs go to the first folder (the scratch copy); the regressions are read only.
  "$bin" "${flags[@]}" -max_total_time="$seconds" -artifact_prefix="$findings/" "${inputs[@]}" >"$findings/log.txt" 2>&1
}
report_target() {   # report_target TARGET RC [EARLIER]: its line; 1 when it failed
  local t="$1" rc="$2" before="$3" findings="$build/findings/$1"
  local log="$findings/log.txt" execs rate cov artifact
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 || true)"
  if [ "$rc" -ne 0 ]; then
    artifact="$(ls -t "$findings" | grep -E '^(crash|leak|timeout|oom)-' | head -1 || true)"
    echo "fuzz.sh: $t FAILED (exit $rc) after ${execs:-?} runs: ${artifact:+$findings/$artifact} (log: $log)" >&2
    grep -m3 -E 'ERROR: |runtime error|invariant failed|uncaught|==ERROR' "$log" >&2 || tail -5 "$log" >&2
  else
    echo "fuzz.sh: $t: ${execs:-?} runs in ${seconds} s (${rate:-?}/s), ${cov:-no coverage line}, no finding"
  fi
  if [ "$before" -gt 0 ]; then echo "fuzz.sh: note: $findings also holds $before earlier finding(s)" >&2; fi
  [ "$rc" -eq 0 ]
}
failed=0
pids=()
earlier=()
reported=0
# Waits for the oldest running target (they were started in order) and prints its line.
report_oldest() {
  local rc=0
  wait "${pids[$reported]}" || rc=$?
  report_target "${targets[$reported]}" "$rc" "${earlier[$reported]}" || failed=1
  reported=$((reported + 1))
}
for i in "${!targets[@]}"; do
  t="${targets[$i]}"
  mkdir -p "$build/findings/$t"
  earlier[$i]="$(ls "$build/findings/$t" | grep -cE '^(crash|leak|timeout|oom)-' || true)"
  while [ $((i - reported)) -ge "$parallel" ]; do report_oldest; done
  run_target "$t" &
  pids[$i]=$!
done
while [ "$reported" -lt "${#targets[@]}" ]; do report_oldest; done
exit "$failed"
