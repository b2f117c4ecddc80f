#!/usr/bin/env bash
# The ARM64 build under emulation (docs/platforms.md): cross-builds (scripts/build-arm64.sh),
# then under qemu-aarch64, once per emulated CPU:
#   1. the model tests that decide correctness: golden parity (fp32), the bf16 and int8 towers,
#      and every GEMM kernel family's tests (NEON and generic);
#   2. a real-file run: files made by ffmpeg, `embed`, `index` and `search` with the bundled
#      random-weight model, compared with the native x86-64 build (./build) within the golden
#      parity tolerances (embeddings: max |difference| <= 1e-4 and cosine >= 0.99999; search:
#      the same tracks in the same order, scores within 1e-4).
# Not part of scripts/test.sh (it takes minutes of emulation). Times are printed per step.
#
# CLAPSEARCH_ARM64_CPUS: the emulated CPUs (default "cortex-a76 cortex-a53": a Raspberry Pi 5's
# core, with the dot-product extension, and a baseline ARMv8.0 core; "max" adds BF16 and I8MM).
# CLAPSEARCH_ARM64_TESTS: the ctest -R pattern of step 1. CLAPSEARCH_ARM64_SKIP_BUILD=1 skips the build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CLAPSEARCH_ARM64_BUILD_DIR:-$root/build-arm64}"
native="${CLAPSEARCH_BUILD_DIR:-$root/build}"
cpus="${CLAPSEARCH_ARM64_CPUS:-cortex-a76 cortex-a53}"
tests="${CLAPSEARCH_ARM64_TESTS:-^Golden/|^Gemm/|^Bf16\.|^I8\.|^Attention\.}"
jobs="${CLAPSEARCH_JOBS:-2}"
model="$root/tests/data/tiny-fused"

[ "${CLAPSEARCH_ARM64_SKIP_BUILD:-0}" = 1 ] || bash "$root/scripts/build-arm64.sh"
[ -x "$native/clapsearch" ] || { echo "test-arm64: no native build at $native (scripts/build.sh makes it)" >&2; exit 1; }
run="$build/qemu-run"
# qemu-aarch64 -cpu help lists the models and then exits 1: piped into grep under pipefail, the
# check failed on a qemu that has the model ("no cortex-a76 model").
models="$(qemu-aarch64 -cpu help || true)"
for cpu in $cpus; do
  grep -qw -- "$cpu" <<<"$models" || { echo "test-arm64: this qemu-aarch64 has no $cpu model (qemu-aarch64 -cpu help)" >&2; exit 1; }
done

work="$(mktemp -d /tmp/clapsearch-arm64-XXXXXX)"
trap 'rm -rf "$work"' EXIT
music="$work/music"
mkdir -p "$music/album"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
ff -f lavfi -i "sine=frequency=440:duration=14" -ac 2 -ar 44100 "$music/a440.mp3"
ff -f lavfi -i "sine=frequency=880:duration=6" -ar 48000 "$music/album/880.flac"
ff -f lavfi -i "anoisesrc=color=pink:duration=8:seed=3" -ar 22050 "$music/album/pink.ogg"
ff -f lavfi -i "anoisesrc=color=brown:duration=12:seed=5" -ar 44100 "$music/brown.m4a"

# The native reference: embeddings (each precision) and the search results.
embed_args=(--model "$model" --audio "$music/a440.mp3" --audio "$music/album/pink.ogg" --text "a pure sine tone" --text "noise")
for p in fp32 bf16 int8; do "$native/clapsearch" embed "${embed_args[@]}" --precision "$p" >"$work/native-$p.jsonl"; done
"$native/clapsearch" index "$music" --db "$work/native.db" --model "$model" >/dev/null
"$native/clapsearch" search "a pure sine tone" --db "$work/native.db" --model "$model" -k 4 --json >"$work/native-search.json"

compare() {  # compare.py-like check of two embed outputs or two search outputs
  python3 - "$@" <<'EOF'
import json, math, sys
kind, a, b, tol_abs, tol_cos = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
if kind == "embed":
    A = [json.loads(l) for l in open(a)]; B = [json.loads(l) for l in open(b)]
    assert len(A) == len(B), "different line counts"
    worst_abs, worst_cos = 0.0, 1.0
    for x, y in zip(A, B):
        u, v = x["embedding"], y["embedding"]
        worst_abs = max(worst_abs, max(abs(p - q) for p, q in zip(u, v)))
        dot = sum(p * q for p, q in zip(u, v)); nu = math.sqrt(sum(p * p for p in u)); nv = math.sqrt(sum(q * q for q in v))
        worst_cos = min(worst_cos, dot / (nu * nv))
    ok = worst_abs <= tol_abs and worst_cos >= tol_cos
    print(f"max|diff| {worst_abs:.3g} (<= {tol_abs:g}), min cosine {worst_cos:.8f} (>= {tol_cos})", "ok" if ok else "FAIL")
else:
    A = json.load(open(a)); B = json.load(open(b))
    pa = [r["path"] for r in A]; pb = [r["path"] for r in B]
    diff = max(abs(x["score"] - y["score"]) for x, y in zip(A, B)) if A else 0.0
    ok = pa == pb and diff <= tol_abs and len(A) > 0
    print(f"{len(A)} results, same order: {pa == pb}, max score difference {diff:.3g} (<= {tol_abs:g})", "ok" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
}

status=0
for cpu in $cpus; do
  export QEMU_CPU="$cpu"
  echo "== $cpu: $("$run" "$build/clapsearch" --version | grep -i 'cpu\|features' | head -2 | tr '\n' ' ')"
  start=$SECONDS
  if ! (cd "$build" && ctest -R "$tests" -j"$jobs" --output-on-failure --timeout 1800 | tail -n 4); then status=1; fi
  echo "== $cpu: model tests $((SECONDS - start)) s"
  start=$SECONDS
  # Tolerances: fp32 the golden parity's (1e-4, 0.99999); bf16 and int8 against the native
  # run's same precision, the cross-family bounds the precision tests assert (0.99999).
  # (bf16 and int8: cosine only, as those tests; their max |difference| is printed.)
  for p in fp32 bf16 int8; do
    "$run" "$build/clapsearch" embed "${embed_args[@]}" --precision "$p" >"$work/arm-$p.jsonl"
    echo -n "   embed $p vs native: "
    tol_abs=1e-4
    [ "$p" = fp32 ] || tol_abs=inf
    compare embed "$work/native-$p.jsonl" "$work/arm-$p.jsonl" "$tol_abs" 0.99999 || status=1
  done
  rm -f "$work/arm.db"*
  "$run" "$build/clapsearch" index "$music" --db "$work/arm.db" --model "$model" >/dev/null
  "$run" "$build/clapsearch" search "a pure sine tone" --db "$work/arm.db" --model "$model" -k 4 --json >"$work/arm-search.json"
  echo -n "   index + search vs native: "
  compare search "$work/native-search.json" "$work/arm-search.json" 1e-4 0 || status=1
  echo "== $cpu: real files $((SECONDS - start)) s"
done
[ "$status" = 0 ] && echo "test-arm64: all passed" || echo "test-arm64: FAILED"
exit "$status"
