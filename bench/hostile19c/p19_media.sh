#!/bin/bash
# Hostile pass 19: every command that decodes, with one media library unloadable (an empty file
# bound over it) or with a stub of fewer functions (an older soname: gcc -shared), in a private
# mount namespace (root, unshare -m), as tests/start/media_libraries.sh does. Then the same
# commands with the library back.
# Usage (root): p19_media.sh CLAPSEARCH MODEL_DIR OUT_DIR
set -u
cli="$1"; model="$2"; out="$3"
mkdir -p "$out/music"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=440:d=12" "$out/music/a.wav"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=660:d=12" "$out/music/b.wav"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=550:d=12" "$out/query.wav"
export HF_HUB_OFFLINE=1
"$cli" index "$out/music" --db "$out/lib.db" --model "$model" -q > /dev/null 2>&1
lib_path() { ldconfig -p | grep -oE "/[^ ]*/$1" | head -1; }
: > "$out/empty.so"
echo 'int soxr_version_stub(void) { return 0; }' > "$out/stub.c"
gcc -shared -fPIC -o "$out/stub.so" "$out/stub.c"
commands=(
  "index:index $out/music2 --db $out/new.db --model $model"
  "like:like $out/query.wav --db $out/lib.db"
  "search-seed:search piano --seed $out/query.wav --db $out/lib.db"
  "embed:embed --model $model --audio $out/query.wav"
  "analyze:analyze $out/query.wav piano --db $out/lib.db"
  "classify:classify $out/query.wav --labels piano,rock --db $out/lib.db"
  "overlaps:overlaps 1 --db $out/lib.db"
  "duplicates:duplicates --db $out/lib.db"
  "status:status --db $out/lib.db"
)
mkdir -p "$out/music2"; cp "$out/music/a.wav" "$out/music2/"
for broken in "libchromaprint.so.1:empty" "libsoxr.so.0:empty" "libsoxr.so.0:stub" "libswscale.so.6:empty" "libavformat.so.59:stub"; do
  lib="${broken%%:*}"; kind="${broken#*:}"; real="$(lib_path "$lib")"
  [ -n "$real" ] || { echo "== $lib: not found"; continue; }
  for c in "${commands[@]}"; do
    name="${c%%:*}"; args="${c#*:}"
    echo "== $lib ($kind) $name: clapsearch $args"
    unshare -m bash -c 'mount --bind "$1" "$2" || exit 99; shift 2; "$@" 2>&1 | head -c 600; exit ${PIPESTATUS[0]}' _ "$out/$kind.so" "$real" "$cli" $args
    echo "rc=$?"
  done
  echo "== $lib back: index $out/music2 --db $out/new.db"
  "$cli" index "$out/music2" --db "$out/new.db" --model "$model" --json 2>&1 | head -c 300; echo
  "$cli" status --db "$out/new.db" 2>&1 | grep -iE "error|tracks" | head -3
  rm -f "$out/new.db"*
done
