#!/bin/sh
# Hostile pass 13 (server): a library of long tracks that share an intro (episodes of a podcast or a
# radio show with one jingle): N different tracks of MINUTES minutes, each the same 10 s intro and
# then its own 20 s of audio over and over (its own seed). Their fingerprints share the intro's
# items, so the sonic routes' copy rule aligns every pair it looks at. Usage: mklong.sh CLAPSEARCH MODEL WORKDIR N MINUTES
set -eu
B=$1 MODEL=$2 W=$3 N=$4 MIN=$5
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }
song() { # NAME SEED SECONDS: a song-like signal (chirps and noise, varied by seed)
  ff -f lavfi -i "aevalsrc=0.3*sin(2*PI*(220+$2*37+80*sin(0.7*t+$2))*t)*(0.6+0.4*sin(3*t+$2))+0.2*sin(2*PI*(440+$2*11)*t*(1+0.1*sin(t*$2))):s=22050:d=$3" \
     -f lavfi -i "anoisesrc=color=pink:seed=$2:d=$3:a=0.05:r=22050" -filter_complex "[0][1]amix=inputs=2:normalize=0" -ac 1 -ar 22050 "$1"
}
mkdir -p "$W/long/L"
song "$W/long/intro.wav" 7 10
for n in $(seq 1 "$N"); do
  song "$W/long/body.wav" $((300+n*7)) 20
  ff -i "$W/long/intro.wav" -stream_loop -1 -i "$W/long/body.wav" -filter_complex "[1]atrim=0:$((MIN*60-10))[b];[0][b]concat=n=2:v=0:a=1" -c:a libopus -b:a 24k "$W/long/L/ep$(printf %02d $n).opus"
done
rm "$W/long/intro.wav" "$W/long/body.wav"
"$B" index "$W/long/L" --db "$W/long.db" -m "$MODEL" -q
echo bobpw | "$B" user add bob --db "$W/long.db"
