#!/usr/bin/env bash
# Hostile pass 16's fixture (as passes 12-15 described theirs; their make_lib.sh was never
# committed): DIR/music with 8 sine tones tone0..tone7.flac (cases_py.py reads tone0), white.wav and a Latin-1 named
# 'pink caf\xe9.ogg', indexed with MODEL into DIR/lib.db; users bob/bobpw (admin), alice/alicepw
# and u/pw-123456 (bench/hostile13p/subsonic_client.mjs's).
# usage: make_lib.sh CLAPSEARCH MODEL_DIR DIR
set -euo pipefail
B=$(realpath "$1"); MODEL=$(realpath "$2"); D=$3
mkdir -p "$D/music"; D=$(realpath "$D")
export HF_HUB_OFFLINE=1 CLAPSEARCH_DB=
ff() { ffmpeg -nostdin -loglevel error -y -f lavfi -i "$1" "$2"; }
for i in 0 1 2 3 4 5 6 7; do ff "sine=f=$((150 + 110 * i)):d=5" "$D/music/tone$i.flac"; done
ff "anoisesrc=c=white:d=6:a=0.3:seed=1" "$D/music/white.wav"
ff "anoisesrc=c=pink:d=6:a=0.3:seed=2" "$D/music/pink.ogg"
mv "$D/music/pink.ogg" "$D/music/pink caf"$'\xe9'".ogg"
"$B" index "$D/music" --db "$D/lib.db" --model "$MODEL" -q
printf 'bobpw\n' | "$B" user add bob --admin --db "$D/lib.db" >/dev/null
printf 'alicepw\n' | "$B" user add alice --db "$D/lib.db" >/dev/null
printf 'pw-123456\n' | "$B" user add u --db "$D/lib.db" >/dev/null
echo "$D/lib.db"
