#!/bin/bash
# Hostile pass 20 (server): `clapsearch serve` with one media library that cannot load (an empty
# file bound over it in a private mount namespace, root: unshare -m) or a stub of fewer functions,
# then every route that decodes or encodes: stream with format=mp3, format=opus, maxBitRate,
# timeOffset, format=raw, download, getCoverArt, the upload of /api/like (multipart and raw body),
# /api/similar. Each must answer a clear error (not a crash, not a hang, not 200 with an empty or
# cut body), and the server must keep serving (ping after each).
# Usage (root): media20.sh CLAPSEARCH DIR_OF_SETUP20 PORT
set -u
cli="$1"; dir="$2"; port="$3"; tok=token-h20s
out="$dir/media"; mkdir -p "$out"
lib_path() { ldconfig -p | grep -oE "/[^ ]*/$1" | head -1; }
: > "$out/empty.so"
echo 'int soxr_version_stub(void) { return 0; }' > "$out/stub.c"
gcc -shared -fPIC -o "$out/stub.so" "$out/stub.c"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=500:d=5" "$out/query.wav"
auth="u=bob&p=bobpw&v=1.16.1&c=m20&f=json"
probe() {  # name, curl args...: status, length, type, first bytes
  local name="$1"; shift
  local r; r=$(curl -s -m 60 -o "$out/body" -w '%{http_code} %{size_download} %{content_type}' "$@")
  echo "$name: $r $(head -c 400 "$out/body" | tr -d '\0' | tr '\n' ' ')"
}
for broken in "libavformat.so.59:empty" "libavcodec.so.59:empty" "libswresample.so.4:empty" "libsoxr.so.0:stub" "libmp3lame.so.0:empty" "libopus.so.0:empty"; do
  lib="${broken%%:*}"; kind="${broken#*:}"; real="$(lib_path "$lib")"
  [ -n "$real" ] || { echo "== $lib: not found"; continue; }
  cp "$dir/lib.db" "$out/lib.db"; cp "$dir/lib.db.key" "$out/lib.db.key"; chmod 600 "$out/lib.db.key"; rm -f "$out/lib.db-wal" "$out/lib.db-shm"
  echo "== $lib ($kind)"
  unshare -m bash -c 'mount --bind "$1" "$2" || exit 99; exec "$3" serve --db "$4" --port "$5" --token "$6" -q' _ \
    "$out/$kind.so" "$real" "$cli" "$out/lib.db" "$port" "$tok" > "$out/serve.log" 2>&1 &
  pid=$!
  for i in $(seq 1 50); do curl -s -m 2 "http://127.0.0.1:$port/rest/ping?$auth" > /dev/null && break; sleep 0.2; done
  base="http://127.0.0.1:$port"
  for id in 1 5 6; do
    probe "stream id=$id raw" "$base/rest/stream?$auth&id=$id&format=raw"
    probe "stream id=$id mp3" "$base/rest/stream?$auth&id=$id&format=mp3"
    probe "stream id=$id opus" "$base/rest/stream?$auth&id=$id&format=opus"
    probe "stream id=$id maxBitRate=64" "$base/rest/stream?$auth&id=$id&maxBitRate=64"
    probe "stream id=$id timeOffset=3" "$base/rest/stream?$auth&id=$id&timeOffset=3"
    probe "download id=$id" "$base/rest/download?$auth&id=$id"
    probe "getCoverArt id=$id" "$base/rest/getCoverArt?$auth&id=$id"
    probe "ping" "$base/rest/ping?$auth"
  done
  probe "api like multipart" -H "Authorization: Bearer $tok" -F "file=@$out/query.wav" "$base/api/like?k=3"
  probe "api like raw" -H "Authorization: Bearer $tok" --data-binary "@$out/query.wav" -H 'Content-Type: audio/wav' "$base/api/like?k=3"
  probe "api similar" -H "Authorization: Bearer $tok" "$base/api/similar?id=1&k=3"
  probe "api search" -H "Authorization: Bearer $tok" "$base/api/search?q=tone&k=3"
  probe "ping (last)" "$base/rest/ping?$auth"
  kill -0 $pid 2>/dev/null && echo "server alive" || { echo "SERVER GONE"; tail -5 "$out/serve.log"; }
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  tail -3 "$out/serve.log"
done
