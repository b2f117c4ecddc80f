#!/usr/bin/env bash
# The x86-64 binary under emulated CPUs without AVX-512 (Haswell: AVX2), without AVX2 (Nehalem:
# SSE4.2) and at the baseline (qemu64): golden parity cases, FAISS's IVF and IVF-PQ paths and a
# real-file index + search, each compared with the native run, within the engine's tolerances
# (qemu-user, Debian's qemu 7.2).
#
# Usage: emulated.sh [--full] BUILD_DIR
#   default: a few golden-parity cases on Haswell and qemu64 (the README's test command runs
#            this: about 4 min of one core under TCG)
#   --full:  every golden-parity case on all three CPUs (scripts/test-cpus.sh)
# Nehalem runs the same baseline kernel set as qemu64, which has fewer instructions still, so the
# default run leaves it out: for this binary's dispatch it adds nothing qemu64 does not check,
# and each emulated CPU costs about 2 min of CI.
#
# clapsearch re-executes itself to set its OpenMP wait policy unless OMP_WAIT_POLICY is set, and
# the re-executed image would run natively (no binfmt entry for the host's own architecture):
# the policy is set here, and every CPU's `--version` must report the kernel set of the
# emulated CPU (Nehalem: baseline), or the run tested nothing.
set -euo pipefail
full=0
[[ ${1:-} == --full ]] && { full=1; shift; }
build=$(cd "${1:?usage: emulated.sh [--full] BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
golden=$(cd "$here/../data" && pwd)
cli=$build/clapsearch
command -v qemu-x86_64 >/dev/null || { echo "emulated.sh: qemu-x86_64 not found (scripts/install-deps.sh --tests installs qemu-user)"; exit 1; }
[[ $(uname -m) == x86_64 ]] || { echo "emulated.sh: x86-64 hosts only"; exit 1; }

export OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=2000 HF_HUB_OFFLINE=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HF_HOME=$work/hf-home

# Golden-parity cases (tests/model/parity_test.cpp against tests/data). The short set: the whole
# model from samples and strings, of one case. The batch/repeat bit-identity runs natively on
# every kernel set instead (ctest Golden.BatchingAndRepeatsAreBitIdentical.avx2|baseline): it
# exercises the same kernels, and took two thirds of the emulated time.
if [[ $full == 1 ]]; then
  filter='*Parity*'
else
  filter='Golden/Parity.EndToEndFromSamplesAndStrings/tiny_unfused'
fi

# The vector indexes' FAISS paths (tests/search): an IVF index and a small IVF-PQ one.
faiss_filter='VectorIndex.IvfAndExactResultsDoNotDependOnTheThreadCount:CompressedIndex.EveryListProbedAndShortlistedGivesExactSearch'

# Real files (ffmpeg), indexed and searched natively once.
mkdir -p "$work/music"
ffmpeg -v error -f lavfi -i "sine=f=330:d=6:sample_rate=44100" -af "vibrato=f=3" "$work/music/sweep.flac"
ffmpeg -v error -f lavfi -i "sine=f=220:d=7:sample_rate=48000" -b:a 128k "$work/music/chord.mp3"
ffmpeg -v error -f lavfi -i "anoisesrc=seed=11:d=5:c=pink:r=32000:a=0.3" "$work/music/noise.wav"
model=$golden/tiny-unfused
run_index_search() {  # PREFIX... : index + search into $work/$tag, embed in bf16 and int8
  local tag=$1; shift
  rm -f "$work/$tag.db"
  "$@" "$cli" index "$work/music" --db "$work/$tag.db" --model "$model" --quiet >/dev/null
  "$@" "$cli" search "warm guitar" "noise" --db "$work/$tag.db" --model "$model" --json > "$work/$tag.search.json"
  for p in bf16 int8; do
    "$@" "$cli" embed --model "$model" --precision $p --audio "$work/music/chord.mp3" > "$work/$tag.embed-$p.json"
  done
}
run_index_search native

compare() {  # TAG: the emulated run against the native one
  python3 - "$work/native" "$work/$1" <<'PY'
import json, math, sys
native, emulated = sys.argv[1], sys.argv[2]
def results(path):
    out = {}
    def walk(x, q=None):
        if isinstance(x, dict):
            if "score" in x and "path" in x: out[(q, x["path"])] = x["score"]
            for k, v in x.items(): walk(v, x.get("query", q))
        elif isinstance(x, list):
            for v in x: walk(v, q)
    walk(json.load(open(path)))  # search --json: one array of results
    return out
a, b = results(native + ".search.json"), results(emulated + ".search.json")
assert a and a.keys() == b.keys(), f"search results differ: {sorted(a)} vs {sorted(b)}"
worst = max(abs(a[k] - b[k]) for k in a)
assert worst <= 1e-4, f"search scores differ by {worst}"  # the engine's max|d| tolerance
msg = [f"search max|d| {worst:.2g}"]
for p, bound in (("bf16", 0.9999), ("int8", 0.999)):
    e = [json.loads(l)["embedding"] for l in open(native + f".embed-{p}.json") if l.strip()][0]
    f = [json.loads(l)["embedding"] for l in open(emulated + f".embed-{p}.json") if l.strip()][0]
    cos = sum(x * y for x, y in zip(e, f)) / math.sqrt(sum(x * x for x in e) * sum(y * y for y in f))
    assert cos >= bound, f"{p} embedding cosine {cos} < {bound}"
    msg.append(f"{p} cosine {cos:.9f}")
print(", ".join(msg))
PY
}

status=0
cpus=(Haswell qemu64)
[[ $full == 1 ]] && cpus=(Haswell Nehalem qemu64)
for cpu in "${cpus[@]}"; do
  expected=$([[ $cpu == Haswell ]] && echo avx2 || echo baseline)
  # As on a user's machine of that CPU: OpenBLAS (FAISS's k-means and PQ training) picks its
  # kernels from the CPU, so a forced OPENBLAS_CORETYPE (Haswell on the build machines) must not
  # reach the emulated process; and qemu64 says it is an AMD K8, whose OpenBLAS kernels use 3DNow!
  # (femms), which real K8s have and qemu does not emulate: it is given Intel's vendor string.
  cpu_model=$cpu
  [[ $cpu == qemu64 ]] && cpu_model="qemu64,vendor=GenuineIntel"
  q=(env -u OPENBLAS_CORETYPE qemu-x86_64 -cpu "$cpu_model")
  set_line=$("${q[@]}" "$cli" --version | grep '^kernel set:')
  if [[ $set_line != "kernel set: $expected "* ]]; then
    echo "FAIL $cpu: '$set_line', expected $expected: not emulated?"; status=1; continue
  fi
  start=$SECONDS
  if ! out=$("${q[@]}" "$build/tests/test_model" --gtest_filter="$filter" --gtest_brief=1 2>&1 | grep -v "TCG doesn.t support"); then
    echo "$out" | tail -30; echo "FAIL $cpu: golden parity"; status=1; continue
  fi
  cases=$(grep -o '[0-9]* tests\? ran' <<<"$out" | head -1 || true)
  # FAISS under the same CPU: k-means, IVF lists and IVF-PQ training and search (Debian's
  # libfaiss is its own build: its code is not covered by the dispatch check of this binary).
  if ! out=$("${q[@]}" "$build/tests/test_search" --gtest_filter="$faiss_filter" --gtest_brief=1 2>&1 | grep -v "TCG doesn.t support"); then
    echo "$out" | tail -30; echo "FAIL $cpu: FAISS IVF / IVF-PQ"; status=1; continue
  fi
  if ! run_index_search "$cpu" "${q[@]}" || ! cmp=$(compare "$cpu"); then
    echo "FAIL $cpu: index + search"; status=1; continue
  fi
  echo "ok $cpu ($set_line): golden parity ${cases:-passed}, FAISS IVF and IVF-PQ; index + search vs native: $cmp ($((SECONDS - start)) s)"
done
exit $status
