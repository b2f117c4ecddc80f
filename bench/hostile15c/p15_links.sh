#!/bin/bash
# Hostile pass 15: symbolic links, FIFOs and folders at the names of files clapsearch makes or is
# given: the indexer's lock <db>.lock (H15C-1), the window index <db>.windows.faiss (a loop: H15C-3),
# the SQLite -wal/-shm, and outputs the user names (--csv) through links to where nothing is yet
# (H15C-6), a loop, a folder, another file system (/dev/shm). Each link points at a decoy file of
# the run's own, never at a device.
# Use: C=<binary> W=<work dir with lib/ and lib.db (an index of lib/ with the model M)> p15_links.sh
set -u
cd "$W" || exit 1
rm -rf p15l && mkdir p15l && cd p15l || exit 1
n=0
t() {  # name, command...
  n=$((n+1)); local name=$1; shift
  out=$(timeout 120 "$@" 2>&1); rc=$?
  echo "== $name rc=$rc $(printf '%s' "$out" | grep -i 'error\|warn\|window index' | head -2 | cut -c1-260 | tr '\n' '|')"
}
fresh() { rm -f i.db*; cp ../lib.db i.db; }
# the indexer's lock
fresh; rm -f i.db.lock; ln -s "$PWD/made-through-lock" i.db.lock; t lock-dangling-link "$C" index ../lib --db i.db -q
echo "   made through the link: $( [ -e made-through-lock ] && echo YES || echo no)"
fresh; echo decoy > decoy; rm -f i.db.lock; ln -s "$PWD/decoy" i.db.lock; t lock-link-to-file "$C" index ../lib --db i.db -q
fresh; rm -f i.db.lock; mkfifo i.db.lock; t lock-fifo "$C" index ../lib --db i.db -q
fresh; rm -f i.db.lock; mkdir i.db.lock; t lock-folder "$C" index ../lib --db i.db -q; rmdir i.db.lock
fresh; rm -f i.db.lock; ln -s i.db.lock i.db.lock; t lock-loop "$C" index ../lib --db i.db -q
# SQLite's own files (SQLite opens them O_NOFOLLOW)
fresh; ln -s "$PWD/made-through-wal" i.db-wal; t wal-link-index "$C" index ../lib --db i.db -q
t wal-link-status "$C" status --db i.db
echo "   made through the link: $( [ -e made-through-wal ] && echo YES || echo no)"
# the window index
fresh; "$C" like ../lib/t1.flac --db i.db --top 1 >/dev/null 2>&1; rm -f i.db.windows.faiss
ln -s i.db.windows.faiss.b i.db.windows.faiss; ln -s i.db.windows.faiss i.db.windows.faiss.b
t window-index-loop "$C" like ../lib/t1.flac --db i.db --top 1 -v
echo "   now: $(stat -c %F i.db.windows.faiss)"
rm -f i.db.windows.faiss*; ln -s "$PWD/decoy" i.db.windows.faiss; t window-index-link "$C" like ../lib/t1.flac --db i.db --top 1
echo "   decoy: $(cat decoy)"
# outputs named by the user
fresh; mkdir -p fold reports
for case in "to-folder:fold" "dangling:reports/latest.csv" "into-missing-folder:gone/x.csv" "loop:out-loop.csv" \
            "other-fs:/dev/shm/p15-$$.csv" "chain:chain2"; do
  name=${case%%:*}; to=${case#*:}; rm -f "out-$name.csv"; ln -s "$to" "out-$name.csv"
  [ "$name" = loop ] && { rm -f out-loop.csv; ln -s out-loop.csv out-loop.csv; }
  [ "$name" = chain ] && { rm -f chain2; ln -s reports/chained.csv chain2; }
  t "csv-$name" "$C" search piano --db i.db --csv "out-$name.csv"
  echo "   out-$name.csv is now: $(stat -c %F "out-$name.csv")"
done
stat -c "%n %s" reports/*.csv "/dev/shm/p15-$$.csv" 2>&1; rm -f /dev/shm/p15-$$.csv
echo "cases: $n"
