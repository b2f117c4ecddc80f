#!/bin/bash
# Hostile pass 22 (CLI): pass 21's rough edges, what it did not try (a file growing while indexed,
# PostgreSQL with --plan and several workers under a full disk, a 10-hour file, a 50 MB ID3 frame)
# and new angles (settings-file values refused as the command runs, FILE|TRACK arguments, roots
# given several ways). Each case prints the exit status and the first bytes of stderr. Root (a tmpfs
# for PostgreSQL's full disk; the PostgreSQL programs run as the postgres user).
# Usage: p22_cli.sh CLAPSEARCH MODEL_DIR OUT_DIR [SECTIONS]   (SECTIONS: any of "edges grow pgfull ten id3 angles")
set -u
C="$1"; M="$2"; out="$3"; sections="${4:-edges grow pgfull ten id3 angles}"
export HF_HUB_OFFLINE=1
rm -rf "$out"; mkdir -p "$out/music"; cd "$out" || exit 1
for i in 0 1 2 3; do ffmpeg -loglevel error -y -f lavfi -i "sine=f=$((220 * (i + 1))):d=60" -metadata title="t$i" "music/s$i.flac"; done
"$C" index music --db lib.db --model "$M" --precision fp32 --first-pass 1 --passes 1 -q
p() { local name="$1"; shift; echo "== $name"; timeout -s KILL 300 "$@" > o.txt 2> e.txt; echo "rc=$? $(grep -v '^indexing' e.txt | head -c 400 | tr '\n' ' ')"; }
has() { [[ " $sections " == *" $1 "* ]]; }

if has edges; then
  # 1. Pass 21's rough edges.
  p deepen-only-summary "$C" index music --db lib.db --model "$M"
  p nothing-to-do-summary "$C" index music --db lib.db --model "$M"
  mkdir -p cwd && cp music/s0.flac cwd/2
  echo "== like 2 (a file named 2) --exclude-self: track ids listed"
  (cd cwd && "$C" like 2 --exclude-self --per-chunk 100 --json -k 10 --db ../lib.db | python3 -c "import json,sys; print(sorted(r['track_id'] for r in json.load(sys.stdin)))")
  echo "== similar 2 (a file named 2 here): the query"; (cd cwd && "$C" similar 2 --db ../lib.db -k 1 | head -1)
  printf '[status]\ndb = "lib.db"\n' > cfg.toml
  p settings-relative-db-from-another-folder bash -c "cd cwd && '$C' status --config-file ../cfg.toml"
  printf 'path,caption\nmusic/s0.flac,caf\xe9 ambient\n' > latin1.csv; p finetune-latin1 "$C" finetune --db lib.db --model "$M" --out ft1 --epochs 1 --keep-anyway --captions-csv latin1.csv
  printf 'path,caption\nmusic/s0.flac,calm\0tone\n' > nul.csv; p finetune-nul "$C" finetune --db lib.db --model "$M" --out ft2 --epochs 1 --keep-anyway --captions-csv nul.csv
  printf 'pw\n' | "$C" user add ann --db lib.db --password-file - > /dev/null 2>&1
  printf 'artist,album,track,date\nA,B,C,1969-12-31\n' > old.csv; p history-1969 "$C" history import old.csv --db lib.db
  printf '{"listened_at": 1704100000, "listened_at": 1704200000, "track_metadata": {"artist_name": "A", "track_name": "B"}}\n' > dup.jsonl
  echo "== history import: a key twice"; "$C" history import dup.jsonl --db lib.db --json 2>&1 | grep played_at
fi

if has grow; then
  # 2. Files growing while indexed (ffmpeg -re writes 40 s in real time).
  mkdir -p grow; cp music/s0.flac grow/
  for fmt in wav flac mp3; do ffmpeg -loglevel error -y -re -f lavfi -i "sine=f=500:d=40" grow/growing.$fmt & done
  sleep 6
  p index-while-growing "$C" index grow --db g.db --model "$M" --precision fp32
  sqlite3 g.db "select path, duration_s, status from tracks" | sed 's|.*/||; s/^/  /'
  wait
  p index-after-the-writers "$C" index grow --db g.db --model "$M" --precision fp32
  sqlite3 g.db "select path, duration_s, status from tracks" | sed 's|.*/||; s/^/  /'
fi

if has pgfull; then
  # 3. PostgreSQL on a 60 MB tmpfs: index --plan, three workers at once with 100 kB free, then two after freeing.
  mkdir -p long; for i in $(seq 1 10); do ffmpeg -loglevel error -y -f lavfi -i "sine=f=$((100 + 30 * i)):d=90" "long/l$i.flac"; done
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); PG_AS=(runuser -u postgres --)
  port=$((40000 + RANDOM % 10000))
  mkdir -p pgsmall && mount -t tmpfs -o size=60m tmpfs pgsmall && chown postgres: pgsmall
  "${PG_AS[@]}" "$PG_BIN/initdb" -D pgsmall/data -A trust -U clap -E UTF8 --locale=C --no-sync > /dev/null 2>&1
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D pgsmall/data -l "$out/pgsmall/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$out/pgsmall -c fsync=off -c max_wal_size=32MB -c min_wal_size=32MB" start > /dev/null
  "${PG_AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p $port -U clap full
  url="postgresql://clap@127.0.0.1:$port/full"
  p plan "$C" index long --plan --db "$url" --model "$M" --precision fp32
  dd if=/dev/zero of=pgsmall/fill bs=1k count=$(( $(df -k --output=avail pgsmall | tail -1) - 100 )) 2> /dev/null
  for w in 1 2 3; do ("$C" worker --until-done --poll 0.2 --db "$url" > w$w.out 2> w$w.err; echo "rc=$?" >> w$w.err) & done; wait
  for w in 1 2 3; do echo "== worker $w, disk full"; tail -2 w$w.err | cut -c1-300 | sed 's/^/  /'; done
  "$C" status --db "$url" 2>&1 | grep -E "^(tracks|jobs)" | sed 's/^/  /'
  rm pgsmall/fill
  for w in 4 5; do ("$C" worker --until-done --poll 0.2 --db "$url" > w$w.out 2> w$w.err; echo "rc=$?" >> w$w.err) & done; wait
  for w in 4 5; do echo "== worker $w, after freeing"; tail -2 w$w.err | cut -c1-300 | sed 's/^/  /'; done
  "$C" status --db "$url" 2>&1 | grep -E "^(tracks|jobs|coverage)" | sed 's/^/  /'
  "$C" index long --db one.db --model "$M" --precision fp32 -q
  a=$("$C" search tone -k 10 --json --db one.db | python3 -c "import json,sys; print(sorted((r['path'],round(r['score'],5)) for r in json.load(sys.stdin)))" | md5sum | cut -c1-8)
  b=$("$C" search tone -k 10 --json --db "$url" | python3 -c "import json,sys; print(sorted((r['path'],round(r['score'],5)) for r in json.load(sys.stdin)))" | md5sum | cut -c1-8)
  echo "== sqlite $a postgresql $b $([ "$a" = "$b" ] && echo same || echo DIFFERENT)"
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D pgsmall/data -m immediate -w stop > /dev/null; umount pgsmall
fi

if has ten; then
  # 4. A 10-hour file (8 kHz mono FLAC, 140 MB): index, search, similar, overlaps, analyze, like, embed.
  mkdir -p ten; ffmpeg -loglevel error -y -f lavfi -i "sine=f=440:sample_rate=8000:d=36000" -ac 1 ten/ten.flac
  /usr/bin/time -f "index 10 h: %U user %S sys %M KB" "$C" index ten --db ten.db --model "$M" --precision fp32 2>&1 | grep -v '^indexing'
  /usr/bin/time -f "search: %U user %S sys %M KB" "$C" search tone --db ten.db -k 3 2>&1 > /dev/null
  /usr/bin/time -f "overlaps 1: %U user %S sys %M KB" "$C" overlaps 1 --db ten.db 2>&1 | tail -2
  /usr/bin/time -f "analyze 1: %U user %S sys %M KB" "$C" analyze 1 "a tone" --db ten.db 2>&1 > /dev/null
  /usr/bin/time -f "like the 10 h file: %U user %S sys %M KB" "$C" like ten/ten.flac --db ten.db -k 3 2>&1 > /dev/null
  /usr/bin/time -f "embed the 10 h file: %U user %S sys %M KB" "$C" embed ten/ten.flac --model "$M" -o ten/emb.jsonl 2>&1 | tail -2
fi

if has id3; then
  # 5. A 20 s MP3 behind a 50 MB ID3v2 PRIV frame: CPU time and the opens of the file.
  mkdir -p id3
  ffmpeg -loglevel error -y -f lavfi -i sine=f=330:d=20 -c:a libmp3lame -b:a 128k -id3v2_version 0 -write_id3v1 0 plain.mp3
  python3 - "$out" <<'PY'
import sys
out = sys.argv[1]
data = open(out + '/plain.mp3', 'rb').read()
def synchsafe(n): return bytes([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f])
payload = b'owner\x00' + b'\x00' * (50 * 1024 * 1024)
body = b'TIT2' + synchsafe(4) + b'\x00\x00\x03t50' + b'PRIV' + synchsafe(len(payload)) + b'\x00\x00' + payload
open(out + '/id3/big.mp3', 'wb').write(b'ID3\x04\x00\x00' + synchsafe(len(body)) + body + data)
PY
  /usr/bin/time -f "index big.mp3: %U user %S sys %M KB" "$C" index id3 --db id3.db --model "$M" --precision fp32 -q
  /usr/bin/time -f "ffprobe big.mp3: %U user %S sys %M KB" ffprobe -loglevel error -show_format id3/big.mp3 > /dev/null
  /usr/bin/time -f "index plain.mp3: %U user %S sys %M KB" "$C" index plain.mp3 --db id3p.db --model "$M" --precision fp32 -q
  rm -f id3.db*; strace -f -qq -e trace=openat -o strace.txt "$C" index id3 --db id3.db --model "$M" --precision fp32 -q
  echo "== opens of big.mp3 by index: $(grep -c 'big.mp3' strace.txt)"
fi

if has angles; then
  # 6. New angles: settings-file values refused as the command runs; bounds through the settings
  # file (a value longer than the command line allows); roots given several ways.
  printf '[search]\nwhere = "yaer > 1"\n' > w1.toml; p settings-where-typo "$C" search tone --db lib.db --config-file w1.toml
  printf '[like]\nhop = 0.1\n' > w2.toml; p settings-like-hop "$C" like music/s0.flac --db lib.db --config-file w2.toml
  printf '[similar]\nseed = ["1:nan"]\n' > w3.toml; p settings-seed-nan "$C" similar 1 --db lib.db --config-file w3.toml
  python3 -c "print('[search]\nwhere = \"' + '('*200000+'year>1'+')'*200000 + '\"')" > nest.toml; p settings-where-400KB-nested "$C" search tone --db lib.db --config-file nest.toml
  python3 -c "print('exclude-rule = \"' + 'not '*200000 + 'year>1\"')" > ex.toml; p settings-exclude-rule-800KB "$C" search tone --db lib.db --config-file ex.toml
  p top-0 "$C" search tone --db lib.db --top 0
  p top-1e9 "$C" search tone --db lib.db -k 1000000000
  p seeds-from-1M-lines bash -c "python3 -c \"print('\n'.join(['1']*1000000))\" | '$C' similar --seeds-from - --db lib.db -k 2"
  mkdir -p na/sub && cp music/s0.flac music/s1.flac na/ && cp music/s2.flac na/sub/ && ln -sfn na nalink
  p nested-roots "$C" index na na/sub --db na.db --model "$M" --precision fp32
  p trailing-slash "$C" index na/ --db na.db --model "$M"
  p dot-dot-path "$C" index ./na/../na --db na.db --model "$M"
  p symlinked-root "$C" index nalink --db na.db --model "$M"
  p sub-folder-only "$C" index na/sub --db na.db --model "$M"
  "$C" status --db na.db | grep -E "^(tracks|folders)" -A1 | sed 's/^/  /'
fi
