#!/usr/bin/env bash
# The main job: set up, build, then embed audio and text, index a folder of real encoded
# files (mp3, flac, ogg, opus, m4a, wav at different rates/channels), report status and search it.
# Model: $CLAPSEARCH_MODEL (a model folder, checkpoint file or hub id), else the default hub
# model when huggingface.co is reachable (downloaded once into the Hugging Face cache, with
# progress), else the small random-weight model bundled for the tests (tests/data/tiny-unfused).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLAPSEARCH_BUILD_TARGET=clapsearch bash "$root/scripts/build.sh"
cli="${CLAPSEARCH_BUILD_DIR:-$root/build}/clapsearch"
default_model=laion/larger_clap_music_and_speech
bundled_model="$root/tests/data/tiny-unfused"
if [ -n "${CLAPSEARCH_MODEL:-}" ]; then
  model="$CLAPSEARCH_MODEL"
elif timeout 5 bash -c ': </dev/tcp/huggingface.co/443' 2>/dev/null; then
  model="$default_model"
  echo "== model: $model (downloaded once into the Hugging Face cache on first use)"
else
  model="$bundled_model"
  echo "== no network access to huggingface.co: using the bundled small random-weight model $model (its rankings are meaningless; every step is the real one)"
fi
work="$(mktemp -d /tmp/clapsearch-demo-XXXXXX)"
music="$work/music"
mkdir -p "$music/album"
echo "== making a small library of real encoded files in $music"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
ff -f lavfi -i "sine=frequency=440:duration=14" -ac 2 -ar 44100 -metadata title="A440" -metadata artist="Demo" "$music/a440.mp3"
ff -f lavfi -i "sine=frequency=880:duration=6" -ar 48000 -metadata title="Eight-eighty" "$music/album/880.flac"
ff -f lavfi -i "anoisesrc=color=pink:duration=8:seed=3" -ar 22050 "$music/album/pink.ogg"
ff -f lavfi -i "sine=frequency=220:duration=5" -ac 2 -ar 48000 "$music/album/low.opus"
ff -f lavfi -i "anoisesrc=color=brown:duration=12:seed=5" -ar 44100 "$music/brown.m4a"
ff -f lavfi -i "sine=frequency=1000:duration=3" -ac 6 -ar 96000 "$music/surround.wav"
echo "== embed (JSON Lines, first 160 characters of each line)"
"$cli" embed --model "$model" --audio "$music/a440.mp3" --text "female vocalist" --text "warm lo-fi guitar" | cut -c1-160
echo "== index"
"$cli" index "$music" --db "$work/library.db" --model "$model"
echo "== status"
"$cli" status --db "$work/library.db"
echo "== search"
"$cli" search "a pure sine tone" --db "$work/library.db" --model "$model" -k 3 || true
echo "demo files and database left in $work"
echo
echo "== serve it: open the printed address in a browser (search, listen, more like this, the map)"
echo "   $cli serve --db $work/library.db"
