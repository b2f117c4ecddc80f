# Index databases on hostile file systems: a full tmpfs, a read-only mount, an outside lock, a file-size limit.
import sys, subprocess, time, os, shutil; sys.path.insert(0,'/tmp/h10c'); from h import *
os.chdir('/tmp/h10c')
S='/tmp/h10c/small'
def sh(c): subprocess.run(['bash','-c',c])
IDX='$C index lib --model M -q --db '
# 1. full tmpfs: several sizes, each then the next run with room
for size in ('64k','200k','400k','600k','1m','2m'):
    sh(f'umount {S} 2>/dev/null; mount -t tmpfs -o size={size} tmpfs {S}')
    rc,o,e = case('fs-full', IDX + f'{S}/a.db', expect=(0,1), timeout=300)
    case('fs-full', f'$C status --db {S}/a.db --json', expect=(0,1), check=jsonok)
    case('fs-full', f'$C search x --db {S}/a.db', expect=(0,1))
    case('fs-full', f'$C user add bob --password-file pw --db {S}/a.db', expect=(0,1))
    shutil.copy('lib.db', '/tmp/h10c/big.db') if False else None
    sh(f'cp -a {S} /tmp/h10c/snap-{size}; mount -o remount,size=50m {S}')
    case('fs-full', IDX + f'{S}/a.db', expect=0, timeout=300)
    case('fs-full', f'$C status --db {S}/a.db --json', expect=0, check=lambda rc,o,e: '' if '"ok": 6' in o or '"ok":6' in o else 'NOT6 '+o[:100])
    case('fs-full', f'sqlite3 {S}/a.db "pragma integrity_check"', expect=0, check=lambda rc,o,e: '' if o.strip()=='ok' else 'INTEGRITY '+o[:100])
# 2. full tmpfs for outputs
sh(f'umount {S}; mount -t tmpfs -o size=8k tmpfs {S}; head -c 7000 /dev/zero > {S}/fill')
for c in ('playlist --seed 1 -n 5 --m3u {S}/p.m3u','search x --csv {S}/s.csv','embed --text hi --model M -o {S}/e.jsonl','embed --text hi --model M -o {S}/e.npy',
          'classify --labels a,b --all --csv {S}/c.csv','analyze -q x --csv {S}/a.csv','matrix --csv {S}/m.csv','map --out {S}/m.png','map --out {S}/m.html','history export > {S}/h.json'):
    case('fs-full-out', '$C ' + c.format(S=S) + ' --db lib.db', expect=1, timeout=120)
    case('fs-full-out', f'ls {S}', check=lambda rc,o,e: '' if o.split()==['fill'] else 'LEFT '+o)
# 3. read-only mount
sh(f'umount {S}; mount -t tmpfs -o size=50m tmpfs {S}; cp lib.db {S}/r.db; cp lib.db {S}/w.db; sqlite3 {S}/w.db "pragma wal_checkpoint" ; mount -o remount,ro {S}')
for c in ('status','status --json','search x','similar lib/t1.flac','models','history','user list','duplicates','playlist --seed 1','taste','mix --no-save','user add bob','history import hist.json', 'index lib --model M','index lib --model M --rebuild','models --activate M','classify --labels a,b --all --store'):
    case('fs-ro', f'$C {c} --db {S}/r.db', expect=(0,1))
sh(f'mount -o remount,rw {S}')
case('fs-ro', f'sqlite3 {S}/r.db "pragma integrity_check"', check=lambda rc,o,e: '' if o.strip()=='ok' else 'INTEGRITY')
summary()
