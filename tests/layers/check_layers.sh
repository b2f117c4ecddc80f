#!/usr/bin/env bash
# The layer rules on #include lines (the link checks in CMakeLists.txt enforce them on symbols):
# a file under src/<layer>/ may include only the layers listed for it, and each third-party
# library is confined to the one layer that wraps it.
#   check_layers.sh SRC_DIR        exit 1 and list every violation
#   check_layers.sh --self-test    the check must catch a planted violation
set -euo pipefail

declare -A allowed=(
  [core]="core"
  [tensor]="tensor core"
  [checkpoint]="checkpoint core"
  [model]="model checkpoint tensor core"
  [train]="train checkpoint core"
  [audio]="audio core"
  [search]="search core"
  [store]="store core"
  [hub]="hub core"
  [plot]="plot core"
  [index]="index store model checkpoint audio hub core"
  [service]="service index search store hub train plot model checkpoint audio core"
  [server]="server service index search store hub train model checkpoint core"
  [cli]="cli server service index search store hub train model checkpoint core"
)
# Third-party headers and the one layer allowed to include them.
declare -A confined=(
  ["sqlite3.h"]="store"
  ["libpq-fe.h"]="store"
  ["faiss/"]="search"
  ["curl/"]="hub"
  ["libav"]="audio"
  ["libswresample"]="audio"
  ["chromaprint.h"]="audio"
  ["oneapi/dnnl"]="tensor"
  ["pcre2.h"]="model"
  ["httplib.h"]="server"
  ["cairo"]="plot"
  ["mpd/"]="cli"
)

check() {
  local src="$1" bad=0
  for dir in "$src"/*/; do
    local layer; layer="$(basename "$dir")"
    if [ -z "${allowed[$layer]+x}" ]; then
      echo "src/$layer: a folder with no place in the layer order (add it to the table here and in CMakeLists.txt)"
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
          if [[ "$inc" == "<$lib"* && "$layer" != "${confined[$lib]}" ]]; then
            echo "${file#"$src"/}: includes $inc, which only ${confined[$lib]}/ may use"
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
  mkdir -p "$tmp/tensor" "$tmp/model" "$tmp/search"
  echo '#include "model/config.h"' > "$tmp/tensor/ops.h"
  echo '#include "tensor/ops.h"' > "$tmp/model/ok.h"
  echo '#include <sqlite3.h>' > "$tmp/search/x.cpp"
  out="$(check "$tmp" || true)"
  grep -q 'tensor/ops.h: includes "model/config.h"' <<<"$out" || { echo "self-test: upward include not caught"; exit 1; }
  grep -q 'search/x.cpp: includes <sqlite3.h>' <<<"$out" || { echo "self-test: confined library not caught"; exit 1; }
  grep -q 'model/ok.h' <<<"$out" && { echo "self-test: allowed include reported"; exit 1; }
  echo "self-test passed"
  exit 0
fi

if check "$1"; then echo "layers: every #include follows the layer order"; else exit 1; fi
