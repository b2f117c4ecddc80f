#!/usr/bin/env bash
# Hostile pass 22 (server): a library whose tags, file and folder names, stored labels, users and
# taste centres are what an attacker or a careless tagger would put there, for the web page in a
# real browser (page22.mjs).
#
# Usage: bench/hostile22s/page_library22.sh CLI MODEL OUT_DIR
#   OUT_DIR/music (the files), OUT_DIR/library.db (indexed with MODEL), users ann and
#   '<i>eve</i>' is refused or kept as text, ann with a history and mixes (taste centres named
#   after the hostile tags).
set -euo pipefail
CLI=$1 MODEL=$2 OUT=$3
rm -rf "$OUT"
MUSIC="$OUT/music"
mkdir -p "$MUSIC/plain" "$MUSIC/\"><img src=x onerror=window.__pwned='folder'>"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
# track OUT FREQ TITLE ARTIST ALBUM GENRE
track() {
  local out=$1 f=$2 title=$3 artist=$4 album=$5 genre=$6
  ff -f lavfi -i "sine=f=$f:d=12:sample_rate=44100" -metadata "title=$title" -metadata "artist=$artist" \
    -metadata "album=$album" -metadata "genre=$genre" -c:a flac "$MUSIC/$out"
}
long_word() { head -c "$1" /dev/zero | tr '\0' "$2"; }
RLO=$'\u202e' RLE=$'\u202b' LRI=$'\u2066' PDF=$'\u202c'

track plain/html.flac 220 '<img src=x onerror="window.__pwned=1">' '<script>window.__pwned=2</script>' \
  '"><svg onload=window.__pwned=3>' '</style><b id=injected>genre</b>'
track plain/rtl.flac 330 "${RLO}Evil Title" "Bob${RLE} arabic" "${RLO}mubla" "${RLO}erneg"
track plain/long.flac 440 "$(long_word 3000 W)" "$(long_word 2000 A)" "$(long_word 1000 B)" "$(long_word 500 G)"
track plain/control.flac 550 $'ctl\x01\x02\x07\x08\x1b[31mred\x7f\u0085\u2028end\tTAB\rCR\nLF' \
  $'art\x0c\x0bist' $'al\x1fbum' $'gen\x1are'
track plain/template.flac 660 'javascript:window.__pwned=5' "{{constructor.constructor('window.__pwned=6')()}}" \
  '${window.__pwned=7}' 'Rock'
track plain/bidi-mix.flac 770 "${LRI}unclosed isolate" "${RLO}${RLO}${RLO}deep" "Album${PDF}${PDF}" 'Jazz'
track "\"><img src=x onerror=window.__pwned='folder'>/<b>file<\\b>.flac" 880 '' '' '' ''
# Not audio, with a hostile name: listed under the library's errors.
printf 'not audio\n' >"$MUSIC/plain/<img src=x onerror=window.__pwned=8>.mp3"

export HF_HOME="$OUT/hf-home" HF_HUB_OFFLINE=1
DB="$OUT/library.db"
"$CLI" index "$MUSIC" --db "$DB" --model "$MODEL" --quiet
# Stored labels that look like markup and like the page's own CSS classes.
"$CLI" classify --db "$DB" --labels '<img src=x onerror=window.__pwned=9>,visually-hidden skip,high low moderate' --store --all --top 3 >/dev/null

printf 'page test\n' >"$OUT/password"
"$CLI" user add ann --db "$DB" --password-file "$OUT/password" >/dev/null
"$CLI" user add '<i>eve</i>' --db "$DB" --password-file "$OUT/password" >/dev/null 2>"$OUT/eve.err" \
  && echo "user '<i>eve</i>' added" || echo "user '<i>eve</i>' refused: $(cat "$OUT/eve.err")"
# ann's history: every hostile song, so her taste centres and mixes are named after them.
LISTENS="$OUT/ann.jsonl"
: >"$LISTENS"
at=$(($(date +%s) - 10 * 86400))
python3 - "$DB" "$LISTENS" "$at" <<'EOF'
import json, sqlite3, sys
db, out, at = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(db)
rows = con.execute("select artist, title from tracks where status = 'ok'").fetchall()
with open(out, 'w') as f:
    for i in range(4):
        for artist, title in rows:
            if not artist or not title:
                continue
            at -= 3600
            f.write(json.dumps({'listened_at': at, 'track_metadata': {'artist_name': artist, 'track_name': title}}) + '\n')
EOF
"$CLI" history import "$LISTENS" --user ann --db "$DB"
"$CLI" mix --user ann --size 4 --db "$DB" >/dev/null
echo "library at $DB"
