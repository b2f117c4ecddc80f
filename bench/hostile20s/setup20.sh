#!/bin/bash
# Hostile pass 20 (server): a small library for the generators. Six tones (one title and one file
# name in NFD, one in NFC, one a 200-byte name), indexed with the tiny test model; users alice
# (admin), bob, carol (passwords alicepw, bobpw, carolpw).
# Usage: setup20.sh CLAPSEARCH MODEL_DIR OUT_DIR
set -eu
cli="$1"; model="$2"; out="$3"
rm -rf "$out"; mkdir -p "$out/music/Artist/Album"
tone() { ffmpeg -loglevel error -y -f lavfi -i "sine=f=$1:d=12" -metadata title="$2" -metadata artist=Artist -metadata album=Album "$3"; }
tone 440 "Plain" "$out/music/Artist/Album/01 plain.flac"
tone 550 "$(printf 'Cafe\xcc\x81 NFD')" "$out/music/Artist/Album/$(printf '02 cafe\xcc\x81.flac')"
tone 660 "$(printf 'Caf\xc3\xa9 NFC')" "$out/music/Artist/Album/$(printf '03 caf\xc3\xa9.flac')"
tone 770 "Long" "$out/music/Artist/Album/04 $(printf 'x%.0s' $(seq 1 200)).flac"
tone 880 "Mp3" "$out/music/Artist/Album/05 mp3.mp3"
tone 990 "Ogg" "$out/music/Artist/Album/06 ogg.ogg"
export HF_HUB_OFFLINE=1
"$cli" index "$out/music" --db "$out/lib.db" --model "$model" -q > /dev/null
for u in alice bob carol; do
  admin=""; [ "$u" = alice ] && admin="--admin"
  echo "${u}pw" | "$cli" user add "$u" $admin --db "$out/lib.db" > /dev/null
done
echo "ready: $out/lib.db"
