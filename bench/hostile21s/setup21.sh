#!/bin/bash
# Hostile pass 21 (server): pass 20's library (setup20.sh: six tones, NFC/NFD and a 200-byte name)
# plus a song with embedded cover art (an MP3 with an attached PNG) and a folder cover.jpg, indexed
# with the tiny test model into a SQLite file or a PostgreSQL database; users alice (admin), bob,
# carol (passwords alicepw, bobpw, carolpw); an API key for bob written to OUT/bob.key.
# Usage: setup21.sh CLAPSEARCH MODEL_DIR OUT_DIR [POSTGRES_URL]
# (a PostgreSQL index's key file is under $XDG_DATA_HOME: set it to a folder of the run's own)
set -eu
cli="$1"; model="$2"; out="$3"; db="${4:-$out/lib.db}"
rm -rf "$out"; mkdir -p "$out/music/Artist/Album" "$out/music/Artist/Covered"
tone() { ffmpeg -loglevel error -y -f lavfi -i "sine=f=$1:d=12" -metadata title="$2" -metadata artist=Artist -metadata album="${4:-Album}" "$3"; }
tone 440 "Plain" "$out/music/Artist/Album/01 plain.flac"
tone 550 "$(printf 'Cafe\xcc\x81 NFD')" "$out/music/Artist/Album/$(printf '02 cafe\xcc\x81.flac')"
tone 660 "$(printf 'Caf\xc3\xa9 NFC')" "$out/music/Artist/Album/$(printf '03 caf\xc3\xa9.flac')"
tone 770 "Long" "$out/music/Artist/Album/04 $(printf 'x%.0s' $(seq 1 200)).flac"
tone 880 "Mp3" "$out/music/Artist/Album/05 mp3.mp3"
tone 990 "Ogg" "$out/music/Artist/Album/06 ogg.ogg"
# Covers: an MP3 with its own picture; a FLAC in a folder with cover.jpg
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=320x240:d=1" -frames:v 1 "$out/pic.png"
tone 330 "Embedded" "$out/plain.mp3" Covered
ffmpeg -loglevel error -y -i "$out/plain.mp3" -i "$out/pic.png" -map 0 -map 1 -c copy -disposition:v attached_pic -id3v2_version 3 "$out/music/Artist/Covered/07 embedded.mp3"
tone 220 "Foldered" "$out/music/Artist/Covered/08 foldered.flac" Covered
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=400x300:d=1" -frames:v 1 "$out/music/Artist/Covered/cover.jpg"
export HF_HUB_OFFLINE=1
"$cli" index "$out/music" --db "$db" --model "$model" -q > /dev/null
for u in alice bob carol; do
  admin=""; [ "$u" = alice ] && admin="--admin"
  echo "${u}pw" | "$cli" user add "$u" $admin --db "$db" > /dev/null
done
"$cli" user key bob --db "$db" > "$out/bob.key"
echo "ready: $db"
