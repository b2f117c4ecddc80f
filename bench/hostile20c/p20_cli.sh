#!/bin/bash
# Hostile pass 20 (CLI): new angles, each a command line and what came of it (exit status, the
# first bytes of stdout/stderr). Root for the mount cases (a small tmpfs, a read-only bind).
# Usage: p20_cli.sh CLAPSEARCH MODEL_DIR OUT_DIR
set -u
cli="$1"; model="$2"; out="$3"
export HF_HUB_OFFLINE=1
rm -rf "$out"; mkdir -p "$out/music"
for i in 0 1 2 3 4 5; do
  ffmpeg -loglevel error -y -f lavfi -i "sine=f=$((220 * (i + 1))):d=12" -metadata title="t$i" -metadata artist="a$((i % 3))" \
    -metadata genre="g$i" "$out/music/s$i.flac"
done
# Hostile names for the M3U export: a line break, a leading '#', '#EXTINF', CR, a non-UTF-8 byte.
ffmpeg -loglevel error -y -f lavfi -i "sine=f=300:d=12" "$out/music/$(printf 'line\nbreak.flac')"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=310:d=12" "$out/music/#EXTINF:-1,evil.flac"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=320:d=12" "$out/music/$(printf 'cr\rname.flac')"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=330:d=12" "$out/music/$(printf 'bad\xffbyte.flac')"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=340:d=12" -metadata title='=HYPERLINK("x")' "$out/music/formula.flac"
db="$out/lib.db"
"$cli" index "$out/music" --db "$db" --model "$model" -q > /dev/null 2>&1

# case NAME CMD...: runs it (20 s at most), prints the exit status and the output's first bytes.
case_() {
  local name="$1"; shift
  echo "== $name: $(echo "$*" | cut -c1-200)"
  timeout -s KILL 20 "$@" > "$out/o" 2> "$out/e"
  echo "rc=$?"
  head -c 300 "$out/o" | sed "s/^/  out: /"; echo; head -c 400 "$out/e" | sed 's/^/  err: /'
}

# 1. Options given twice or in conflict.
case_ twice-db "$cli" search tone --db /nonexistent.db --db "$db"
case_ twice-top "$cli" search tone -k 2 --top 3 --db "$db"
case_ json-and-csv "$cli" search tone --json --csv - --db "$db"
case_ twice-format "$cli" embed --model "$model" --text x --format npy --format jsonl
case_ twice-where "$cli" search tone --where 'genre = "g1"' --where 'genre = "g2"' --db "$db"

# 2. --json on every command that takes it, with no index: an error on stderr, nothing on stdout.
for c in status search duplicates overlaps models taste; do
  case_ "json-no-index-$c" "$cli" $c $([ $c = search ] && echo tone) $([ $c = overlaps ] && echo 1) --json --db "$out/none.db"
done

# 3. Outputs: a folder, a FIFO with no reader, /dev/full, a full tmpfs (old file kept).
mkdir -p "$out/adir"; mkfifo "$out/fifo"
case_ csv-to-dir "$cli" search tone --csv "$out/adir" --db "$db"
case_ m3u-to-dir "$cli" playlist --text tone --m3u "$out/adir" --db "$db"
case_ csv-to-fifo-no-reader "$cli" search tone --csv "$out/fifo" --db "$db"
case_ csv-to-dev-full "$cli" search tone --csv /dev/full --db "$db"
case_ stdout-dev-full sh -c "'$cli' search tone --db '$db' > /dev/full"
mkdir -p "$out/small"
if mount -t tmpfs -o size=64k tmpfs "$out/small" 2> /dev/null; then
  echo "old" > "$out/small/keep.csv"
  dd if=/dev/zero of="$out/small/fill" bs=4k count=100 2> /dev/null
  case_ csv-full-tmpfs "$cli" search tone -k 50 --csv "$out/small/keep.csv" --db "$db"
  echo "  keep.csv now: $(cat "$out/small/keep.csv"); left: $(ls "$out/small" | paste -sd' ')"
  case_ embed-full-tmpfs "$cli" embed --model "$model" --text a --text b --output "$out/small/e.jsonl"
  echo "  left: $(ls "$out/small" | paste -sd' ')"
  umount "$out/small"
fi

# 4. SIGPIPE: a reader that stops after one line, on outputs larger than a pipe's buffer.
texts=(); for i in $(seq 1 40); do texts+=(--text "t$i"); done
sigpipe() {
  echo "== sigpipe: $(echo "$*" | cut -c1-80) | head -1"
  ( "$@" 2> "$out/e"; echo "rc=$?" > "$out/rc" ) | head -1 > /dev/null
  echo "  $(cat "$out/rc") err: $(head -c 200 "$out/e")"
}
sigpipe "$cli" embed --model "$model" "${texts[@]}"
sigpipe "$cli" manpage
sigpipe "$cli" completion bash
sigpipe "$cli" search tone -k 50 --json --db "$db"
sigpipe "$cli" matrix --csv - --db "$db"
sigpipe "$cli" --help

# 5. --where: injection, deep nesting, huge numbers, long strings.
case_ where-inject "$cli" search tone --where "genre = \"g1\"; DROP TABLE tracks; --" --db "$db"
case_ where-inject-quote "$cli" search tone --where "genre = 'g1' OR 1=1 --" --db "$db"
case_ where-deep "$cli" search tone --where "$(printf '(%.0s' $(seq 1 30000))genre = \"g1\"$(printf ')%.0s' $(seq 1 30000))" --db "$db"
case_ where-not-chain "$cli" search tone --where "$(printf 'not %.0s' $(seq 1 30000))genre = \"g1\"" --db "$db"
case_ where-huge-number "$cli" search tone --where "duration < 1e400" --db "$db"
case_ where-huge-int "$cli" search tone --where "year > 99999999999999999999999" --db "$db"
case_ where-long-string "$cli" search tone --where "title ~ \"$(head -c 100000 /dev/zero | tr '\0' a)\"" --db "$db"
case_ where-many-or "$cli" search tone --where "$(for i in $(seq 1 4000); do printf 'genre = "g%d" or ' $i; done)genre = \"g1\"" --db "$db"
case_ where-time "$cli" search tone --where "duration < 99999999999:59" --db "$db"
case_ where-empty "$cli" search tone --where "" --db "$db"

# 6. Locale: the C locale, a missing locale, a comma-decimal LC_NUMERIC.
case_ lang-c env LANG=C LC_ALL=C "$cli" search tone --json --db "$db"
case_ lang-tr env LC_ALL=tr_TR.UTF-8 "$cli" search tone --where 'TITLE ~ "I"' --db "$db"
case_ lc-numeric-de env LC_NUMERIC=de_DE.UTF-8 LC_ALL=de_DE.UTF-8 "$cli" duplicates --threshold 0.5 --db "$db"

# 7. The index: a symlinked db, a read-only file system, two runs at once, SIGINT/SIGTERM and resume.
ln -sf "$db" "$out/link.db"
case_ db-symlink "$cli" status --db "$out/link.db"
ln -sf "$out/nowhere/x.db" "$out/dangling.db"
case_ db-dangling-link "$cli" index "$out/music" --db "$out/dangling.db" --model "$model"
mkdir -p "$out/ro"; cp "$db" "$out/ro/"
if mount --bind "$out/ro" "$out/ro" 2> /dev/null && mount -o remount,bind,ro "$out/ro" 2> /dev/null; then
  case_ ro-search "$cli" search "never cached text" --db "$out/ro/lib.db"
  case_ ro-index "$cli" index "$out/music" --db "$out/ro/lib.db" --model "$model"
  case_ ro-store-labels "$cli" classify --all --labels a,b --store --db "$out/ro/lib.db"
  umount "$out/ro"
fi
mkdir -p "$out/many"
for i in $(seq 1 24); do cp "$out/music/s$((i % 6)).flac" "$out/many/c$i.flac"; ffmpeg -loglevel error -y -i "$out/many/c$i.flac" -af "volume=0.$((i % 9 + 1))" "$out/many/v$i.flac"; done
"$cli" index "$out/many" --db "$out/two.db" --model "$model" -q > "$out/two1" 2>&1 &
p1=$!
sleep 0.5
case_ two-index-at-once "$cli" index "$out/many" --db "$out/two.db" --model "$model" -q
wait $p1; echo "  first: rc=$? $(head -c 200 "$out/two1")"
for sig in INT TERM; do
  rm -f "$out/sig.db"*
  setsid "$cli" index "$out/many" --db "$out/sig.db" --model "$model" -q --precision fp32 > "$out/sig1" 2>&1 &
  p=$!; sleep 4; kill -$sig $p; wait $p; echo "== SIG$sig mid-index: rc=$? $(head -c 200 "$out/sig1")"
  echo "  tracks after the kill: $(sqlite3 "$out/sig.db" 'SELECT COUNT(*) FROM tracks' 2>&1)"
  "$cli" index "$out/many" --db "$out/sig.db" --model "$model" --json 2>/dev/null | grep -oE '"(indexed|unchanged|errors)": *[0-9]+' | paste -sd' '
  echo "  tracks after the resume: $(sqlite3 "$out/sig.db" 'SELECT COUNT(*) FROM tracks' 2>&1), windows: $(sqlite3 "$out/sig.db" 'SELECT COUNT(*) FROM windows' 2>&1)"
  "$cli" status --db "$out/sig.db" --check 2>&1 | head -5 | sed 's/^/  /'
done

# 8. M3U export of the hostile names.
seeds=(); for n in "$(printf 'line\nbreak.flac')" "#EXTINF:-1,evil.flac" "$(printf 'cr\rname.flac')" "$(printf 'bad\xffbyte.flac')" formula.flac; do seeds+=(--seed "$out/music/$n"); done
case_ m3u-hostile "$cli" playlist "${seeds[@]}" -n 20 --m3u "$out/p.m3u8" --db "$db"
echo "  m3u:"; cat -A "$out/p.m3u8" | sed 's/^/    /' 

# 9. umask and modes of what is written.
for m in 000 077; do
  rm -f "$out/m$m".*
  ( umask $m; "$cli" index "$out/music" --db "$out/m$m.db" --model "$model" -q > /dev/null 2>&1;
    "$cli" search tone --csv "$out/m$m.csv" --db "$out/m$m.db" > /dev/null 2>&1 )
  echo "== umask $m: $(stat -c '%a %n' "$out/m$m".* | paste -sd' ')"
done
echo private > "$out/priv.csv"; chmod 600 "$out/priv.csv"
( umask 022; "$cli" search tone --csv "$out/priv.csv" --db "$db" > /dev/null 2>&1 )
echo "== a 0600 csv rewritten: $(stat -c '%a' "$out/priv.csv")"
