#!/usr/bin/env python3
"""Hostile pass 19 (Python): Library.index() while a copy of the index is moved over the file, or
the file is deleted, after its first file is stored. Prints what index() returned or raised and
what the file at the name holds afterwards. Usage: PYTHONPATH=BUILD/python py_index_replaced.py MUSIC MODEL WORKDIR"""
import os, shutil, sqlite3, sys
from contextlib import closing
import clapsearch

music, model, work = sys.argv[1:4]
for how in ("copy-moved-over", "deleted"):
    db = os.path.join(work, f"ir-{how}.db")
    for f in (db, db + "-wal", db + "-shm"):
        if os.path.exists(f): os.remove(f)
    clapsearch.index([music], db=db, model=model, progress=False, limit=1) if False else None
    lib = clapsearch.Library(db, model)
    done = [0]
    def on_file(kind, path, detail):
        done[0] += 1
        if done[0] == 2:
            if how == "deleted":
                os.remove(db)
            else:
                with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(db + ".copy")) as b:
                    a.backup(b)
                os.rename(db + ".copy", db)
    try:
        r = lib.index([music], progress=False, on_file=on_file)
        said = f"returned indexed={r.get('indexed')} errors={r.get('errors')}"
    except clapsearch.Error as e:
        said = f"raised {type(e).__name__}: {str(e)[:300]}"
    held = "no file"
    if os.path.exists(db):
        with closing(sqlite3.connect(db)) as c:
            held = f"{c.execute('select count(*) from tracks').fetchone()[0]} tracks"
    print(f"{how:16} {said} | the file at the name: {held}", flush=True)
