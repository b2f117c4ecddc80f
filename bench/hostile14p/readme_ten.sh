#!/usr/bin/env bash
# Hostile pass 14: README's "Everyday use" block run literally by a new user (a fresh HOME with
# ~/Music holding a.flac, b.flac, some/track.flac and query.mp3 in the working folder), offline.
# The index line is run as written first (the default hub model, offline: what does it say?), then
# with CLAPSEARCH_MODEL naming the bundled tiny model if the CLI honours it, else --model.
# usage: readme_ten.sh CLAPSEARCH MODEL_DIR PORT
set -uo pipefail
B=$(realpath "$1"); MODEL=$(realpath "$2"); PORT=$3
H=$(mktemp -d /tmp/h14p-home-XXXXXX); trap 'rm -rf "$H"' EXIT
export HOME=$H HF_HUB_OFFLINE=1 XDG_DATA_HOME= XDG_CACHE_HOME= CLAPSEARCH_DB=
mkdir -p "$H/Music/some" "$H/cwd"; cd "$H/cwd"
ff() { ffmpeg -nostdin -loglevel error -y -f lavfi -i "$1" "$2"; }
ff "sine=f=330:d=12" "$H/Music/a.flac"; ff "sine=f=550:d=12" "$H/Music/b.flac"
ff "anoisesrc=seed=3:color=pink:d=12" "$H/Music/some/track.flac"; ff "sine=f=440:d=6" query.mp3
for i in 1 2 3; do ff "sine=f=$((200 + 100 * i)):d=8" "$H/Music/t$i.flac"; done
clap() { echo "\$ clapsearch $*"; "$B" "$@" >out.txt 2>err.txt; echo "  rc $? | $(head -c 300 out.txt | tr '\n' ' ') | $(tail -c 300 err.txt | tr '\n' ' ')"; }
clap index ~/Music
clap index ~/Music --model "$MODEL"
clap status
clap search "female vocalist"
clap like query.mp3
clap similar ~/Music/some/track.flac
clap playlist --seed ~/Music/a.flac --text "rainy day" --m3u ~/Music/rainy.m3u8
echo "  m3u: $(head -c 200 ~/Music/rainy.m3u8 2>&1 | tr '\n' ' ')"
clap path ~/Music/a.flac ~/Music/b.flac
clap duplicates
"$B" serve --port "$PORT" >serve.out 2>serve.err & S=$!
for _ in $(seq 50); do curl -s "127.0.0.1:$PORT/api/status" >/dev/null && break; sleep 0.2; done
echo "\$ clapsearch serve (--port $PORT): / $(curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:$PORT/) search $(curl -s '127.0.0.1:'$PORT'/api/search?q=rain&k=2' | head -c 160)"
kill $S; wait $S; echo "  serve rc $? | $(tail -c 200 serve.err | tr '\n' ' ')"
clap finetune --out my-clap
ls my-clap >/dev/null 2>&1 && clap search "rain" --model my-clap
