#!/bin/bash
# Hostile pass 14: the window-index cache file of an index (beside a SQLite file; for PostgreSQL in
# $XDG_CACHE_HOME/clapsearch/window-index/, named by the database's key id) made a FIFO, a folder,
# a link to a decoy file, a link loop, random bytes, empty, truncated; its folder made a file.
# `like` must answer each time, and never write through a link (H14C-7). Never point a link here at
# a device: main's binary replaced the device it named.
# Use: C=<binary> W=<work dir with lib/, lib.db> p14_cache.sh [--db URL]   (default: a copy of lib.db)
set -u
cd "$W" || exit 1
export XDG_CACHE_HOME=$W/cache14
if [ $# -ge 2 ]; then DB=$2; else cp lib.db cache14.db; DB=cache14.db; fi
"$C" like lib/t1.flac --top 2 --db "$DB" -v >/dev/null 2>v.txt
F=$(sed -n 's/.*window index \(.*\.faiss\): .*/\1/p' v.txt | head -1); echo "file: $F"
[ -n "$F" ] || exit 1
cp "$F" keep.faiss
t() {
  out=$(timeout 60 "$C" like lib/t1.flac --top 2 --db "$DB" -v 2>&1); rc=$?
  echo "== $1 rc=$rc $(printf '%s' "$out" | grep -i 'window index\|error\|warn' | head -2 | tr '\n' '|')"
}
rm -f "$F"; mkfifo "$F"; t fifo
rm -f "$F"; mkdir "$F"; t folder; rmdir "$F"
echo "the user's" > decoy.txt; ln -s "$W/decoy.txt" "$F"; t link-to-a-file; echo "   decoy now: $(head -c 20 decoy.txt | tr -c '[:print:]' '?')"
rm -f "$F"; ln -s "$F.b" "$F"; ln -s "$F" "$F.b"; t link-loop; rm -f "$F" "$F.b"
head -c 100000 /dev/urandom > "$F"; t random
: > "$F"; t empty
head -c 3000 keep.faiss > "$F"; t truncated
cp keep.faiss "$F"; t sound
D=$(dirname "$F"); mv "$D" "$D.keep"; : > "$D"; t folder-is-a-file; rm "$D"; mv "$D.keep" "$D"
