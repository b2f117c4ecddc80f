#!/usr/bin/env bash
# clapsearch's audio tower beside ONNX Runtime's (fp32 and its dynamic int8), in one run
# (bench/onnx/README.md).
#
#   bench/onnx/compare.sh [--rounds N] [--clapsearch PATH] CONFIG_DIR...
#
# CONFIG_DIR: an architecture folder of bench/configs (default: both). For each, the audio tower
# is exported once to ONNX by export.py (needs PYTHONPATH with transformers and Debian's
# python3-torch and python3-onnx: the reference environment), then ORT fp32, ORT int8 and
# `clapsearch bench` fp32/bf16/int8 run in alternating rounds at 2 threads, batch 8; the best
# round of each is kept, and the ratios of clapsearch to ORT are printed. Where PyTorch and
# transformers import (the same environment), each round also times PyTorch's fp32 tower
# (time_torch.py) and the ratios to it are printed too. Exported models are cached in
# $CLAPSEARCH_ONNX_DIR (default ~/.cache/clapsearch/onnx). $PYTHON: the interpreter (python3).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=3
clapsearch="$root/build/clapsearch"
configs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    --clapsearch) clapsearch="${2:?--clapsearch needs a path}"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    *) configs+=("$(cd "$1" && pwd)"); shift ;;
  esac
done
[ ${#configs[@]} -gt 0 ] || configs=("$root/bench/configs/clap-htsat-unfused" "$root/bench/configs/larger_clap_music_and_speech")
[ -x "$clapsearch" ] || { echo "compare.sh: no clapsearch at $clapsearch (build it, or pass --clapsearch)" >&2; exit 1; }
command -v node >/dev/null || { echo "compare.sh: needs node (Debian's nodejs)" >&2; exit 1; }
[ -d "$here/node_modules/onnxruntime-node" ] ||
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)  # the CPU binaries are in the package
cache="${CLAPSEARCH_ONNX_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clapsearch/onnx}"
python="${PYTHON:-python3}"
torch=0
if "$python" -c 'import torch, transformers' 2>/dev/null; then
  torch=1
else
  echo "compare.sh: PyTorch or transformers does not import in $python: no PyTorch column" >&2
fi

best() { python3 -c 'import sys; print(min(float(x) for x in sys.argv[1:]))' "$@"; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

for config in "${configs[@]}"; do
  name="$(basename "$config")"
  out="$cache/$name"
  if [ ! -f "$out/audio_int8.onnx" ]; then
    echo "compare.sh: exporting $name to $out" >&2
    "$python" "$here/export.py" "$config/config.json" "$out" >&2
  fi
  declare -A times=()
  for ((r = 1; r <= rounds; ++r)); do
    for m in fp32 int8; do
      check=()
      [ "$r" = 1 ] && check=(--check "$out")  # the first round also compares with PyTorch's output
      line="$(node "$here/time.mjs" "$out/audio_$m.onnx" --threads 2 --batch 8 --repeat 3 "${check[@]}")"
      [ "$r" = 1 ] && echo "ort $m: $line" >&2
      times[ort_$m]+=" $(json_field ms_per_window <<<"$line")"
    done
    if [ "$torch" = 1 ]; then
      line="$("$python" "$here/time_torch.py" "$config/config.json" --threads 2 --batch 8 --repeat 3)"
      times[torch]+=" $(json_field ms_per_window <<<"$line")"
    fi
    for p in fp32 bf16 int8; do
      line="$("$clapsearch" bench --config "$config/config.json" --precision "$p" --threads 2 --batch 8 --windows 8 \
              --repeat 3 --json 2>/dev/null)"
      times[clap_$p]+=" $(json_field audio_ms_per_window <<<"$line")"
    done
    echo "compare.sh: $name round $r/$rounds done" >&2
  done
  ort32="$(best ${times[ort_fp32]})"; ort8="$(best ${times[ort_int8]})"
  echo "$name: best ms per 10 s window, 2 threads, batch 8, $rounds rounds (clapsearch includes its mel step)"
  [ "$torch" = 1 ] && pt="$(best ${times[torch]})" && printf '  %-16s %8.1f\n' "PyTorch fp32" "$pt"
  printf '  %-16s %8.1f\n' "ORT fp32" "$ort32" "ORT int8" "$ort8"
  for p in fp32 bf16 int8; do
    c="$(best ${times[clap_$p]})"
    vs_torch=""
    [ "$torch" = 1 ] && vs_torch="$(printf '   %.2fx PyTorch fp32' "$(python3 -c "print($c / $pt)")")"
    printf '  %-16s %8.1f   %.2fx ORT fp32   %.2fx ORT int8%s\n' "clapsearch $p" "$c" \
      "$(python3 -c "print($c / $ort32)")" "$(python3 -c "print($c / $ort8)")" "$vs_torch"
  done
  unset times
done
