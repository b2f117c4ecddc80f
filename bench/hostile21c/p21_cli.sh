#!/bin/bash
# Hostile pass 21 (CLI): what pass 20 did not try (PostgreSQL indexes under its CLI cases,
# finetune's inputs, locales) and new angles (odd audio files, history imports, eval's CSVs,
# the environment, outputs over songs, bench --index-file). Each case prints the exit status and
# the first bytes of stdout/stderr. Root (a tmpfs for PostgreSQL's full disk; the PostgreSQL
# programs run as the postgres user, as tests/support/start_postgres.sh does).
# Usage: p21_cli.sh CLAPSEARCH MODEL_DIR OUT_DIR REPO_DIR
set -u
cli="$1"; model="$2"; out="$3"; repo="$4"
export HF_HUB_OFFLINE=1
rm -rf "$out"; mkdir -p "$out/music" "$out/long"
cd "$out" || exit 1
for i in 0 1 2 3 4 5; do
  ffmpeg -loglevel error -y -f lavfi -i "sine=f=$((220 * (i + 1))):d=12" -metadata title="t$i" -metadata artist="a$((i % 3))" \
    -metadata genre="g$i" -metadata date="199$i" "music/s$i.flac"
done
for i in $(seq 1 12); do ffmpeg -loglevel error -y -f lavfi -i "sine=f=$((100 + 30 * i)):d=90" "long/l$i.flac"; done
cp -r "$model" model
"$cli" index music --db lib.db --model model --precision fp32 -q > /dev/null 2>&1

case_() {
  local name="$1"; shift
  echo "== $name: $(echo "$*" | cut -c1-200)"
  timeout -s KILL 120 "$@" > o.txt 2> e.txt
  echo "rc=$?"
  head -c 300 o.txt | sed "s/^/  out: /"; echo; head -c 400 e.txt | sed 's/^/  err: /'; echo
}
fail() { echo "FAIL $*"; exit 1; }

# 1. PostgreSQL: kill mid-index then resume, two runs at once, --where against SQLite, a full disk.
TMPDIR="$out" . "$repo/tests/support/start_postgres.sh"
start_postgres
port=${PG_URL##*:}; port=${port%%/*}
mkdb() { "${PG_AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U clap "$1"; echo "postgresql://clap@127.0.0.1:$port/$1"; }
for sig in TERM INT; do
  url=$(mkdb "k$sig")
  env --default-signal=INT "$cli" index long --db "$url" --model model --precision fp32 -q & pid=$!
  sleep 12; kill -$sig $pid; wait $pid; echo "== pg-$sig mid-index: rc=$?"
  "$cli" status --db "$url" | grep -E '^(tracks|windows|coverage)' | sed 's/^/  /'
  "$cli" index long --db "$url" --model model --precision fp32 2>&1 | tail -n 1 | cut -c1-80 | sed 's/^/  resume: /'
  "$cli" status --db "$url" | grep -E '^(windows|coverage)' | sed 's/^/  /'
  echo "  search: $("$cli" search 'low hum' -k 12 --json --db "$url" | md5sum | cut -c1-12)"
done
url=$(mkdb two)
("$cli" index music --db "$url" --model model -q > two1.txt 2>&1; echo "rc=$?" >> two1.txt) &
("$cli" index music --db "$url" --model model -q > two2.txt 2>&1; echo "rc=$?" >> two2.txt) &
wait; echo "== pg-two-indexers"; cat two1.txt two2.txt | cut -c1-200 | sed 's/^/  /'
uni=$(mkdb uni)
"$cli" index music --db "$uni" --model model --precision fp32 -q > /dev/null 2>&1
for w in 'artist = "A0"' 'genre ~ "G"' 'year >= 1993' 'year = 1,993' 'duration < 0.5e2' 'track = 0' 'title > "t3"' 'folder = "'"$out"'/music/"'; do
  a=$("$cli" search tone -k 20 --csv - --where "$w" --db lib.db 2>&1 | cut -d, -f3,8 | sort | md5sum | cut -c1-8)
  b=$("$cli" search tone -k 20 --csv - --where "$w" --db "$uni" 2>&1 | cut -d, -f3,8 | sort | md5sum | cut -c1-8)
  echo "== pg-where [$w]: sqlite $a postgresql $b $([ "$a" = "$b" ] && echo same || echo DIFFERENT)"
done
mkdir -p pgsmall && mount -t tmpfs -o size=60m tmpfs pgsmall && chown postgres: pgsmall
"${PG_AS[@]}" "$PG_BIN/initdb" -D pgsmall/data -A trust -U clap -E UTF8 --locale=C --no-sync > /dev/null 2>&1
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D pgsmall/data -l "$out/pgsmall/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $((port + 1)) -c unix_socket_directories=$out/pgsmall -c fsync=off -c max_wal_size=32MB -c min_wal_size=32MB" start > /dev/null
"${PG_AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p $((port + 1)) -U clap full
full="postgresql://clap@127.0.0.1:$((port + 1))/full"
dd if=/dev/zero of=pgsmall/fill bs=1k count=$(( $(df -k --output=avail pgsmall | tail -1) - 1500 )) 2> /dev/null
case_ pg-full-disk "$cli" index long music --db "$full" --model model --precision fp32 -q
"$cli" status --db "$full" | grep -E '^(tracks|windows|coverage)' | sed 's/^/  /'
rm pgsmall/fill
"$cli" index long music --db "$full" --model model --precision fp32 2>&1 | tail -n 1 | cut -c1-80 | sed 's/^/  after freeing: /'
"$cli" status --db "$full" | grep -E '^(windows|coverage)' | sed 's/^/  /'
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D pgsmall/data -m immediate -w stop > /dev/null; umount pgsmall
stop_postgres

# 2. Locales (only C, C.UTF-8 and POSIX are installed; the others fall back to C).
for L in C.UTF-8 C POSIX xx_YY.UTF-8 de_DE.UTF-8 tr_TR.UTF-8; do
  s=$(LANG=$L LC_ALL=$L "$cli" search tone -k 20 --json --db lib.db | md5sum | cut -c1-8)
  w=$(LANG=$L LC_ALL=$L "$cli" search tone --where 'duration < 11.5' -k 20 --csv - --db lib.db 2>&1 | md5sum | cut -c1-8)
  echo "== locale $L: search $s where $w"
done

# 3. finetune: its captions CSV and its output folder.
ft() { local n="$1"; shift; case_ "finetune-$n" "$cli" finetune --db lib.db --model model --epochs 1 "$@"; }
printf 'path,caption\ns0.flac,a calm low tone\ns1.flac,bright tone\n' > music/cap.csv
printf '\xef\xbb\xbfpath,caption\r\ns0.flac,calm\r\n' > music/bom.csv; ft bom --out o_bom --captions-csv music/bom.csv
: > music/empty.csv; ft empty --out o_empty --captions-csv music/empty.csv
printf 'path,caption\n' > music/hdr.csv; ft header-only --out o_hdr --captions-csv music/hdr.csv
printf 'path,caption\ns0.flac,caf\xe9 tone\n' > music/latin1.csv; ft latin1 --out o_l1 --captions-csv music/latin1.csv
printf '\xff\xfep\x00a\x00t\x00h\x00,\x00c\x00\n\x00' > music/u16.csv; ft utf16 --out o_u16 --captions-csv music/u16.csv
printf 'path,caption\nnothere.flac,calm\n/etc/passwd,y\n' > music/missing.csv; ft missing --out o_miss --captions-csv music/missing.csv
printf 'path,caption\ns0.flac,calm\ns0.flac,calm\ns0.flac,loud\n' > music/dup.csv; ft dup --out o_dup --captions-csv music/dup.csv
printf 'path,caption\ns0.flac,"unterminated\n' > music/unterm.csv; ft unterm --out o_unt --captions-csv music/unterm.csv
ft dev-zero --out o_z --captions-csv /dev/zero
ft folder --out o_dir --captions-csv music
cp -r model model2; ln -sfn model2 linkout; mkdir -p precious; echo mine > precious/notes.txt
ft out-is-model --out model2 --force --keep-anyway
ft out-link-to-model --out linkout --force --keep-anyway
ft out-not-ours --out precious --force --keep-anyway
ft out-is-index --out lib.db --keep-anyway
echo "  model2 intact: $(cmp -s model/model.safetensors model2/model.safetensors && echo yes || echo NO); precious: $(ls precious)"

# 4. Odd audio files.
mkdir -p odd
: > odd/zero.flac
ffmpeg -loglevel error -y -f lavfi -i "sine=f=440:d=30" odd/full.flac; head -c 20000 odd/full.flac > odd/trunc.flac
ffmpeg -loglevel error -y -f lavfi -i "sine=f=440:d=30" odd/full.mp3; head -c 30000 odd/full.mp3 > odd/trunc.mp3
ffmpeg -loglevel error -y -f lavfi -i "sine=f=440:d=12" -ac 8 odd/ch8.flac
ffmpeg -loglevel error -y -f lavfi -i "sine=f=440:d=12:sample_rate=384000" odd/hi384k.wav
python3 - <<'EOF'
import struct
def wav(name, rate, n, ch=1):
    data = b'\x00\x10' * n * ch
    hdr = b'RIFF' + struct.pack('<I', 36 + len(data)) + b'WAVEfmt ' + struct.pack('<IHHIIHH', 16, 1, ch, rate, rate * 2 * ch, 2 * ch, 16) + b'data' + struct.pack('<I', len(data))
    open(name, 'wb').write(hdr + data)
wav('odd/rate1hz.wav', 1, 20); wav('odd/rate0hz.wav', 0, 20); wav('odd/ch0.wav', 8000, 0, 0); wav('odd/ch255.wav', 8000, 100, 255)
data = b'\x00\x10' * 1000  # a data chunk that says 4 GB
open('odd/liar.wav', 'wb').write(b'RIFF' + struct.pack('<I', 0xffffffff) + b'WAVEfmt ' + struct.pack('<IHHIIHH', 16, 1, 1, 8000, 16000, 2, 16) + b'data' + struct.pack('<I', 0xfffffff0) + data)
body = open('odd/full.mp3', 'rb').read()
if body[:3] == b'ID3':
    sz = body[6:10]; body = body[10 + ((sz[0] << 21) | (sz[1] << 14) | (sz[2] << 7) | sz[3]):]
def syncsafe(n): return bytes([(n >> 21) & 127, (n >> 14) & 127, (n >> 7) & 127, n & 127])
t = b'\x00' + b'nul\x00inside'
fr = b'TIT2' + struct.pack('>I', len(t)) + b'\x00\x00' + t
open('odd/nultag.mp3', 'wb').write(b'ID3\x03\x00\x00' + syncsafe(len(fr)) + fr + body)
payload = b'own\x00' + b'\x00' * (8 * 1024 * 1024)  # an 8 MB PRIV frame
fr = b'PRIV' + struct.pack('>I', len(payload)) + b'\x00\x00' + payload
open('odd/bigid3.mp3', 'wb').write(b'ID3\x03\x00\x00' + syncsafe(len(fr)) + fr + body)
EOF
case_ odd-audio /usr/bin/time -f "%e s wall, %U s user, %M KB" "$cli" index odd --db odd.db --model model --precision fp32 -q
"$cli" search x -k 20 --csv - --db odd.db | cut -d, -f6-8 | sed 's/^/  /'
mkdir -p chg; cp long/l1.flac chg/x.flac; cp long/l2.flac chg/y.flac
("$cli" index chg --db chg.db --model model --precision fp32 > chg.txt 2>&1; echo "rc=$?" >> chg.txt) &
sleep 2; for i in 1 2 3 4; do cp long/l5.flac chg/x.new && mv chg/x.new chg/x.flac; : > chg/y.flac; sleep 0.5; cat long/l6.flac > chg/y.flac; sleep 1; done; wait
echo "== files changed under the indexer"; grep -vE '^indexing' chg.txt | cut -c1-200 | sed 's/^/  /'
"$cli" index chg --db chg.db --model model --precision fp32 2>&1 | tail -n 1 | cut -c1-60 | sed 's/^/  next run: /'

# 5. history import.
"$cli" user add alice --db lib.db --password-file <(echo pw) > /dev/null 2>&1
hi() { local n="$1"; shift; case_ "history-$n" "$cli" history import "$@" --db lib.db; }
lb() { printf '{"listened_at": %s, "track_metadata": {"artist_name": "a0", "track_name": "t0"}}\n' "$1" > "$2"; }
lb 1700000000 lb1.jsonl; hi lb-ok lb1.jsonl
lb 1e400 lb2.jsonl; hi lb-1e400 lb2.jsonl
lb -5 lb3.jsonl; hi lb-negative lb3.jsonl
lb 99999999999999999 lb4.jsonl; hi lb-far lb4.jsonl
lb 4102444800 lb5.jsonl; hi lb-2100 lb5.jsonl
python3 -c "print('[' * 100000 + ']' * 100000)" > deep.json; hi deep-json deep.json
printf 'a0,,t0,31 Feb 2020 10:00\n' > lf2.csv; hi lastfm-feb31 lf2.csv
printf 'artist,album,track,uts\na0,,t0,170000000000000000000\n' > lf4.csv; hi lastfm-huge lf4.csv
printf 'artist,album,track,date\n=cmd|x,,t0,2020-01-01\n' > lf5.csv; hi lastfm-formula lf5.csv
printf 'artist,album,track,date\na0,,t0,2020-01-01T25:61:00Z\n' > lf6.csv; hi lastfm-badtime lf6.csv
printf 'PK\x03\x04garbage' > bad.zip; hi badzip bad.zip
hi wrong-format lb1.jsonl --format lastfm
hi dev-zero /dev/zero
hi folder music

# 6. eval's CSVs (H21C-3).
printf 'path, label\ns0.flac, low\ns1.flac, high\ns2.flac,low\n' > music/lab_sp.csv
case_ eval-spaced-labels "$cli" eval zero-shot --labels-csv music/lab_sp.csv --db lib.db
printf 'path,label\ns0.flac,low\ns1.flac,high\ns0.flac,high\n' > music/lab_dup.csv
case_ eval-file-twice "$cli" eval zero-shot --labels-csv music/lab_dup.csv --db lib.db
printf 'path,label\ns0.flac,low\n' > music/lab_one.csv; case_ eval-one-label "$cli" eval zero-shot --labels-csv music/lab_one.csv --db lib.db
printf 'path,caption\ns0.flac,calm\ns0.flac,calm\n' > music/cap_dup.csv; case_ eval-one-file "$cli" eval retrieval --captions-csv music/cap_dup.csv --db lib.db

# 7. The environment and the settings file.
case_ env-db-empty env CLAPSEARCH_DB= "$cli" status
case_ env-db-newline env CLAPSEARCH_DB=$'lib.db\n' "$cli" status
case_ env-db-and-option env CLAPSEARCH_DB=/nonexistent/x.db "$cli" status --db lib.db
case_ env-db-password env CLAPSEARCH_DB='postgresql://clap:secretpw@127.0.0.1:1/x' "$cli" status
case_ env-isa-bogus env CLAPSEARCH_ISA=sse9 "$cli" search x --db lib.db -k 1
case_ env-isa-upper env CLAPSEARCH_ISA=AVX2 "$cli" search x --db lib.db -k 1
case_ env-config-missing env CLAPSEARCH_CONFIG_FILE=/nonexistent.toml "$cli" status --db lib.db
printf '[search]\ntop = 1\n[search]\ntop = 2\n' > two.toml; case_ config-two-sections "$cli" --config-file two.toml search x --db lib.db
printf '[status]\ndb = "lib.db"\n' > rel.toml; case_ config-relative-db sh -c "cd music && '$cli' --config-file ../rel.toml status"

# 8. Outputs over songs and indexes (H21C-1, H21C-2).
cp music/s1.flac victim.flac; cp lib.db victim.db
case_ m3u-over-the-seed "$cli" playlist --seed music/s0.flac -n 2 --m3u victim.flac --db lib.db
case_ csv-over-a-song "$cli" search tone --csv victim.flac --db lib.db
echo "  victim.flac intact: $(cmp -s music/s1.flac victim.flac && echo yes || echo NO)"
case_ bench-index-file-over-an-index "$cli" bench --scale 100 --windows-per-track 4 --queries 2 --nprobe 4 --shortlist 20 --db scale.db --index-file victim.db
case_ bench-index-file-over-a-song "$cli" bench --scale 100 --windows-per-track 4 --queries 2 --nprobe 4 --shortlist 20 --db scale.db --index-file victim.flac
echo "  victim.db an index: $(head -c 15 victim.db | tr -d '\0')"
echo "  victim.flac intact: $(cmp -s music/s1.flac victim.flac && echo yes || echo NO)"
case_ bench-index-file-typo-folder "$cli" bench --scale 100 --windows-per-track 4 --queries 2 --nprobe 4 --shortlist 20 --db scale2.db --index-file typo/x.idx
echo "  typo/ made: $([ -d typo ] && echo yes || echo no)"
