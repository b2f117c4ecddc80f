#!/bin/bash
# Hostile pass 21 (server): getCoverArt of a song with an embedded picture (an MP3, id 7) and of one
# with a cover.jpg beside it (a FLAC, id 8), their album and folder, raw and scaled, while one
# FFmpeg library cannot be loaded (an empty file bound over it in a private mount namespace, root:
# unshare -m, as media20.sh), then with every library back. Each answer must be a picture or a
# clear error naming the library (never 200 with an empty or cut body, never a hang, never a
# crash), and the server must keep serving (ping after each). A fresh cover cache each run (a
# cached scaled picture is served without decoding).
# Also a transcode of the MP3 that carries a picture (a video stream beside its audio).
# Usage (root): cover21.sh CLAPSEARCH DIR_OF_SETUP21 PORT
set -u
cli="$1"; dir="$2"; port="$3"; tok=token-h21s
out="$dir/cover"; mkdir -p "$out"
lib_path() { ldconfig -p | grep -oE "/[^ ]*/$1" | head -1; }
: > "$out/empty.so"
auth="u=bob&p=bobpw&v=1.16.1&c=c21&f=json"
probe() {  # name, url: status, length, type, first bytes
  local name="$1"; shift
  local r; r=$(curl -s -m 60 -o "$out/body" -w '%{http_code} %{size_download} %{content_type}' "$@")
  echo "$name: $r $(head -c 300 "$out/body" | tr -d '\0' | tr '\n' ' ' | LC_ALL=C tr -c '[:print:]' '.')"
}
for broken in libavformat.so.59 libavcodec.so.59 libavutil.so.57 libswscale.so.6 libswresample.so.4 none; do
  real=""; [ "$broken" != none ] && { real="$(lib_path "$broken")"; [ -n "$real" ] || { echo "== $broken: not found"; continue; }; }
  cp "$dir/lib.db" "$out/lib.db"; cp "$dir/lib.db.key" "$out/lib.db.key"; chmod 600 "$out/lib.db.key"; rm -f "$out/lib.db-wal" "$out/lib.db-shm"
  rm -rf "$out/cache"; mkdir -p "$out/cache"
  echo "== $broken"
  if [ "$broken" = none ]; then
    XDG_CACHE_HOME="$out/cache" "$cli" serve --db "$out/lib.db" --port "$port" --token "$tok" -q > "$out/serve.log" 2>&1 &
  else
    XDG_CACHE_HOME="$out/cache" unshare -m bash -c 'mount --bind "$1" "$2" || exit 99; exec "$3" serve --db "$4" --port "$5" --token "$6" -q' _ \
      "$out/empty.so" "$real" "$cli" "$out/lib.db" "$port" "$tok" > "$out/serve.log" 2>&1 &
  fi
  pid=$!
  for i in $(seq 1 100); do curl -s -m 2 "http://127.0.0.1:$port/rest/ping?$auth" > /dev/null && break; sleep 0.2; done
  base="http://127.0.0.1:$port/rest"
  album=$(curl -s "$base/getSong?$auth&id=7" | python3 -c 'import json,sys; print(json.load(sys.stdin)["subsonic-response"]["song"]["albumId"])')
  folder=$(curl -s "$base/getSong?$auth&id=7" | python3 -c 'import json,sys; print(json.load(sys.stdin)["subsonic-response"]["song"]["parent"])')
  for id in 7 8 "$album" "$folder"; do
    for size in "" "&size=64" "&size=300" "&size=5000"; do
      probe "getCoverArt id=$id$size" "$base/getCoverArt?$auth&id=$id$size"
    done
    probe "ping" "$base/ping?$auth"
  done
  probe "stream id=7 opus" "$base/stream?$auth&id=7&format=opus"
  probe "stream id=7 mp3 64k" "$base/stream?$auth&id=7&format=mp3&maxBitRate=64"
  probe "getLyricsBySongId id=7" "$base/getLyricsBySongId?$auth&id=7"
  probe "ping (last)" "$base/ping?$auth"
  kill -0 $pid 2>/dev/null && echo "server alive" || { echo "SERVER GONE"; tail -5 "$out/serve.log"; }
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  tail -3 "$out/serve.log"
done
