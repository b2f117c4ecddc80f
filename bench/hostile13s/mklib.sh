#!/bin/sh
# Hostile pass 13 (server): the libraries the pass runs against. Usage: mklib.sh CLAPSEARCH MODEL WORKDIR
# lib/: A/ four tagged FLACs (varied audio: chirps, noise, AM) and a cover, B/ odd names and tags,
#       D/ 30 byte-identical copies of A/s1.flac, X/ tags that are markup; users alice (admin), bob, carol.
# fp/:  fingerprint copies (P/): a 40 s song x re-encoded (MP3, 22 kHz mono OGG, trimmed by 5 s,
#       30 s longer with other audio after it), a different song y sharing x's first 20 s,
#       z sharing x's last half; 40 different songs sharing the same 6 s intro (I/), 60 re-encodes of x.
set -eu
B=$1 MODEL=$2 W=$3
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }
song() { # NAME SEED SECONDS: a song-like signal (chirps and noise, varied by seed)
  ff -f lavfi -i "aevalsrc=0.3*sin(2*PI*(220+$2*37+80*sin(0.7*t+$2))*t)*(0.6+0.4*sin(3*t+$2))+0.2*sin(2*PI*(440+$2*11)*t*(1+0.1*sin(t*$2)))|0.3*sin(2*PI*(330+$2*13)*t):s=44100:d=$3" \
     -f lavfi -i "anoisesrc=color=pink:seed=$2:d=$3:a=0.05" -filter_complex "[0][1]amix=inputs=2:normalize=0" -ar 44100 "$1"
}
mkdir -p "$W/lib/A" "$W/lib/B" "$W/lib/D" "$W/lib/X" "$W/fp/P" "$W/fp/I"
i=1; for a in Alpha Beta Gamma Delta; do
  song "$W/lib/A/t.wav" $((i*7)) 20
  ff -i "$W/lib/A/t.wav" -metadata title="Song $i" -metadata artist="$a" -metadata album="Album A" -metadata track=$i "$W/lib/A/s$i.flac"; i=$((i+1)); done
rm "$W/lib/A/t.wav"
ff -f lavfi -i "color=c=red:s=64x64" -frames:v 1 "$W/lib/A/cover.jpg"
song "$W/lib/B/t.wav" 51 15
ff -i "$W/lib/B/t.wav" -metadata title='<b>uni</b> ü' -metadata artist='../../etc' "$W/lib/B/uni.mp3"
ff -i "$W/lib/B/t.wav" -metadata title='weird' "$W/lib/B/we ird#?%.flac"; rm "$W/lib/B/t.wav"
for n in $(seq -w 1 30); do cp "$W/lib/A/s1.flac" "$W/lib/D/c$n.flac"; done
song "$W/lib/X/t.wav" 61 12
ff -i "$W/lib/X/t.wav" -metadata title='<script>alert(1)</script>' -metadata artist='"><img src=x onerror=alert(2)>' -metadata album="';alert(3)//" "$W/lib/X/xss1.flac"
ff -i "$W/lib/X/t.wav" -af volume=0.9 -metadata title='<svg onload=alert(4)>' -metadata artist='javascript:alert(5)' "$W/lib/X/xss2.flac"; rm "$W/lib/X/t.wav"
"$B" index "$W/lib" --db "$W/lib.db" -m "$MODEL" -q
echo alicepw | "$B" user add alice --admin --db "$W/lib.db"
echo bobpw | "$B" user add bob --db "$W/lib.db"
echo carolpw | "$B" user add carol --db "$W/lib.db"
# fp/
P=$W/fp/P
song "$P/x.wav" 3 40; song "$P/other30.wav" 9 30; song "$P/tail.wav" 17 20; song "$P/head.wav" 23 20
ff -i "$P/x.wav" -c:a flac "$P/x.flac"
ff -i "$P/x.wav" -b:a 128k "$P/x.mp3"
ff -i "$P/x.wav" -ac 1 -ar 22050 "$P/x22.ogg"
ff -i "$P/x.wav" -ss 5 "$P/xtrim.flac"
ff -i "$P/x.wav" -i "$P/other30.wav" -filter_complex "[0][1]concat=n=2:v=0:a=1" "$P/xlong.flac"
ff -i "$P/x.wav" -t 20 "$P/xhead.wav"; ff -i "$P/xhead.wav" -i "$P/tail.wav" -filter_complex "[0][1]concat=n=2:v=0:a=1" "$P/y_first20_of_x.flac"
ff -i "$P/x.wav" -ss 20 "$P/xtail.wav"; ff -i "$P/head.wav" -i "$P/xtail.wav" -filter_complex "[0][1]concat=n=2:v=0:a=1" "$P/z_last20_of_x.flac"
rm "$P"/*.wav
song "$W/fp/intro.wav" 29 6
for n in $(seq 1 40); do song "$W/fp/I/b.wav" $((100+n)) 34
  ff -i "$W/fp/intro.wav" -i "$W/fp/I/b.wav" -filter_complex "[0][1]concat=n=2:v=0:a=1" "$W/fp/I/i$(printf %02d $n).flac"; done
rm "$W/fp/I/b.wav" "$W/fp/intro.wav"
mkdir -p "$W/fp/R"; for n in $(seq 1 60); do ff -i "$P/x.flac" -b:a $((64+n))k "$W/fp/R/r$(printf %02d $n).mp3"; done
"$B" index "$W/fp" --db "$W/fp.db" -m "$MODEL" -q
echo bobpw | "$B" user add bob --db "$W/fp.db"
