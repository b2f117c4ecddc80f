# usage: mkmarks.sh DB  -- a user bob with plays, stars, ratings and a playlist over the index's tracks
db=$1
echo pw12345678 | ${C:-build/clapsearch} user add bob --db $db >/dev/null
sqlite3 $db "insert into plays(user_id,track_id,content_hash,path,played_at,seconds_played,skipped,source) select 1, t.id, t.content_hash, t.path, 1700000000+3600*v.n, 100.0, 0, 'scrobble' from tracks t, (with recursive c(n) as (select 1 union all select n+1 from c where n<20) select n from c) v;
insert into stars(user_id,item_kind,item_id,track_id,content_hash,path,starred_at) select 1,'song',cast(id as text),id,content_hash,path,1700000000 from tracks where id<=3;
insert into ratings select 1,'song',cast(id as text),id,content_hash,path,4,1700000000 from tracks where id in (4,5);
insert into playlists values(1,1,'pl','',0,1700000000,1700000000); insert into playlist_entries select 1,id,id,content_hash,path from tracks;"
