import sys, os, json, subprocess
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h11c'))
files = sorted(os.listdir('hx'))
os.makedirs('hdb11', exist_ok=True)
def fresh(n):
    db = f'hdb11/{n}.db'
    subprocess.run(f'cp tl0.db {db}; rm -f {db}-wal {db}-shm', shell=True)
    return db
for f in files:
    fmts = ['auto'] if f in ('fifo.jsonl',) else ['auto', 'listenbrainz', 'lastfm', 'beets']
    for fmt in fmts:
        db = fresh('x')
        cmd = f'timeout 100 $C history import hx/{f} --format {fmt} --db {db} --json'
        if f == 'fifo.jsonl': cmd = f'(sleep 2; echo >/dev/null) & timeout 20 $C history import hx/{f} --db {db} --json'
        rc, out, err = case('hist-' + fmt, cmd, expect=(0, 1), timeout=120, check=jsonok)
        # nothing half-imported on failure
        if rc == 1:
            n = subprocess.run(['sqlite3', db, 'select count(*) from plays'], capture_output=True, text=True).stdout.strip()
            if n != '0': print('FLAG half-imported', f, fmt, n, flush=True); flags.append(('half', f, fmt, n))
# stdin
for f in ['lb_ok.jsonl', 'fm_ok.csv', 'fmj_ok.json', 'lbz_ok.zip', 'lbz_bomb.zip']:
    db = fresh('x')
    case('hist-stdin', f'$C history import - --db {db} --json < hx/{f}', expect=(0, 1), check=jsonok)
    case('hist-stdin-pipe', f'cat hx/{f} | $C history import - --db {db} --json', expect=(0, 1), check=jsonok)
case('hist-stdin-zero', f'head -c 3000000000 /dev/zero | timeout 100 $C history import - --db {fresh("x")} --json', expect=(1,))
case('hist-stdin-closed', f'$C history import - --db {fresh("x")} --json <&-', expect=(1,))
summary()
