# Signals and concurrency: kill -9 at several moments of index, SIGTERM/SIGINT of watch, an outside lock holder.
import sys, subprocess, time, os, signal; sys.path.insert(0,'/tmp/h10c'); from h import *
os.chdir('/tmp/h10c')
C=os.environ.get('C','build/clapsearch')
def start(args, **kw): return subprocess.Popen([C]+args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
integrity = lambda rc,o,e: '' if o.strip()=='ok' else 'INTEGRITY '+o[:80]
for delay in (0.3, 1, 2, 4, 7):
    db=f'k9-{delay}.db'
    for s in ('', '-wal','-shm','.lock'):
        try: os.remove(db+s)
        except FileNotFoundError: pass
    p=start(['index','lib','--model','M','-q','--db',db]); time.sleep(delay); p.send_signal(signal.SIGKILL); p.wait()
    counts['sig-kill9']+=1
    case('sig-kill9', f'sqlite3 {db} "pragma integrity_check"', check=integrity)
    case('sig-kill9', f'$C status --db {db} --json', expect=(0,1), check=jsonok)
    case('sig-kill9', f'$C search x --db {db}', expect=(0,1))
    case('sig-kill9', f'$C index lib --model M -q --db {db}', expect=0, timeout=300)
    case('sig-kill9', f'$C status --db {db} --json', expect=0, check=lambda rc,o,e: '' if '"ok":6' in o.replace(' ','') else 'NOT6')
# watch: SIGTERM, SIGINT, kill -9 while watching; a file added while it runs
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
    db=f'w-{int(sig)}.db'; subprocess.run(['cp','lib.db',db]); subprocess.run(['rm','-f',db+'-wal',db+'-shm'])
    p=start(['index','lib','--model','M','--watch','--db',db]); time.sleep(4)
    subprocess.run(['cp','lib/t1.flac','lib/t7.flac']); time.sleep(3); p.send_signal(sig)
    try: rc=p.wait(timeout=30)
    except subprocess.TimeoutExpired: p.kill(); rc='TIMEOUT'
    err=p.stderr.read().decode('utf-8','replace')
    counts['sig-watch']+=1
    print(json.dumps(dict(cls='sig-watch', sig=int(sig), rc=rc, err=err[-300:])), flush=True)
    if rc=='TIMEOUT' or (sig!=signal.SIGKILL and rc not in (0,130,143)): flags.append(('sig-watch', sig, rc, err[-200:]))
    case('sig-watch', f'sqlite3 {db} "pragma integrity_check"', check=integrity)
    case('sig-watch', f'$C index lib --model M -q --db {db}', expect=0, timeout=300)
    os.remove('lib/t7.flac')
# an outside process holds the write lock (BEGIN IMMEDIATE) for 45 s
db='locked.db'; subprocess.run(['cp','lib.db',db])
holder=subprocess.Popen(['bash','-c',f'(echo "begin immediate; insert into meta values(\'x\',\'y\');"; sleep 45; echo "rollback;") | sqlite3 {db}'])
time.sleep(1)
t=time.time()
for c in ('search x','status --json','user add carol --password-file pw','index lib --model M -q','history','mix --db-ignored'):
    if 'ignored' in c: continue
    case('lock-outside', f'$C {c} --db {db}', expect=(0,1), timeout=60)
print('lock waited', time.time()-t)
holder.wait()
# rollback-journal database with an exclusive lock held by another process: readers blocked too
db='dellock.db'; subprocess.run(['cp','lib.db',db]); subprocess.run(['sqlite3',db,'pragma journal_mode=delete'])
holder=subprocess.Popen(['bash','-c',f'(echo "begin exclusive; insert into meta values(\'x\',\'y\');"; sleep 40; echo "rollback;") | sqlite3 {db}'])
time.sleep(1)
for c in ('search x','status --json','similar lib/t1.flac'):
    case('lock-outside', f'$C {c} --db {db}', expect=(0,1), timeout=60)
holder.wait()
summary()
