#!/bin/bash
# Hostile pass 13: H12C-4's stream-safe composition, timed: history import of 3 listens whose artist and
# title are runs of combining marks and other composing sequences (U+0301 U+0327, U+0F73, U+0344,
# U+0345, Oriya U+0B47 + U+0B3E, Hangul L+V jamo, Khmer, ZWJ + mark, runs of 29 marks + CGJ), 200k to
# 800k code points; a 1 MB marks query through search, --where, a settings file and analyze --queries.
# Usage: C=<binary> W=<work dir with hist.db> p13_marks.sh
set -u; cd "$W"; cp hist.db h13.db; cp hist.db.key h13.db.key
python3 - <<'PY'
import json
S = {'acute_cedilla200k': '\u0301\u0327'*100000, 'acute_cedilla800k': '\u0301\u0327'*400000, 'oriya': '\u0b47' + '\u0b3e'*400000,
     'tib': '\u0f73'*400000, 'u344': '\u0344'*400000, 'hangul': '\u1100'*200000+'\u1161'*200000, 'u345': '\u0345'*400000,
     'mix': '\u0301\u0f73\u0344\u0345\u05b0'*80000, 'cgj': ('\u0301'*29+'\u034f')*15000, 'khmer': '\u17c1\u17b8'*200000, 'zwj': 'a'+'\u200d\u0301'*200000}
for k, m in S.items():
    with open(f'mk_{k}.jsonl', 'w') as f:
        for i in range(3): f.write(json.dumps({"listened_at": 1700000000+i, "track_metadata": {"artist_name": "a"+m, "track_name": "t"+m}})+'\n')
PY
for f in mk_*.jsonl; do /usr/bin/time -f "$f %e s %M KB" timeout 300 $C history import $f --db h13.db 2>&1 >/dev/null | tail -1; done
v=$(python3 -c "print('a'+'\u0301\u0327'*15000)")
/usr/bin/time -f "search 60k marks %e s" timeout 300 $C search "$v" --db lib.db -k 1 2>&1 >/dev/null | tail -1
/usr/bin/time -f "--where 60k marks %e s" timeout 300 $C search x --where "title = \"$v\"" --db lib.db -k 1 2>&1 >/dev/null | tail -1
