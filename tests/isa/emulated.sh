#!/usr/bin/env bash
# The x86-64 binary under emulated CPUs without AVX-512 (Haswell: AVX2), without AVX2 (Nehalem:
# SSE4.2) and at the baseline (qemu64): a golden clip and the golden texts embedded by the CLI
# against the reference, FAISS's IVF and IVF-PQ paths and a real-file index + search compared
# with the native run, within the engine's tolerances (qemu-user, Debian's qemu 7.2).
#
# Usage: emulated.sh [--full] BUILD_DIR
#   default: Haswell and qemu64 (the README's test command runs this)
#   --full:  also every golden-parity case under emulation, on all three CPUs (scripts/test-cpus.sh)
#
# Every golden-parity case runs natively on every kernel set (ctest
# Golden.ParityOnEveryKernelSet.avx2|baseline, CLAPSEARCH_ISA): 2-3 s of CPU each. Under emulation
# the default run checks that the binary, choosing by itself on that CPU, runs that kernel set
# (`--version`) and gives the reference's embeddings within the golden tolerances (max|d| 1e-4,
# cosine 0.99999, tests/model/parity_test.cpp) through the whole model: golden clip a (3 s,
# repeat-padded and zero-padded to 10 s) written as a float WAV, which the CLI reads sample for
# sample, and the 11 golden texts the CLI takes (not the empty one). That is the end-to-end
# golden case's check (Parity.EndToEndFromSamplesAndStrings, which the default run used to
# compute under emulation) on one of its seven clips: each clip is one audio-tower pass at the
# same shapes through the same kernels, ~23 s of CPU under -cpu Haswell on an Intel host (qemu
# calls a helper for every FMA), ~170 s for the seven.
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

# --full: every golden-parity case (tests/model/parity_test.cpp against tests/data) under emulation too.
filter='*Parity*'

# The vector indexes' FAISS paths (tests/search/faiss_small_test.cpp): an IVF index built on one
# and on two threads, and an IVF-PQ one searched exhaustively, at the smallest sizes that still go
# through OpenBLAS (~10 s of CPU under -cpu Haswell; the larger VectorIndex and CompressedIndex
# tests it used to run here cost ~100 s, and run natively).
faiss_filter='SmallFaissIndexes.*'

# Real files (ffmpeg), indexed and searched natively once.
mkdir -p "$work/music"
ffmpeg -v error -f lavfi -i "sine=f=330:d=6:sample_rate=44100" -af "vibrato=f=3" "$work/music/sweep.flac"
ffmpeg -v error -f lavfi -i "sine=f=220:d=7:sample_rate=48000" -b:a 128k "$work/music/chord.mp3"
ffmpeg -v error -f lavfi -i "anoisesrc=seed=11:d=5:c=pink:r=32000:a=0.3" "$work/music/noise.wav"
model=$golden/tiny-unfused
# Golden clip a as a 48 kHz float WAV, and the golden texts (the empty one is refused by the CLI)
# as --text arguments: short, long, non-ASCII, white space, punctuation.
texts=()
while IFS= read -r -d '' t; do texts+=(--text "$t"); done < <(python3 - "$golden/inputs.safetensors" "$model/cases.json" "$work/golden-a.wav" <<'PY'
import array, json, struct, sys
inputs, cases, wav = sys.argv[1:]
f = open(inputs, "rb"); n = struct.unpack("<Q", f.read(8))[0]; header = json.loads(f.read(n))
begin, end = header["audio_a"]["data_offsets"]
f.seek(8 + n + begin); data = f.read(end - begin)
fmt = struct.pack("<IHHIIHH", 16, 3, 1, 48000, 48000 * 4, 4, 32)  # IEEE float, mono, 48 kHz
open(wav, "wb").write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", len(data)) + data)
for t in json.load(open(cases))["texts"]:
    if t: sys.stdout.write(t + "\0")
PY
)
(( ${#texts[@]} > 0 )) && [[ -s $work/golden-a.wav ]] || { echo "emulated.sh: no golden clip or texts read from $golden"; exit 1; }
golden_embed() {  # TAG PREFIX...: the golden clip and texts embedded in fp32, against the reference
  local tag=$1; shift
  "$@" "$cli" embed --model "$model" --precision fp32 --audio "$work/golden-a.wav" "${texts[@]}" > "$work/$tag.golden.jsonl" || return 1
  python3 - "$model" "$work/$tag.golden.jsonl" $(( ${#texts[@]} / 2 )) <<'PY'
import array, json, math, struct, sys
model, out, n_texts = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = open(model + "/expected.safetensors", "rb"); n = struct.unpack("<Q", f.read(8))[0]; header = json.loads(f.read(n))
def tensor(name):
    begin, end = header[name]["data_offsets"]; f.seek(8 + n + begin)
    a = array.array("f"); a.frombytes(f.read(end - begin)); return a
texts = json.load(open(model + "/cases.json"))["texts"]
text_rows = tensor("text_embeds_unpadded"); dim = len(text_rows) // len(texts)
lines = [json.loads(l) for l in open(out) if l.strip()]
assert len(lines) == 1 + n_texts, f"{len(lines)} embeddings for 1 clip and {n_texts} texts"
worst_d, worst_cos = 0.0, 1.0
for j in lines:
    got = j["embedding"]
    if j["type"] == "audio":
        what, ref = "clip a", tensor("clip_a_audio_embeds")
    else:
        i = texts.index(j["input"]); what, ref = f"text {i}", text_rows[i * dim:(i + 1) * dim]
    assert len(got) == len(ref) == dim, f"{what}: {len(got)} values, {len(ref)} in the reference"
    d = max(abs(a - b) for a, b in zip(got, ref))
    cos = sum(a * b for a, b in zip(got, ref)) / math.sqrt(sum(a * a for a in got) * sum(b * b for b in ref))
    assert d <= 1e-4 and cos >= 0.99999, f"{what}: max|d| {d:.3g}, cosine {cos:.9f} against the reference"  # parity_test.cpp's kEmbedMaxAbs, kEmbedCosine
    worst_d, worst_cos = max(worst_d, d), min(worst_cos, cos)
print(f"golden clip a and {n_texts} texts vs the reference: max|d| {worst_d:.2g}, cosine {worst_cos:.9f}")
PY
}
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
  if ! exact=$(golden_embed "$cpu" "${q[@]}" 2>&1 | grep -v "TCG doesn.t support"; exit "${PIPESTATUS[0]}"); then
    echo "$exact" | tail -30; echo "FAIL $cpu: golden embeddings"; status=1; continue
  fi
  cases=
  if [[ $full == 1 ]]; then
    if ! out=$("${q[@]}" "$build/tests/test_model" --gtest_filter="$filter" --gtest_brief=1 2>&1 | grep -v "TCG doesn.t support"); then
      echo "$out" | tail -30; echo "FAIL $cpu: golden parity"; status=1; continue
    fi
    cases=", golden parity $(grep -o '[0-9]* tests\? ran' <<<"$out" | head -1 || true)"
  fi
  # FAISS under the same CPU: k-means, IVF lists and IVF-PQ training and search (Debian's
  # libfaiss is its own build: its code is not covered by the dispatch check of this binary).
  # (Both tests must have run: a filter that matches nothing passes in gtest.)
  if ! out=$("${q[@]}" "$build/tests/test_search" --gtest_filter="$faiss_filter" --gtest_brief=1 2>&1 | grep -v "TCG doesn.t support") ||
     ! grep -q 'PASSED .* 2 tests' <<<"$out"; then
    echo "$out" | tail -30; echo "FAIL $cpu: FAISS IVF / IVF-PQ"; status=1; continue
  fi
  if ! run_index_search "$cpu" "${q[@]}" || ! cmp=$(compare "$cpu"); then
    echo "FAIL $cpu: index + search"; status=1; continue
  fi
  echo "ok $cpu ($set_line): $exact$cases, FAISS IVF and IVF-PQ; index + search vs native: $cmp ($((SECONDS - start)) s)"
done
exit $status
