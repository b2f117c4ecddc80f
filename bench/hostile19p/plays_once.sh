#!/bin/bash
# Hostile pass 19 (Python/history): the rule "one play per user/source/second/song" seen from the
# CLI's imports. A ListenBrainz file and a Last.fm file each holding the same listen twice, imported
# twice; then `history` and `history export` counted. Usage: plays_once.sh CLAPSEARCH MODEL_DIR
set -u
cli=$1 model=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export HF_HUB_OFFLINE=1
mkdir "$tmp/music"
for i in 1 2; do
  ffmpeg -nostdin -loglevel error -f lavfi -i "sine=f=$((300*i)):d=5" -metadata title="T$i" -metadata artist=A "$tmp/music/s$i.flac"
done
"$cli" index "$tmp/music" --db "$tmp/i.db" --model "$model" -q
"$cli" user add ann --password-file <(echo pw) --db "$tmp/i.db" >/dev/null 2>&1 || "$cli" user add ann --db "$tmp/i.db" </dev/null
cat > "$tmp/lb.jsonl" <<J
{"listened_at": 1700000000, "track_metadata": {"artist_name": "A", "track_name": "T1"}}
{"listened_at": 1700000000, "track_metadata": {"artist_name": "A", "track_name": "T1"}}
{"listened_at": 1700000000, "track_metadata": {"artist_name": "A", "track_name": "T2"}}
{"listened_at": 1700000060, "track_metadata": {"artist_name": "A", "track_name": "T1"}}
J
printf 'artist,album,track,uts\nA,,T1,1700000000\nA,,T1,1700000000\nA,,T2,1700000120\n' > "$tmp/lf.csv"
for f in lb.jsonl lb.jsonl lf.csv lf.csv; do
  echo "== import $f"; "$cli" history import "$tmp/$f" --db "$tmp/i.db" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d[k] for k in ("imported","already","unresolved")})'
done
echo "== history"; "$cli" history --db "$tmp/i.db" --json
echo "== export plays: $("$cli" history export --db "$tmp/i.db" | grep -c '"type":"play"\|"type": "play"')"
