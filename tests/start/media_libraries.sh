#!/bin/bash
# Start.MediaLibrariesLoadOnlyWhenACommandUsesThem: the CLI loads FFmpeg, Chromaprint and libsoxr
# (src/audio/ffmpeg_library.h) when a command first needs them, not at its start, where they
# were ~134 of its ~154 shared objects and half of its CPU. Checked with the dynamic loader's own
# account (LD_DEBUG=libs: one "calling init" per object it initialises):
# - no DT_NEEDED entry of the executable names them (a call that bypasses ffmpeg_library.h
#   then fails the link);
# - --help, a command's --help, a usage error and `status` of a missing index initialise none;
# - --version, which prints their versions, initialises them and prints FFmpeg's version.
# Usage: media_libraries.sh DIR_OF_CLAPSEARCH
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
[ "$fail" = 0 ] && echo "ok: the media libraries load only when a command uses them"
exit "$fail"
