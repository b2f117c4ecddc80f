#!/bin/bash
# Start.MediaLibrariesLoadOnlyWhenACommandUsesThem: the CLI loads FFmpeg, Chromaprint and libsoxr
# (src/audio/ffmpeg_library.h) when a command first needs them, not at its start, where they
# were ~134 of its ~154 shared objects and half of its CPU. Checked with the dynamic loader's own
# account (LD_DEBUG=libs: one "calling init" per object it initialises):
# - no DT_NEEDED entry of the executable names them (a call that bypasses ffmpeg_library.h
#   then fails the link);
# - --help, a command's --help, a usage error and `status` of a missing index initialise none;
# - --version, which prints their versions, initialises them and prints FFmpeg's version;
# - when one cannot be loaded (root only: an empty file bound over libchromaprint in a mount
#   namespace of this test's own), --version still exits 0 and names it, and `index` names it
#   and exits 1: an error, never a crash (a destructor freeing nothing must not try to load
#   them); the run's error, with nothing recorded, so that `index` with the library back
#   indexes the file (recorded as the file's own error, it was "unchanged" from then on);
#   `embed` of audio files names it once, as the run's error, and writes nothing; so do
#   `index --precision auto` (no "no audio to measure on" first), `doctor --fidelity` (not "no
#   audio file could be embedded"), `eval` of a file not in the index (not a "skipped" line and
#   an evaluation of the indexed files only, exit 0) and `index --watch` (exits, nothing made);
#   `serve` answers an uploaded query 503 naming the library (not 415 "not audio": H20S-1), and
#   getCoverArt and getLyricsBySongId of a song with an embedded picture and lyrics (a cover.jpg
#   beside it) fail naming it: not the folder's picture for the file's own, not "no lyrics" (H21S-1).
# Usage: media_libraries.sh DIR_OF_CLAPSEARCH MODEL_DIR
set -u
cli="$1/clapsearch"
media='lib(avformat|avcodec|avutil|swresample|swscale|chromaprint|soxr)\.so'
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0

needed="$(readelf -d "$cli" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -E "^$media" | paste -sd' ' -)"
if [ -n "$needed" ]; then
  echo "FAIL: the executable links the media libraries (DT_NEEDED): $needed"
  fail=1
fi

# run NAME ARGS...: the command under LD_DEBUG=libs; its loader account in $tmp/NAME.libs.
run() {
  local name="$1"
  shift
  LD_DEBUG=libs LD_DEBUG_OUTPUT="$tmp/$name.debug" "$cli" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
  cat "$tmp/$name".debug.* > "$tmp/$name.libs" 2> /dev/null
  if ! grep -q 'calling init' "$tmp/$name.libs"; then
    echo "FAIL: no loader account of clapsearch $* (LD_DEBUG=libs wrote nothing)"
    fail=1
  fi
}

for case in "help:--help" "search-help:search --help" "usage-error:search --no-such-option" "status:status --db $tmp/none.db"; do
  name="${case%%:*}"
  read -r -a args <<< "${case#*:}"
  run "$name" "${args[@]}"
  loaded="$(grep 'calling init' "$tmp/$name.libs" | grep -oE "$media[.0-9]*" | sort -u | paste -sd' ' -)"
  if [ -n "$loaded" ]; then
    echo "FAIL: clapsearch ${args[*]} loads $loaded at its start"
    fail=1
  fi
done

run version --version
for lib in avformat avcodec avutil swresample chromaprint soxr; do
  if ! grep 'calling init' "$tmp/version.libs" | grep -qE "lib$lib\.so"; then
    echo "FAIL: clapsearch --version did not load lib$lib (it prints the versions of the libraries it uses)"
    fail=1
  fi
done
if ! grep -qE '^FFmpeg +[^ ].*\(libavformat [0-9]+\.[0-9]+\.[0-9]+' "$tmp/version.out"; then
  echo "FAIL: clapsearch --version prints no FFmpeg version:"
  cat "$tmp/version.out"
  fail=1
fi

# A library that cannot be loaded.
chromaprint="$(grep 'calling init' "$tmp/version.libs" | grep -oE '/[^ ]*/libchromaprint\.so[.0-9]*' | head -1)"
if [ "$(id -u)" = 0 ] && [ -n "$chromaprint" ] && unshare -m true 2> /dev/null && command -v ffmpeg > /dev/null; then
  : > "$tmp/empty.so"
  mkdir -p "$tmp/music"
  ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:duration=3" "$tmp/music/tone.wav"
  ffmpeg -loglevel error -f lavfi -i "sine=frequency=880:duration=3" "$tmp/other.wav"
  HF_HUB_OFFLINE=1 "$cli" index "$tmp/music" --db "$tmp/good.db" --model "$2" -q > /dev/null 2>&1
  printf 'path,label\n%s,low\n%s,high\n' "$tmp/music/tone.wav" "$tmp/other.wav" > "$tmp/labels.csv"
  # The served index: one MP3 with its own picture and lyrics, a cover.jpg beside it; a user.
  mkdir -p "$tmp/covered"
  ffmpeg -loglevel error -f lavfi -i "sine=frequency=330:duration=3" -c:a libmp3lame "$tmp/plain.mp3"
  ffmpeg -loglevel error -f lavfi -i "testsrc=size=64x48:d=1" -frames:v 1 "$tmp/picture.png"
  ffmpeg -loglevel error -i "$tmp/plain.mp3" -i "$tmp/picture.png" -map 0 -map 1 -c copy -disposition:v attached_pic \
    -id3v2_version 3 -metadata "lyrics=words sung" "$tmp/covered/song.mp3"
  ffmpeg -loglevel error -f lavfi -i "testsrc=size=40x30:d=1" -frames:v 1 "$tmp/covered/cover.jpg"
  HF_HUB_OFFLINE=1 "$cli" index "$tmp/covered" --db "$tmp/covers.db" --model "$2" -q > /dev/null 2>&1
  printf 'secretpw\n' | "$cli" user add bob --db "$tmp/covers.db" > /dev/null 2>&1
  unshare -m bash -c 'mount --bind "$1" "$2" || exit 99
    "$3" --version > "$4/broken-version.out" 2>&1; echo "$?" > "$4/broken-version.rc"
    HF_HUB_OFFLINE=1 "$3" index "$4/music" --db "$4/broken.db" --model "$5" > "$4/broken-index.out" 2>&1
    echo "$?" > "$4/broken-index.rc"
    "$3" embed --model "$5" --audio "$4/music/tone.wav" --audio "$4/music/tone.wav" > "$4/broken-embed.out" 2> "$4/broken-embed.err"
    echo "$?" > "$4/broken-embed.rc"
    HF_HUB_OFFLINE=1 "$3" index "$4/music" --db "$4/auto.db" --model "$5" --precision auto > "$4/broken-auto.out" 2>&1
    echo "$?" > "$4/broken-auto.rc"
    HF_HUB_OFFLINE=1 "$3" doctor --model "$5" --precision bf16 --fidelity "$4/music" > "$4/broken-fidelity.out" 2>&1
    echo "$?" > "$4/broken-fidelity.rc"
    "$3" eval zero-shot --labels-csv "$4/labels.csv" --db "$4/good.db" > "$4/broken-eval.out" 2>&1
    echo "$?" > "$4/broken-eval.rc"
    HF_HUB_OFFLINE=1 timeout 120 "$3" index "$4/music" --db "$4/watch.db" --model "$5" --watch > "$4/broken-watch.out" 2>&1
    echo "$?" > "$4/broken-watch.rc"
    # serve: an uploaded query (POST /api/like), a cover and lyrics while no audio can be decoded.
    HF_HUB_OFFLINE=1 XDG_CACHE_HOME="$4/cache" "$3" serve --db "$4/covers.db" --port 0 > "$4/serve.out" 2> "$4/serve.err" &
    server=$!
    for _ in $(seq 1 300); do
      url="$(sed -n "s|^clapsearch serve: listening on \(http://[^ ]*\)$|\1|p" "$4/serve.out")"
      [ -n "$url" ] && break
      kill -0 "$server" 2> /dev/null || break
      sleep 0.1
    done
    if [ -n "$url" ]; then
      curl -s -o "$4/broken-upload.out" -w "%{http_code}" -F "file=@$4/other.wav" "$url/api/like" > "$4/broken-upload.code"
      curl -s -o /dev/null -w "%{http_code}" "$url/api/status" > "$4/after-upload.code"
      auth="u=bob&p=secretpw&v=1.16.1&c=test&f=json"
      curl -s -o "$4/broken-cover.out" -w "%{content_type}" "$url/rest/getCoverArt?$auth&id=1" > "$4/broken-cover.type"
      curl -s -o "$4/broken-lyrics.out" "$url/rest/getLyricsBySongId?$auth&id=1"
      curl -s -o "$4/after-media.out" "$url/rest/ping?$auth"
    fi
    kill "$server" 2> /dev/null
    wait "$server" 2> /dev/null' _ "$tmp/empty.so" "$chromaprint" "$cli" "$tmp" "$2"
  if [ "$(cat "$tmp/broken-version.rc")" != 0 ] || ! grep -qE '^FFmpeg +not loaded: cannot load libavformat\.so\.[0-9]+ .*libchromaprint' "$tmp/broken-version.out"; then
    echo "FAIL: with libchromaprint unloadable, --version exited $(cat "$tmp/broken-version.rc") and printed:"
    cat "$tmp/broken-version.out"
    fail=1
  fi
  if [ "$(cat "$tmp/broken-index.rc")" != 1 ] || ! grep -q 'cannot load libavformat.*libchromaprint' "$tmp/broken-index.out"; then
    echo "FAIL: with libchromaprint unloadable, index exited $(cat "$tmp/broken-index.rc") (1 and the reason wanted):"
    cat "$tmp/broken-index.out"
    fail=1
  fi
  # embed: the run's error, once, with no output; it was each audio input's own error (one
  # stderr line and one JSON "error" line per file, exit 2: hostile pass 19, H19C-2).
  if [ "$(cat "$tmp/broken-embed.rc")" != 1 ] || [ "$(grep -c 'cannot load libavformat.*libchromaprint' "$tmp/broken-embed.err")" != 1 ] ||
     [ -s "$tmp/broken-embed.out" ]; then
    echo "FAIL: with libchromaprint unloadable, embed of two files exited $(cat "$tmp/broken-embed.rc") (1, the reason once and no output wanted):"
    cat "$tmp/broken-embed.err" "$tmp/broken-embed.out"
    fail=1
  fi
  # Every command whose work is decoding: the run's error, named, exit 1 (H20C-2).
  for name in auto fidelity eval watch; do
    if [ "$(cat "$tmp/broken-$name.rc")" != 1 ] || ! grep -q 'cannot load libavformat.*libchromaprint' "$tmp/broken-$name.out" ||
       grep -qE 'no audio|skipped|could be embedded' "$tmp/broken-$name.out"; then
      echo "FAIL: with libchromaprint unloadable, $name exited $(cat "$tmp/broken-$name.rc") (1 and only the library's reason wanted):"
      cat "$tmp/broken-$name.out"
      fail=1
    fi
  done
  # An upload while the server cannot load FFmpeg: 503 naming the library, not 415 "not audio",
  # which blamed the client's file (hostile pass 20, H20S-1); the server goes on answering.
  if [ "$(cat "$tmp/broken-upload.code" 2> /dev/null)" != 503 ] ||
     ! grep -q '"audio decoding unavailable".*cannot load libavformat.*libchromaprint' "$tmp/broken-upload.out" ||
     [ "$(cat "$tmp/after-upload.code" 2> /dev/null)" != 200 ]; then
    echo "FAIL: with libchromaprint unloadable, POST /api/like answered $(cat "$tmp/broken-upload.code" 2> /dev/null) (503 naming the library wanted), then /api/status $(cat "$tmp/after-upload.code" 2> /dev/null) (200 wanted):"
    cat "$tmp/broken-upload.out" "$tmp/serve.out" "$tmp/serve.err" 2> /dev/null
    fail=1
  fi
  # A cover or lyrics while the server cannot load FFmpeg: the reason, not the picture beside the
  # file for the file's own (or "no cover art") and not an empty list of lyrics (hostile pass 21,
  # H21S-1); the server goes on answering.
  for what in cover lyrics; do
    if ! grep -q '"status":"failed".*cannot load libavformat.*libchromaprint' "$tmp/broken-$what.out" 2> /dev/null ||
       ! grep -q '"status":"ok"' "$tmp/after-media.out" 2> /dev/null; then
      echo "FAIL: with libchromaprint unloadable, getCoverArt answered $(cat "$tmp/broken-cover.type" 2> /dev/null); the song's $what was:"
      head -c 300 "$tmp/broken-$what.out" | tr -c '[:print:]\n' '.'
      echo
      cat "$tmp/after-media.out" "$tmp/serve.err" 2> /dev/null
      fail=1
    fi
  done
  # Nothing recorded: no track, and no precision "chosen" on a sample the library left empty
  # (main recorded "--precision auto: no audio to measure on ... fp32 is kept").
  for db in auto watch; do
    [ -e "$tmp/$db.db" ] || continue
    "$cli" status --db "$tmp/$db.db" > "$tmp/$db.status" 2>&1
    if grep -q 'no audio to measure on' "$tmp/$db.status" || ! grep -qE '^tracks +0 ' "$tmp/$db.status"; then
      echo "FAIL: the failed $db run recorded a precision choice or tracks:"
      cat "$tmp/$db.status"
      fail=1
    fi
  done
  # The library back: the file is indexed, not left as an error of its own.
  HF_HUB_OFFLINE=1 "$cli" index "$tmp/music" --db "$tmp/broken.db" --model "$2" --json > "$tmp/fixed-index.out" 2>&1
  if ! grep -qE '"indexed": *1\b' "$tmp/fixed-index.out"; then
    echo "FAIL: with the library back, index did not index the file (recorded as its error while the library was gone?):"
    cat "$tmp/fixed-index.out"
    fail=1
  fi
else
  echo "(not root, no unshare or no ffmpeg: the unloadable library is not checked)"
fi

[ "$fail" = 0 ] && echo "ok: the media libraries load only when a command uses them"
exit "$fail"
