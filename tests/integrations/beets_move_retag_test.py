#!/usr/bin/python3
"""Hostile pass 9, H9S-5: files that the real `beet import` (Debian's beets 1.6) moves into its
library folder and retags in the same go (import.move and import.write, with the scrub plugin's
automatic rewrite of the tags on import) keep their clapsearch track ids, and so every user mark
kept by id: the indexer tells them by their audio packets, not their bytes. And a retag that moves
the file (`beet modify` of a field in the path format) does too. Real clapsearch, the tiny test
model, real encoded files (ffmpeg). No network: the import does not autotag. (CTest:
Beets.MoveAndRetag; exit 77 = skipped when beet is not installed.)

    beets_move_retag_test.py CLAPSEARCH_BINARY MODEL_DIR
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

SKIP = 77


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: beets_move_retag_test.py CLAPSEARCH_BINARY MODEL_DIR')
    binary, model = (os.path.abspath(a) for a in sys.argv[1:])
    if shutil.which('beet') is None:
        print('Beets.MoveAndRetag skipped: beet is not installed (apt-get install beets; scripts/install-deps.sh --tests)')
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory(prefix='clapsearch-beets-retag-') as tmp:
        run(tmp, binary, model)
    print('Beets.MoveAndRetag: all checks passed')


def run(tmp, binary, model):
    root = os.path.join(tmp, 'music')  # the folder clapsearch indexes: beets' inbox and library in it
    inbox, library, index = os.path.join(root, 'inbox'), os.path.join(root, 'library'), os.path.join(tmp, 'index.db')
    env = dict(os.environ, BEETSDIR=os.path.join(tmp, 'beetsdir'), HOME=tmp, LC_ALL='C.UTF-8', HF_HUB_OFFLINE='1',
               HF_HOME=os.path.join(tmp, 'hf'), PYTHONDONTWRITEBYTECODE='1')
    env.pop('CLAPSEARCH_DB', None)

    def sh(args):
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise AssertionError(f'{args} failed ({done.returncode}):\nstdout: {done.stdout}\nstderr: {done.stderr}')
        return done.stdout

    def index_run():
        return json.loads(sh([binary, 'index', root, '--db', index, '--model', model, '--quiet', '--json']))

    def ids():
        with sqlite3.connect(index) as db:
            return dict(db.execute('SELECT path, id FROM tracks'))

    songs = {'sun.flac': ('sine=f=440:d=8', 'Sunny Sine'), 'rain.mp3': ('anoisesrc=c=pink:d=8:seed=3', 'Rain'),
             'wind.ogg': ('aevalsrc=sin(2*PI*(200+200*t)*t):d=8', 'Wind')}
    os.makedirs(inbox)
    for name, (source, title) in songs.items():
        sh(['ffmpeg', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', source, '-metadata', 'artist=Nimbus',
            '-metadata', 'album=Weather', '-metadata', f'title={title}', os.path.join(inbox, name)])
    os.makedirs(env['BEETSDIR'])
    with open(os.path.join(env['BEETSDIR'], 'config.yaml'), 'w', encoding='utf-8') as f:
        f.write(f"""directory: {library}
library: {os.path.join(tmp, 'beets.db')}
plugins: scrub
scrub:
  auto: yes
import:
  autotag: no
  move: yes
  write: yes
  quiet: yes
  log: {os.path.join(tmp, 'import.log')}
""")
    index_run()
    before = ids()
    hashes = {p: sha256(p) for p in before}
    check(len(before) == 3, f'three files indexed: {before}')

    # beet import: each file moved into the library folder and its tags written again.
    sh(['beet', 'import', inbox])
    moved = sorted(os.path.join(d, n) for d, _, names in os.walk(library) for n in names)
    check(len(moved) == 3 and not any(os.path.exists(p) for p in before), f'beet import moved the files: {moved}')
    by_title = {}
    for path in moved:
        title = next(t for _, t in songs.values() if f' {t}.' in os.path.basename(path))
        old = next(p for p in before if songs[os.path.basename(p)][1] == title)
        check(sha256(path) != hashes[old], f'beet import wrote {path}: the same bytes, not the case')
        by_title[title] = (old, path)
    summary = index_run()
    check(summary['moved'] == 3 and summary['pruned'] == 0, f'index after beet import: {summary}')
    after = ids()
    for title, (old, new) in by_title.items():
        check(after.get(new) == before[old], f'{title}: {old} (id {before[old]}) is {new} (id {after.get(new)})')
    with sqlite3.connect(index) as db:
        titles = sorted(t for (t,) in db.execute('SELECT title FROM tracks'))
    check(titles == sorted(t for _, t in songs.values()), f'tags read again: {titles}')

    # beet modify of the title: written to the file and the file renamed after it, at once.
    sh(['beet', 'modify', '-y', 'title=Sunny Sine (remaster)', 'title:Sunny Sine'])
    summary = index_run()
    check(summary['moved'] == 1 and summary['pruned'] == 0 and summary['indexed'] == 1, f'index after beet modify: {summary}')
    renamed = [p for p in ids() if 'remaster' in p]
    check(len(renamed) == 1 and ids()[renamed[0]] == before[by_title['Sunny Sine'][0]],
          f'beet modify: {renamed} keeps the id {before[by_title["Sunny Sine"][0]]}: {ids()}')


if __name__ == '__main__':
    main()
