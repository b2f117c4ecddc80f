#!/usr/bin/python3
"""Hostile pass 12: the beets plugin with real `beet`, new angles: a beets library that is a small
part of the index (the top k beets items beyond the 4 k results the plugin asks for), -k at its
bounds. Reuses tests/integrations/beets_plugin_test.py's helpers.

    beets_cases.py CLAPSEARCH_BINARY MODEL_DIR PLUGIN_DIR
"""
import os, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'integrations'))
from beets_plugin_test import Env, encode, write_beets_config  # noqa: E402

binary, model, plugin_dir = (os.path.abspath(a) for a in sys.argv[1:4])
with tempfile.TemporaryDirectory(prefix='hostile12p-beets-') as tmp:
    env = Env(tmp, binary)
    music = os.path.join(tmp, 'music')
    # Two beets items; 60 files beets never imports, indexed beside them.
    encode(os.path.join(music, 'mine/one.flac'), 'sine=f=300:d=4', {'title': 'Mine One'})
    encode(os.path.join(music, 'mine/two.flac'), 'anoisesrc=color=pink:d=4:seed=9', {'title': 'Mine Two'})
    for i in range(60):
        encode(os.path.join(music, f'other/{i:02d}.flac'), f'sine=f={320 + 7 * i}:d=4', {'title': f'Other {i}'})
    write_beets_config(env, music, tmp, plugin_dir, binary, model)
    env.beet('import', '-A', os.path.join(music, 'mine'))
    env.run([binary, 'index', music, '--db', env.index, '--model', model, '-q'])
    ranks = [r['path'] for r in env.clapsearch_json('search', 'a pure tone', '-k', '0')]
    mine = [i for i, p in enumerate(ranks) if '/mine/' in p]
    print('beets items at ranks', mine, 'of', len(ranks))
    for k in ('1', '2', '10'):
        done = env.beet('clapsearch', 'search', '-k', k, '-f', '$title', 'a pure tone', ok=False)
        got = [l for l in done.stdout.splitlines() if l]
        want = min(int(k), 2)
        print(('HELD' if len(got) == want else 'FOUND'), f'search -k {k}: {got} (want {want}) rc {done.returncode} {done.stderr.strip()[-160:]!r}')
    done = env.beet('clapsearch', 'similar', '-k', '1', '-f', '$title', 'title:Mine One', ok=False)
    got = [l for l in done.stdout.splitlines() if l]
    print(('HELD' if got == ['Mine Two'] else 'FOUND'), f'similar -k 1: {got} rc {done.returncode} {done.stderr.strip()[-160:]!r}')
    for k in ('0', '-1', str(2 ** 63)):
        done = env.beet('clapsearch', 'search', '-k', k, 'tone', ok=False)
        print('k', k, done.returncode, (done.stdout + done.stderr).strip()[-200:])
