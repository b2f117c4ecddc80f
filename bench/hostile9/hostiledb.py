#!/usr/bin/env python3
"""Hostile index databases: each mutation of a good index, then the read and write commands."""
import subprocess, sys, os, json, shutil, sqlite3, struct
C=sys.argv[1]; W=sys.argv[2]; os.chdir(W)
nan=struct.pack('<f',float('nan'))
MUT = {
 'track_emb_short': "update set_tracks set embedding=x'0102' where track_id=1; update tracks set embedding=x'0102' where id=1",
 'track_emb_long': "update set_tracks set embedding=zeroblob(4096) where track_id=1; update tracks set embedding=zeroblob(4096) where id=1",
 'track_emb_text': "update set_tracks set embedding='abc' where track_id=1; update tracks set embedding='abc' where id=1",
 'track_emb_nan': "update set_tracks set embedding=x'%s' where track_id=1; update tracks set embedding=x'%s' where id=1" % ((nan*512).hex(),(nan*512).hex()),
 'track_emb_zero': "update set_tracks set embedding=zeroblob(2048) where track_id=1; update tracks set embedding=zeroblob(2048) where id=1",
 'track_emb_huge': "update set_tracks set embedding=zeroblob(200000000) where track_id=1",
 'win_emb_short': "update set_windows set embedding=x'00' where track_id=2 and idx=0; update windows set embedding=x'00' where track_id=2 and idx=0",
 'win_emb_null': "update windows set embedding=NULL where track_id=2",
 'dim_neg': "update embedding_sets set dim=-1; update meta set value='-1' where key='dim'",
 'dim_huge': "update embedding_sets set dim=99999999999; update meta set value='99999999999' where key='dim'",
 'dim_text': "update embedding_sets set dim='abc'; update meta set value='abc' where key='dim'",
 'dim_zero': "update embedding_sets set dim=0; update meta set value='0' where key='dim'",
 'hop_zero': "update embedding_sets set hop_s=0; update meta set value='0' where key='hop_s'",
 'hop_neg': "update embedding_sets set hop_s=-5; update meta set value='-5' where key='hop_s'",
 'window_huge': "update embedding_sets set window_s=1e308; update meta set value='1e308' where key='window_s'",
 'window_text': "update embedding_sets set window_s='x'; update meta set value='x' where key='window_s'",
 'no_active_set': "update embedding_sets set active=0",
 'two_active_sets': "insert into embedding_sets(id,active,model_id,window_s,hop_s,dim,silence_db) values(2,1,'other',10,5,512,-60)",
 'active_set_missing_model': "update embedding_sets set model_id='/nonexistent/model'; update meta set value='/nonexistent/model' where key='model_id'",
 'schema_text': "update schema_version set version='abc'",
 'schema_neg': "update schema_version set version=-1",
 'schema_two_rows': "insert into schema_version values(12)",
 'schema_empty': "delete from schema_version",
 'schema_huge': "update schema_version set version=9223372036854775807",
 'duration_neg': "update tracks set duration_s=-1e308",
 'duration_huge': "update tracks set duration_s=1e308",
 'duration_text': "update tracks set duration_s='long'",
 'win_start_huge': "update windows set start_s=1e308, end_s=-1e308",
 'win_idx_huge': "update windows set idx=idx+4611686018427387904 where track_id=3; update set_windows set idx=idx+4611686018427387904 where track_id=3",
 'orphan_windows': "pragma foreign_keys=off; insert into windows(track_id,idx,start_s,end_s,loudness_dbfs,silent,embedding) select 999,idx,start_s,end_s,loudness_dbfs,silent,embedding from windows where track_id=1; insert into set_windows select set_id,999,idx,embedding from set_windows where track_id=1",
 'path_empty': "update tracks set path='' where id=1",
 'path_relative': "update tracks set path='t1.flac' where id=1",
 'path_newline': "update tracks set path=path||char(10)||'x' where id=1",
 'path_nul': "update tracks set path=cast(x'2f746d702f00782e666c6163' as text) where id=1",
 'path_blob': "update tracks set path=x'ff00ff' where id=1",
 'title_blob': "update tracks set title=x'ff00fe01', artist=x'1b5b33316d' where id=1",
 'title_huge': "update tracks set title=hex(zeroblob(5000000)) where id=1",
 'status_bogus': "pragma ignore_check_constraints=1; update tracks set status='weird' where id=1",
 'tracks_int_as_text': "update tracks set size='big', mtime_ns='x', track_no='y' where id=2",
 'plays_future': "update plays set played_at=9223372036854775807 where id in (select id from plays limit 3)",
 'plays_negative': "update plays set played_at=-9223372036854775808 where id in (select id from plays limit 3)",
 'plays_orphan': "update plays set track_id=99999",
 'plays_seconds_nan': "update plays set seconds_played=1e308",
 'users_dup_name': "pragma ignore_check_constraints=1; insert into users(name,password) select name||'', password from users",
 'extra_table': "create table zzz(a); insert into zzz values(1)",
 'extra_column': "alter table tracks add column zzz BLOB; update tracks set zzz=zeroblob(100)",
 'drop_set_tracks': "drop table set_tracks",
 'drop_meta': "drop table meta",
 'drop_plays': "drop table plays",
 'drop_users': "drop table users",
 'drop_playlists': "drop table playlists",
 'drop_fingerprints': "drop table fingerprints",
 'drop_text_cache': "drop table text_cache",
 'drop_track_labels': "drop table track_labels",
 'drop_embedding_sets': "drop table embedding_sets",
 'view_instead_of_table': "drop table roots; create view roots as select 1 as path",
 'text_cache_bad': "insert into text_cache select e.model_id, 'x', x'00' from embedding_sets e",
 'fingerprint_bad': "insert or replace into fingerprints values(1, x'0102030405')",
 'fingerprint_huge': "insert or replace into fingerprints values(1, zeroblob(50000000))",
 'trigger_fail': "create trigger t before insert on windows begin select raise(abort,'nope'); end",
 'track_labels_bad': "insert into track_labels select 1, 'x', 'nan' ",
}
CMDS = [['status'],['status','--json'],['search','x','--json'],['similar','1','--json'],['playlist','--seed','1','--json'],
        ['path','1','2','--json'],['duplicates','--json'],['overlaps','--json'],['matrix','--json'],['models','--json'],
        ['history','--json'],['taste','--json'],['mix','--no-save','--json'],['like','lib/t2.flac','--json'],
        ['classify','--labels','a,b','--all','--json'],['index','lib','--json']]
only = sys.argv[3:] or list(MUT)
for name in only:
    db=f'hdb/{name}.db'; os.makedirs('hdb',exist_ok=True); shutil.copy('hist.db',db)
    for f in (db+'-wal',db+'-shm'):
        if os.path.exists(f): os.remove(f)
    r=subprocess.run(['sqlite3',db,MUT[name]],capture_output=True,text=True)
    if r.returncode: print(json.dumps({'mut':name,'setup_error':r.stderr.strip()})); continue
    for cmd in CMDS:
        args=[C]+cmd+['--db',db]
        try:
            p=subprocess.run(args,capture_output=True,timeout=60)
            rc=p.returncode; out=p.stdout.decode('utf-8','replace'); err=p.stderr.decode('utf-8','replace').strip()
        except subprocess.TimeoutExpired:
            rc='TIMEOUT'; out=''; err=''
        flag=''
        if rc=='TIMEOUT': flag='HANG'
        elif rc<0 or rc>=124: flag='CRASH'
        elif '--json' in cmd and rc==0:
            try: json.loads(out)
            except Exception as e:
                try: [json.loads(l) for l in out.splitlines() if l.strip()]
                except Exception as e2: flag='BADJSON'
        if rc==0 and ('nan' in out.lower().split('"')[::2].__str__() ): flag=flag or 'NAN?'
        print(json.dumps({'mut':name,'cmd':' '.join(cmd),'rc':rc,'flag':flag,'err':err[-300:],'out':out[:160]}),flush=True)
