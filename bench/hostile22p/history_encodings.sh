#!/bin/bash
# Hostile pass 22 (history import): imports each file history_encodings.py wrote into a fresh
# copy of an index whose three songs are named as those files name them (made here: ffmpeg, the
# tiny test model, one user), and prints the exit, the counts and the error. Looked for: a crash,
# a silent wrong answer (exit 0 with every listen unresolved because a name was misread), an
# error naming the wrong reason.
#   history_encodings.sh CLAPSEARCH_BINARY MODEL_DIR SCRATCH_DIR
set -u
B=$1 MODEL=$2 W=$3
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$W/music"
i=0
for a in "Björk:Jóga" "Motörhead:Ace of Spades" "Sigur Rós:Hoppípolla"; do
  i=$((i+1))
  ffmpeg -nostdin -loglevel error -y -f lavfi -i "sine=f=$((300+50*i)):d=8" -metadata artist="${a%%:*}" -metadata title="${a#*:}" \
    -metadata album="Alb $i" "$W/music/t$i.flac"
done
rm -f "$W/idx.db"
HF_HUB_OFFLINE=1 "$B" index "$W/music" --db "$W/idx.db" --model "$MODEL" -q
echo secretpass123 | "$B" user add anna --db "$W/idx.db" >/dev/null
python3 "$HERE/history_encodings.py" "$W/files"
for f in "$W"/files/*; do
  cp "$W/idx.db" "$W/work.db"; rm -f "$W/work.db-wal" "$W/work.db-shm"
  out=$("$B" history import "$f" --db "$W/work.db" --json 2>"$W/err"); rc=$?
  s=$(echo "$out" | python3 -c 'import json,sys
try:
  d=json.load(sys.stdin); print("imported",d["imported"],"unresolved",d["unresolved"],"fmt",d.get("format"), [(e.get("artist"),e.get("title")) for e in d.get("unresolved_entries",[])][:3])
except Exception: print("-")')
  printf '%-32s rc=%s %s | %s\n' "$(basename "$f")" "$rc" "$s" "$(head -c 300 "$W/err" | tr '\n' ' ')"
done
