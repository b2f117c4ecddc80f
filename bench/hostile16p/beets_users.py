#!/usr/bin/python3
"""Hostile pass 16: the beets plugin with real `beet`: `history` with users that are not there
(-u nobody, -u '', -u with a line break or an escape, the index without users, two users and no
-u), items whose titles hold control characters and whose path is not UTF-8, and `search`,
`similar`, `tag` over them. Each prints the exit code and the last lines; a crash (a Python
traceback) or a raw control character on the terminal is the finding.
    beets_users.py CLAPSEARCH_BINARY MODEL_DIR PLUGIN_DIR"""
import os, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile13p'))
from beets_setup import Env, binary, encode, model, plugin_dir, show, write_beets_config  # noqa: E402


def raw_controls(done):
    text = done.stdout + done.stderr
    return sorted({hex(ord(c)) for c in text if (ord(c) < 0x20 and c not in '\n') or ord(c) == 0x7f})


with tempfile.TemporaryDirectory(prefix='hostile16p-beets-') as tmp:
    env = Env(tmp, binary)
    music = os.path.join(tmp, 'music')
    encode(os.path.join(music, 'm/a.flac'), 'sine=f=300:d=4', {'title': 'Tab\there', 'artist': 'Esc\x1b[2J'})
    encode(os.path.join(music, 'm/b.flac'), 'sine=f=500:d=4', {'title': 'Bell\x07 and CR\rX', 'artist': 'Plain'})
    encode(os.path.join(music, 'm/c.flac'), 'sine=f=700:d=4', {'title': 'Mine C'})
    os.rename(os.path.join(music, 'm/c.flac'), os.path.join(os.fsencode(music), b'm', b'caf\xe9.flac'))
    write_beets_config(env, music, tmp, plugin_dir, binary, model)
    env.beet('import', '-A', os.path.join(music, 'm'))
    env.beet('modify', '-y', 'title:Plain', 'play_count=3', ok=False)
    env.beet('modify', '-y', 'artist:Plain', 'play_count=3', 'rating=0.8', ok=False)
    env.beet('modify', '-y', 'title:Mine C', 'play_count=1', ok=False)
    done = env.beet('clapsearch', 'index', ok=False); show('index', done)
    db = env.index if os.path.exists(env.index) else None
    for label, args in [('search', ['search', 'tone']), ('similar to the escape item', ['similar', 'artist:Esc']),
                        ('tag', ['tag', '-W'])]:
        done = env.beet('clapsearch', *args, ok=False); show(label, done); print('   raw controls:', raw_controls(done))
    for label, user in [('no such user', ['-u', 'nobody']), ('empty user', ['-u', '']), ('a line break', ['-u', 'a\nb']),
                        ('an escape', ['-u', 'x\x1b[2Jy']), ('the index has no user', [])]:
        done = env.beet('clapsearch', 'history', *user, ok=False); show(f'history, {label}', done)
        print('   traceback:', 'Traceback' in done.stderr, 'raw controls:', raw_controls(done))
    if db:
        for name in ('ann', 'bob'):
            subprocess.run([binary, 'user', 'add', name, '--db', db], input='pw\n', text=True, capture_output=True)
        done = env.beet('clapsearch', 'history', ok=False); show('history, two users and no -u', done)
        done = env.beet('clapsearch', 'history', '-u', 'ANN', ok=False); show('history -u ANN (case)', done)
        done = env.beet('clapsearch', 'history', '-u', 'ann', ok=False); show('history -u ann', done)
        done = env.beet('clapsearch', 'history', '-u', 'ann', ok=False); show('history -u ann again (adds nothing)', done)
