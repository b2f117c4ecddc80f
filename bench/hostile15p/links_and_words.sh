#!/usr/bin/env bash
# Hostile pass 15: (1) what a new user types wrong at `clapsearch radio` and friends (options of
# other players, underscores, a switch given a value); (2) docs/operations.md's hard-link text
# followed literally: a Python Library idle on library.db, then a second Library, `status`,
# `user add` and another interpreter on a hard link of it (each must be refused), and a symbolic
# link (safe: `user add` through it while serve stars through the name; every write kept).
# usage: links_and_words.sh CLAPSEARCH PYTHONPATH LIB_DB PORT   (LIB_DB: an index with bob/bobpw, its .key beside it)
set -uo pipefail
B=$(realpath "$1"); PYP=$(realpath "$2"); SRC=$(realpath "$3"); PORT=$4
W=$(mktemp -d /tmp/h15p-links-XXXXXX); trap 'rm -rf "$W"' EXIT
cd "$W"
echo "== option words"
for a in "radio --for_me" "radio --forme" "radio --min_queue 3" "radio --music-directory x" "radio --musicdir x" \
         "radio --password x" "radio --host localhost" "radio --port 6600" "radio --txt rain" "radio --norepeat 3" \
         "radio --mpd-host x" "radio --for-me=ann" "radio --no-history=ann" "radio -U ann" "radio --user ann --user bob" \
         "search tone --json=full" "search tone --json=yes" "index x -q=x" "user add --admin=bob bob"; do
  printf '%s: ' "$a"; "$B" $a --db "$W/none.db" </dev/null 2>&1 | head -1 | cut -c1-160
done
echo "== hard link"
cp "$SRC" library.db; cp "$SRC.key" library.db.key; ln library.db other.db
PYTHONPATH=$PYP /usr/bin/python3 - "$B" <<'PY'
import clapsearch, subprocess, sys
B = sys.argv[1]
a = clapsearch.Library('library.db'); a.search('tone', k=2)
try: clapsearch.Library('other.db').search('tone', k=2); print('second Library on the link: OPENED')
except Exception as e: print('second Library on the link: refused:', str(e)[:90])
for args, stdin in [(['status'], None), (['user', 'add', 'zed'], 'pw\n')]:
    r = subprocess.run([B, *args, '--db', 'other.db'], input=stdin, capture_output=True, text=True)
    print(' '.join(args), 'on the link: rc', r.returncode, r.stderr.strip()[:90])
r = subprocess.run([sys.executable, '-c', "import clapsearch; clapsearch.Library('other.db').search('tone', k=2)"], capture_output=True, text=True)
print('another interpreter on the link: rc', r.returncode, r.stderr.strip().splitlines()[-1][:90] if r.stderr.strip() else '')
PY
echo "== symbolic link"
rm -f library.db* other.db; cp "$SRC" library.db; cp "$SRC.key" library.db.key; ln -s library.db sym.db
"$B" serve --db library.db --port "$PORT" >serve.log 2>&1 & SP=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/status" >/dev/null && break; sleep 0.2; done
before=$(sqlite3 library.db "select count(*) from users")
(for i in $(seq 10); do echo pw | "$B" user add "sym$i" --db sym.db >/dev/null 2>>adds.err; done) &
ok=0; for i in $(seq 10); do curl -s "http://127.0.0.1:$PORT/rest/star?u=bob&p=bobpw&v=1.16.1&c=h15p&f=json&id=$i" | grep -q '"ok"' && ok=$((ok+1)); sleep 0.3; done
wait %2 2>/dev/null; kill $SP; wait $SP 2>/dev/null
echo "stars answered ok $ok; users $before -> $(sqlite3 library.db 'select count(*) from users') (want +10); stars on disk $(sqlite3 library.db 'select count(*) from stars'); $(sqlite3 library.db 'pragma integrity_check'); add errors: $(grep -vc '^added user' adds.err)"
