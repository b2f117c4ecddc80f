#!/usr/bin/python3
"""Hostile pass 13: the beets plugin with real `beet`, new angles: an empty beets library (every
action), no clapsearch index yet, an item whose file was deleted, an item whose name holds a line
break, files outside beets only, a music folder reached through a symlink. Each case prints the
exit code and the last lines; read against docs/integrations.md (beets).

    beets_cases.py CLAPSEARCH_BINARY MODEL_DIR PLUGIN_DIR
"""
import os, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from beets_setup import Env, binary, encode, model, plugin_dir, show, write_beets_config  # noqa: E402


with tempfile.TemporaryDirectory(prefix='hostile13p-beets-') as tmp:
    env = Env(tmp, binary)
    music = os.path.join(tmp, 'music')
    encode(os.path.join(music, 'outside/a.flac'), 'sine=f=300:d=4', {'title': 'Outside A'})
    encode(os.path.join(music, 'outside/b.flac'), 'sine=f=500:d=4', {'title': 'Outside B'})
    write_beets_config(env, music, tmp, plugin_dir, binary, model)
    # 1. empty beets library, no index yet
    for args in (['search', 'a tone'], ['similar', 'title:x'], ['tag'], ['history'], ['index']):
        show('empty beets library, no index: ' + ' '.join(args), env.beet('clapsearch', *args, ok=False))
    # 2. empty beets library, the index holds files beets does not know
    env.run([binary, 'index', music, '--db', env.index, '--model', model, '-q'])
    for args in (['search', 'a tone'], ['similar', os.path.join(music, 'outside/a.flac')], ['tag']):
        show('empty beets library, files outside beets indexed: ' + ' '.join(args), env.beet('clapsearch', *args, ok=False))
    # 3. an item with a line break in its name, and one whose file is deleted after import
    encode(os.path.join(music, 'mine/line\nbreak.flac'), 'sine=f=700:d=4', {'title': 'Line Break'})
    encode(os.path.join(music, 'mine/gone.flac'), 'sine=f=900:d=4', {'title': 'Gone'})
    env.beet('import', '-A', os.path.join(music, 'mine'))
    os.remove(os.path.join(music, 'mine/gone.flac'))
    done = env.beet('clapsearch', 'index', ok=False)
    print('index with a deleted item and a line break: rc', done.returncode, [l[:160] for l in (done.stdout + done.stderr).splitlines() if 'indexing (' not in l])
    show('search', env.beet('clapsearch', 'search', '-f', '$title', 'a tone', ok=False))
    show('similar to the line-break item', env.beet('clapsearch', 'similar', '-f', '$title', 'title:Line', ok=False))
    show('similar to the deleted item', env.beet('clapsearch', 'similar', '-f', '$title', 'title:Gone', ok=False))
    show('tag', env.beet('clapsearch', 'tag', ok=False))
    # 4. the music folder through a symlink (beets' directory a link; the index made through the real path)
    link = os.path.join(tmp, 'link')
    os.symlink(music, link)
    env2 = Env(os.path.join(tmp, 'two'), binary)
    os.makedirs(env2.tmp)
    env2.index = env.index
    write_beets_config(env2, link, env2.tmp, plugin_dir, binary, model)
    env2.beet('import', '-A', os.path.join(link, 'outside'))
    show('beets through a symlink, index by the real path: search', env2.beet('clapsearch', 'search', '-f', '$title', 'a tone', ok=False))
