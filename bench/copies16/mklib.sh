#!/bin/sh
# copies16's libraries. Usage: mklib.sh CLAPSEARCH MODEL WORKDIR
# re/:    A/ four 20 s songs (bench/hostile13s/mklib.sh's recipe) and 300 MP3 re-encodes of A/s1.flac
#         (bit rates 64-320 kbit/s, volume 0.80-1.00) in R1/-R3/ (hostile14s's re/: `duplicates`
#         split them into one group per bit-rate class).
# crowd/: A/ as above, O/ eight more songs, and 400 MP3 re-encodes of A/s2.flac in C1/-C4/: another
#         song with hundreds of files near a seed (A/s1.flac) for `like --diversity`.
# kinds/: A/ as above and 100 files of A/s1.flac in each of three encodings (MP3 64, 96 and 192 kbit/s:
#         K64/, K96/, K192/; one encode each, then copies of it a comment tag apart: other bytes, one
#         embedding a kind). More than 16 files of a kind: each file's 16 nearest are its own kind's.
set -eu
B=$1 MODEL=$2 W=$3
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }
song() { # NAME SEED SECONDS: a song-like signal (chirps and noise, varied by seed)
  ff -f lavfi -i "aevalsrc=0.3*sin(2*PI*(220+$2*37+80*sin(0.7*t+$2))*t)*(0.6+0.4*sin(3*t+$2))+0.2*sin(2*PI*(440+$2*11)*t*(1+0.1*sin(t*$2)))|0.3*sin(2*PI*(330+$2*13)*t):s=44100:d=$3" \
     -f lavfi -i "anoisesrc=color=pink:seed=$2:d=$3:a=0.05" -filter_complex "[0][1]amix=inputs=2:normalize=0" -ar 44100 "$1"
}
songs() { # DIR: A/s1..s4
  mkdir -p "$1/A"; i=1
  for a in Alpha Beta Gamma Delta; do
    song "$1/A/t.wav" $((i*7)) 20
    ff -i "$1/A/t.wav" -metadata title="Song $i" -metadata artist="$a" -metadata album="Album A" -metadata track=$i "$1/A/s$i.flac"
    i=$((i+1))
  done
  rm "$1/A/t.wav"
}
rates="64 80 96 112 128 160 192 224 256 320"
reencodes() { # SOURCE DIR PREFIX COUNT FOLDERS
  n=1
  while [ $n -le "$4" ]; do
    r=$(echo $rates | cut -d' ' -f$(( (n - 1) % 10 + 1 )))
    v=$(awk "BEGIN{printf \"%.2f\", 0.80 + 0.20 * (($n * 37) % 100) / 100}")
    d="$2/$3$(( (n - 1) % $5 + 1 ))"; mkdir -p "$d"
    ff -i "$1" -af "volume=$v" -b:a ${r}k "$d/r$n.mp3"
    n=$((n+1))
  done
}
if [ ! -f "$W/re/A/s1.flac" ]; then
  songs "$W/re"
  reencodes "$W/re/A/s1.flac" "$W/re" R 300 3
fi
if [ ! -f "$W/crowd/A/s1.flac" ]; then
  songs "$W/crowd"
  mkdir -p "$W/crowd/O"
  for k in 1 2 3 4 5 6 7 8; do song "$W/crowd/O/o$k.flac" $((100 + k * 13)) 20; done
  reencodes "$W/crowd/A/s2.flac" "$W/crowd" C 400 4
fi
if [ ! -f "$W/kinds/A/s1.flac" ]; then
  songs "$W/kinds"
  for r in 64 96 192; do
    mkdir -p "$W/kinds/K$r"; ff -i "$W/kinds/A/s1.flac" -b:a ${r}k "$W/kinds/K$r/c0.mp3"
    for n in $(seq 1 99); do ff -i "$W/kinds/K$r/c0.mp3" -c copy -metadata comment=$n "$W/kinds/K$r/c$n.mp3"; done
  done
fi
[ "$B" = - ] && exit 0  # the audio only
"$B" index "$W/re" --db "$W/re.db" -m "$MODEL" -q
"$B" index "$W/crowd" --db "$W/crowd.db" -m "$MODEL" -q
"$B" index "$W/kinds" --db "$W/kinds.db" -m "$MODEL" -q
