#!/bin/bash
# Hostile pass 13: a PostgreSQL index's password key id and key file (H11C-7's new code).
# Usage: P=<port of a PostgreSQL server, user clap, trust> C=<binary> W=<work dir with lib/, M/> p13_pgkey.sh
# Cases: meta key_id hand-edited (path, upper case, trailing space, empty, 3 MB, ESC) x (user passwd, user add);
# the row deleted (a new id, the key found by the password it opens); a read-only keys folder (H13C-1);
# two processes adopting at once under two spellings (8 times); the id's key file a FIFO, folder, empty,
# 100 MB, symlink, dangling symlink, mode 0644, CRLF, trailing junk.
set -u; cd "$W"; export XDG_CACHE_HOME=$W/xdgc
Q() { psql -h 127.0.0.1 -p $P -U clap -d $1 -Atq "${@:2}"; }
psql -h 127.0.0.1 -p $P -U clap -d postgres -qc "drop database if exists k1" -c "create database k1"
export XDG_DATA_HOME=$W/xdg; rm -rf xdg; U=postgresql://clap@127.0.0.1:$P/k1
$C index lib --db $U --model M -q; echo pw | $C user add alice --db $U
ID=$(Q k1 -c "select value from meta where key='key_id'")
for v in "../../../etc/passwd" "$(echo $ID | tr a-f A-F)" "$ID " "" BIG "$(printf '\e[2J')"; do
  if [ "$v" = BIG ]; then echo "update meta set value=repeat('a',3000000) where key='key_id'" | Q k1; else Q k1 -c "update meta set value='$v' where key='key_id'"; fi
  for cmd in "user passwd alice" "user add bob" "user list" "status"; do echo pw2 | timeout 60 $C $cmd --db $U >/dev/null 2>e.txt; echo "rc=$? [key_id $(printf %q "${v:0:20}") $cmd] $(head -c 160 e.txt)"; done
done
Q k1 -c "delete from meta where key='key_id'"; echo pw3 | $C user passwd alice --db $U; echo "rc=$? [row deleted] $(ls xdg/clapsearch/keys | wc -l) key files"
# read-only keys folder (H13C-1): a tmpfs remounted read-only
mkdir -p xdgro/clapsearch/keys && mount -t tmpfs -o size=1m tmpfs xdgro/clapsearch/keys && cp -p xdg/clapsearch/keys/postgres-db-$(Q k1 -c "select value from meta where key='key_id'").key xdgro/clapsearch/keys/ && mount -o remount,ro xdgro/clapsearch/keys
Q k1 -c "delete from meta where key='key_id'"
echo pw4 | XDG_DATA_HOME=$W/xdgro $C user passwd alice --db $U; echo "rc=$? [read-only keys folder, row deleted]"
umount xdgro/clapsearch/keys
# two at once
psql -h 127.0.0.1 -p $P -U clap -d postgres -qc "drop database if exists k2" -c "create database k2"
export XDG_DATA_HOME=$W/xdgpar; rm -rf xdgpar; U=postgresql://clap@127.0.0.1:$P/k2; D=xdgpar/clapsearch/keys
$C index lib --db $U --model M -q; echo pw | $C user add alice --db $U; cp -p $D/$(ls $D) keyback
for i in 1 2 3 4 5 6 7 8; do
  rm -f $D/*; cp -p keyback $D/postgres-0123456789abcdef.key; Q k2 -c "delete from meta where key='key_id'"
  (echo pw$i | $C user passwd alice --db $U >/dev/null 2>p1.err & echo pwb$i | $C user passwd alice --db postgresql://clap@localhost:$P/k2 >/dev/null 2>p2.err & wait)
  echo "[two at once $i] $(ls $D | wc -l) files; $(cat p1.err p2.err | head -c 200)"
done
F=$(ls $D/postgres-db-*); cp -p $F keyback2
for kind in fifo dir empty huge symlink dangling mode644 crlf trailing; do
  rm -rf $F
  case $kind in fifo) mkfifo -m 600 $F;; dir) mkdir $F;; empty) : > $F; chmod 600 $F;; huge) head -c 100000000 /dev/zero | tr '\0' a > $F; chmod 600 $F;;
    symlink) ln -s $PWD/keyback2 $F;; dangling) ln -s /nonexist $F;; mode644) cp keyback2 $F; chmod 644 $F;;
    crlf) (tr -d '\n' < keyback2; printf '\r\n') > $F; chmod 600 $F;; trailing) (cat keyback2; echo junk) > $F; chmod 600 $F;; esac
  echo pwx | timeout 30 $C user passwd alice --db $U >/dev/null 2>e.txt; echo "$kind rc=$? $(head -c 200 e.txt)"
done
rm -rf $F; cp -p keyback2 $F
