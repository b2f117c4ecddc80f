#!/bin/bash
# Hostile pass 13: what history import and the query/label file readers make of files that are not
# what they should be (H13C-3): compressed exports, sound, pictures, tar, random bytes, UTF-16, a BOM,
# 70,000 blank lines or spaces before the first listen, a 70 KB CSV field, NUL after 2,000 lines,
# huge/negative/float times, deep nesting, duplicate keys, /dev/zero, FIFO, folder, stdin of 2 GiB.
# Usage: C=<binary> W=<work dir with hist.db, hist.db.key, lib/> p13_files.sh
set -u; cd "$W"; cp hist.db hi.db; cp hist.db.key hi.db.key; rm -f ff.fifo; mkfifo ff.fifo; mkdir -p adir
python3 - <<'PY'
import json
L=json.dumps({"listened_at":1700000000,"track_metadata":{"artist_name":"a","track_name":"t"}})
open('l.jsonl','w').write(L+'\n')
open('hi_ws.jsonl','w').write(' '*70000+'\n'+L+'\n'); open('hi_nl.jsonl','w').write('\n'*70000+L+'\n')
open('hi_ws.json','w').write(' '*70000+'['+json.dumps({"artist":"a","track":"t","uts":1700000000})+']')
open('hi_csvlong.csv','w').write('artist,album,track,uts\n"'+'a'*70000+'",b,c,1700000000\n')
open('hi_nul.jsonl','wb').write((L+'\n').encode()*2000+b'\0'*10+(L+'\n').encode())
open('hi_bom.jsonl','wb').write(b'\xef\xbb\xbf'+(L+'\n').encode()); open('hi_utf16.jsonl','wb').write((L+'\n').encode('utf-16'))
open('hi_crlf.csv','wb').write(b'artist,album,track,uts\r\na,b,t,1700000000\r\n')
for n,v in (('bigint','1e30'),('negint','-1'),('float','1.7e9')):
    open(f'hi_{n}.jsonl','w').write('{"listened_at":'+v+',"track_metadata":{"artist_name":"a","track_name":"t"}}\n')
open('hi_deep.jsonl','w').write('['*100000+']'*100000+'\n'); open('hi_deep2.json','w').write('{"a":'*100000+'1'+'}'*100000)
open('hi_dupkey.jsonl','w').write('{"listened_at":1700000000,"listened_at":1700000001,"track_metadata":{"artist_name":"a","track_name":"t"}}\n')
open('x.png','wb').write(b'\x89PNG\r\n\x1a\n'+bytes(range(256))*10); open('nulq.txt','wb').write(b'a\0b\n')
PY
gzip -kf l.jsonl; xz -kf l.jsonl; bzip2 -kf l.jsonl; tar cf l.tar l.jsonl; cp lib/t1.flac t1.flac; head -c 5000 /dev/urandom > rnd5k.bin; head -c 100000000 /dev/urandom > rnd100m.bin
for f in l.jsonl l.jsonl.gz l.jsonl.xz l.jsonl.bz2 l.tar t1.flac x.png rnd5k.bin rnd100m.bin hi_*.json* hi_*.csv /dev/zero /dev/null ff.fifo adir; do
  timeout 60 $C history import $f --db hi.db >/dev/null 2>e.txt; echo "rc=$? [history import $f] $(head -c 200 e.txt | tr '\n' '|')"
done
timeout 100 $C history import - --db hi.db < /dev/zero 2>&1 | head -c 200; echo " [stdin /dev/zero]"
for c in "analyze --queries F --csv /dev/null" "classify --labels-file F --all" "search --queries F"; do for F in l.jsonl.gz x.png nulq.txt; do
  timeout 60 $C ${c//F/$F} --db lib.db >/dev/null 2>e.txt; echo "rc=$? [$c $F] $(head -c 200 e.txt | tr '\n' '|')"; done; done
