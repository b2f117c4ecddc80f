#!/usr/bin/python3
"""Hostile pass 14: the beets plugin with real `beet`, what passes 12-13 did not give: query texts
that look like clapsearch options (`--db=/elsewhere`, `-k`, `--help`), a beets query with a
non-UTF-8 item path (Latin-1 name on disk), `-k` of 2**63, and a text of 100 KB. Each prints the
exit code and the last lines.    beets_cases.py CLAPSEARCH_BINARY MODEL_DIR PLUGIN_DIR"""
import os, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile13p'))
from beets_setup import Env, binary, encode, model, plugin_dir, show, write_beets_config  # noqa: E402


with tempfile.TemporaryDirectory(prefix='hostile14p-beets-') as tmp:
    env = Env(tmp, binary)
    music = os.path.join(tmp, 'music')
    encode(os.path.join(music, 'mine/a.flac'), 'sine=f=300:d=4', {'title': 'Mine A'})
    encode(os.path.join(music, 'mine/b.flac'), 'sine=f=500:d=4', {'title': 'Mine B'})
    latin = os.path.join(os.fsencode(music), b'mine', b'caf\xe9.flac')
    os.rename(os.path.join(music, 'mine/b.flac'), latin)
    write_beets_config(env, music, tmp, plugin_dir, binary, model)
    env.beet('import', '-A', os.path.join(music, 'mine'))
    show('index', env.beet('clapsearch', 'index', ok=False))
    elsewhere = os.path.join(tmp, 'elsewhere.db')
    for text in ('--db=' + elsewhere, '-k', '--help', '-', 'x' * 100_000):
        show(f'search {text[:24]!r}', env.beet('clapsearch', 'search', '-f', '$title', text, ok=False))
    for text in ('--db=' + elsewhere, '--help'):
        show(f'search -- {text[:24]!r}', env.beet('clapsearch', 'search', '-f', '$title', '--', text, ok=False))
    print('an index made elsewhere by an option in the text:', os.path.exists(elsewhere))
    show('similar to the Latin-1 item', env.beet('clapsearch', 'similar', '-f', '$title', 'title:Mine B', ok=False))
    show('search -k 2**63', env.beet('clapsearch', 'search', '-k', str(2**63), 'tone', ok=False))
    show('tag', env.beet('clapsearch', 'tag', ok=False))
