#!/usr/bin/env bash
# The layer rules on #include lines (the link checks in CMakeLists.txt enforce them on symbols),
# from the one layer table, src/layers.txt: a file under src/<layer>/ may include only its own
# layer and the layers listed for it, and each third-party header only in the layer listed with it.
# The benchmarks' layer lives outside src/, in bench/src/bench/ (SRC_DIR/../bench/src): checked
# the same way. With DESIGN_MD, also the "may use" column of that document's layer table must say
# the same.
#   check_layers.sh SRC_DIR [DESIGN_MD]   exit 1 and list every violation
#   check_layers.sh --self-test           the check must catch a planted violation
set -euo pipefail

declare -A allowed=()   # layer -> itself and the layers it may use
declare -A uses=()      # layer -> the layers it may use, as the table lists them
declare -A confined=()  # third-party header prefix -> the layers that may include it (usually one)
read_table() {
  local table="$1" line layer rest deps headers h
  [ -f "$table" ] || { echo "$table: missing (the layer table)"; exit 1; }
  while IFS= read -r line; do
    [[ "$line" =~ ^([a-z]+):(.*)$ ]] || continue
    layer="${BASH_REMATCH[1]}" rest="${BASH_REMATCH[2]}"
    deps="${rest%%|*}" headers=""
    [[ "$rest" == *"|"* ]] && headers="${rest#*|}"
    deps="$(echo $deps)"  # trimmed, single spaces
    uses[$layer]="$deps"
    allowed[$layer]="$layer${deps:+ $deps}"
    for h in $headers; do confined[$h]="${confined[$h]:+${confined[$h]} }$layer"; done
  done < "$table"
}

# The "| `layer/` | may use | holds |" rows of the design document against the table.
check_docs() {
  local doc="$1" bad=0 layer want got
  for layer in "${!uses[@]}"; do
    want="${uses[$layer]:-—}"; want="${want// /, }"
    got="$(awk -F'|' -v name="\`$layer/\`" '{ gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $3) }
                                            $2 == name { print $3; exit }' "$doc")"
    if [ "$got" != "$want" ]; then
      echo "${doc##*/}: the layer table says $layer/ may use \"$want\", the document says \"$got\""
      bad=1
    fi
  done
  return $bad
}

check() {
  local src="$1" bad=0 shown="${2:-src}"
  for dir in "$src"/*/; do
    local layer; layer="$(basename "$dir")"
    if [ -z "${allowed[$layer]+x}" ]; then
      echo "$shown/$layer: a folder with no place in the layer order (add it to src/layers.txt)"
      bad=1
      continue
    fi
    while IFS= read -r hit; do
      local file="${hit%%:*}" inc="${hit#*:}"
      inc="${inc#*\#include }"
      if [[ "$inc" == \"*/* ]]; then
        local target="${inc#\"}"; target="${target%%/*}"
        if [[ " ${allowed[$layer]} " != *" $target "* ]]; then
          echo "${file#"$src"/}: includes $inc, but $layer may only use: ${allowed[$layer]}"
          bad=1
        fi
      elif [[ "$inc" == \<* ]]; then
        for lib in "${!confined[@]}"; do
          if [[ "$inc" == "<$lib"* && " ${confined[$lib]} " != *" $layer "* ]]; then
            local owners="${confined[$lib]// //, }"
            echo "${file#"$src"/}: includes $inc, which only ${owners//,/\/,}/ may use"
            bad=1
          fi
        done
      fi
    done < <(grep -H '^#include ' "$dir"*.h "$dir"*.cpp 2>/dev/null || true)
  done
  return $bad
}

if [ "${1:-}" = "--self-test" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  read_table "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/src/layers.txt"
  mkdir -p "$tmp/tensor" "$tmp/model" "$tmp/search"
  echo '#include "model/config.h"' > "$tmp/tensor/ops.h"
  echo '#include "tensor/ops.h"' > "$tmp/model/ok.h"
  echo '#include <sqlite3.h>' > "$tmp/search/x.cpp"
  out="$(check "$tmp" || true)"
  grep -q 'tensor/ops.h: includes "model/config.h"' <<<"$out" || { echo "self-test: upward include not caught"; exit 1; }
  grep -q 'search/x.cpp: includes <sqlite3.h>' <<<"$out" || { echo "self-test: confined library not caught"; exit 1; }
  grep -q 'model/ok.h' <<<"$out" && { echo "self-test: allowed include reported"; exit 1; }
  mkdir -p "$tmp/benchroot/bench" "$tmp/cli"
  echo '#include <oneapi/dnnl/dnnl.h>' > "$tmp/cli/y.cpp"
  echo '#include "cli/common.h"' > "$tmp/benchroot/bench/z.cpp"
  out="$(check "$tmp/benchroot" bench/src; check "$tmp" || true)"
  grep -q 'bench/z.cpp: includes "cli/common.h"' <<<"$out" || { echo "self-test: bench/ including cli/ not caught"; exit 1; }
  grep -q 'cli/y.cpp: includes <oneapi/dnnl/dnnl.h>, which only bench/ may use' <<<"$out" || { echo "self-test: oneDNN outside bench/ not caught"; exit 1; }
  printf '| `tensor/` | core, model | x |\n' > "$tmp/design.md"
  out="$(check_docs "$tmp/design.md" || true)"
  grep -q 'says tensor/ may use "core", the document says "core, model"' <<<"$out" || { echo "self-test: a wrong document row not caught"; exit 1; }
  echo "self-test passed"
  exit 0
fi

read_table "$1/layers.txt"
bad=0
check "$1" || bad=1
bench_root="$1/../bench/src"
[ -d "$bench_root/bench" ] || { echo "$bench_root/bench: missing (the benchmarks' layer)"; exit 1; }
check "$bench_root" bench/src || bad=1
if [ -n "${2:-}" ]; then check_docs "$2" || bad=1; fi
[ "$bad" = 0 ] || exit 1
echo "layers: every #include follows the layer order${2:+, and ${2##*/} states it}"
