# migrate both directions on damaged input; PostgreSQL damages against the reading and writing commands.
import sys, os, json, subprocess, glob
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h11c'))
PORT = open('pgport').read().strip()
URL = lambda d: f'postgresql://clap@127.0.0.1:{PORT}/{d}'
def psql(db, sql):
    return subprocess.run(['psql', '-h', '127.0.0.1', '-p', PORT, '-U', 'clap', '-d', db, '-Atqc', sql], capture_output=True, text=True)
def newdb(name, template=None):
    psql('postgres', f'drop database if exists {name}')
    r = psql('postgres', f'create database {name}' + (f' template {template}' if template else ''))
    if r.returncode: print('SETUP', name, r.stderr, flush=True)
mode = sys.argv[1]
if mode == 'to_pg':
    for db in sorted(glob.glob('hdb/*.db')):
        name = 'm_' + os.path.basename(db)[:-3]
        newdb(name)
        subprocess.run(f'cp hist0.db.key {db}.key', shell=True)
        rc, out, err = case('migrate-to-pg', f'$C migrate --from {db} --to {URL(name)} --json -q', expect=(0, 1), timeout=180, check=jsonok)
        if rc == 1:
            n = psql(name, "select coalesce((select count(*) from tracks),0) + coalesce((select count(*) from users),0)").stdout.strip()
            if n not in ('', '0'): print('FLAG half-migrated', name, n, flush=True); flags.append(('half', name, n))
        else:
            # back to SQLite: the same counts
            back = f'mback/{name}.db'; os.makedirs('mback', exist_ok=True); subprocess.run(f'rm -f {back}*', shell=True)
            rc2, out2, err2 = case('migrate-back', f'$C migrate --from {URL(name)} --to {back} --json -q', expect=(0, 1), timeout=180, check=jsonok)
            if rc2 == 0:
                a = json.loads(out); b = json.loads(out2)
                diff = {k: (a[k], b.get(k)) for k in a if isinstance(a[k], int) and k not in ('seconds',) and a[k] != b.get(k)}
                if diff: print('FLAG counts differ', name, diff, flush=True); flags.append(('counts', name, diff))
            psql('postgres', f'drop database if exists {name}')
elif mode == 'pg_damage':
    newdb('good'); subprocess.run(f'$C migrate --from hist.db --to {URL("good")} -q'.replace('$C', C), shell=True)
    DMG = {
     'drop_tracks': 'drop table tracks cascade', 'drop_meta': 'drop table meta', 'drop_plays': 'drop table plays',
     'drop_users': 'drop table users cascade', 'drop_jobs': 'drop table jobs', 'drop_set_windows': 'drop table set_windows',
     'drop_packet_hashes': 'drop table packet_hashes', 'drop_schema_version': 'drop table schema_version',
     'schema_old': 'update schema_version set version=3', 'schema_new': 'update schema_version set version=999',
     'schema_empty': 'delete from schema_version', 'schema_two': 'insert into schema_version values(14)',
     'emb_short': "update set_tracks set embedding='\\x0102'::bytea where track_id=1; update tracks set embedding='\\x0102'::bytea where id=1",
     'emb_null': "update set_windows set embedding=NULL where track_id=2",
     'win_emb_long': "update set_windows set embedding=decode(repeat('00', 100000),'hex') where track_id=2",
     'dim_zero': "update embedding_sets set dim=0",
     'dim_neg': "update embedding_sets set dim=-1",
     'no_active': "update embedding_sets set active=false" ,
     'meta_garbage': "update meta set value='x' where key in ('dim','window_s','hop_s')",
     'path_nul_like': "update tracks set path=path||E'\\n\\x1b[31m' where id=1",
     'jobs_garbage': "insert into jobs select * from jobs limit 0",
     'extra_col': "alter table tracks add column zzz int",
     'col_type': "alter table tracks alter column track_no type text",
     'drop_col': "alter table tracks drop column speech",
     'plays_future': "update plays set played_at=9223372036854775807 where id in (select id from plays limit 3)",
     'rename_table': "alter table windows rename to windows_old",
     'view_tracks': "alter table tracks rename to tracks_t; create view tracks as select * from tracks_t",
     'revoke': "create role ro login; revoke all on all tables in schema public from ro",
    }
    only = sys.argv[2:] or list(DMG)
    CMDS = ['status --json', 'search x --json', 'similar 1 --json', 'mix --no-save --json', 'history --json', 'models --json',
            'duplicates --json', 'user list', 'doctor', 'index lib --json', 'index lib --plan --json', 'worker --until-done --json',
            'MIGRATE']
    for name in only:
        d = 'd_' + name; newdb(d, 'good')
        r = psql(d, DMG[name])
        if r.returncode: print(json.dumps({'setup_error': name, 'err': r.stderr.strip()}), flush=True); continue
        for c in CMDS:
            if c == 'MIGRATE':
                back = f'mback/{d}.db'; os.makedirs('mback', exist_ok=True); subprocess.run(f'rm -f {back}*', shell=True)
                rc, out, err = case('pgdmg-' + name, f'$C migrate --from {URL(d)} --to {back} --json -q', expect=(0, 1), timeout=120, check=jsonok)
                if rc == 1 and os.path.exists(back) and os.path.getsize(back) > 0:
                    n = subprocess.run(['sqlite3', back, 'select count(*) from tracks'], capture_output=True, text=True).stdout.strip()
                    if n not in ('', '0'): print('FLAG half-migrated-back', d, n, flush=True)
            else:
                case('pgdmg-' + name, f'timeout 100 $C {c} --db {URL(d)}' + (' --model M' if c.startswith('worker') else ''), expect=(0, 1), timeout=120,
                     check=(jsonok if '--json' in c else None))
        psql('postgres', f'drop database if exists {d}')
summary()
