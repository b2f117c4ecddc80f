#!/usr/bin/python3
"""Hostile pass 14: `clapsearch radio` with a real MPD, what pass 13 left: `--for-me` while another
model is activated (its taste centres are the old model's vectors) and while a copy without the
user's plays is put back; names that carry MPD protocol (a line break followed by a command, a
quote, a backslash) indexed beside MPD's own files: the radio must never send them as commands
(MPD's queue must not be cleared, no song played that was not added). Reuses
tests/integrations/mpd_radio_test.py's Mpd and Radio.

    mpd_cases.py CLAPSEARCH_BINARY MODEL_DIR PORT
"""
import os, sqlite3, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'integrations'))
from mpd_radio_test import Mpd, Radio, quoted, wait_for  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile13p'))
from mpd_library import case, stop_all, tone_library  # noqa: E402

binary, model, port = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])


with tempfile.TemporaryDirectory(prefix='hostile14p-mpd-') as tmp:
    names = [f'{i:02d}.flac' for i in range(6)]
    odd = ['x\nclear\n.flac', 'q"uote.flac', 'back\\slash.flac', 'x\nplay 0\n.flac']
    music, db, env = tone_library(binary, model, tmp, names + odd)
    mpd = Mpd(tmp, music, port)
    mpd.start()
    radios = []
    try:
        mpd.command('update')
        wait_for('update', lambda: 'updating_db' not in mpd.status())
        radio = [binary, 'radio', '--mpd', f'127.0.0.1:{port}', '--music-dir', music, '--db', db]

        # 1. protocol in names: the queue is filled with many songs (the odd names are near in a
        # tiny library), MPD's queue must only grow, never be cleared or jump.
        mpd.command('clear'); mpd.command('add ' + quoted(names[0])); mpd.command('play 0'); mpd.command('pause 1')
        known = [l for l in mpd.command('listall') if l[0] == 'file']
        done = subprocess.run(radio + ['--once', '--min-queue', '9', '--no-repeat', '0'], env=env, capture_output=True, text=True)
        q = mpd.queue()
        case('names carrying MPD commands are never sent as commands',
             done.returncode == 0 and q[0] == names[0] and len(q) > 1 and mpd.status().get('state') == 'pause',
             f'rc {done.returncode}; MPD knows {len(known)} files; queue {q}; state {mpd.status().get("state")}; said {done.stderr[-400:]!r}')
        mpd.command('stop')

        # 2. --for-me, another model activated under the watching radio: the taste made again
        def play_some(w, n):
            wait_for(f'{n} plays', lambda: sum('played ' in l for l in w.err) >= n)
        mpd.command('clear'); mpd.command('add ' + quoted(names[1])); mpd.command('add ' + quoted(names[2]))
        w = Radio(radio + ['--min-queue', '1']); radios.append(w)
        wait_for('the radio to start', lambda: w.said('radio on MPD'))
        mpd.command('play 0'); play_some(w, 2); mpd.command('stop'); w.stop()
        mpd.command('clear'); mpd.command('add ' + quoted(names[3])); mpd.command('add ' + quoted(names[4]))
        w = Radio(radio + ['--min-queue', '1', '--for-me', '--user', 'ann']); radios.append(w)
        wait_for('the radio to start', lambda: w.said('radio on MPD'))
        centres_at_start = w.said('the radio for ann: following')
        other = os.path.join(os.path.dirname(model), 'tiny-fused')
        done = subprocess.run([binary, 'index', music, '--db', db, '--model', other, '--rebuild', '-q'], env=env, capture_output=True, text=True)
        mpd.command('play 0')
        try:
            wait_for('the radio to open the index again', lambda: w.said('opened again'))
            time.sleep(3)
        except AssertionError as e:
            print('  (', e, ')', w.err[-3:])
        mpd.command('stop'); rc = w.stop()
        tastes = [l for l in w.err if 'the radio for ann: following' in l]
        case('--for-me: the taste made again after another model was activated',
             rc == 0 and bool(centres_at_start) and w.said('opened again') and len(tastes) >= 2,
             f'index rc {done.returncode}; rc {rc}; taste notes {len(tastes)}; said {[l[:110] for l in w.err if "taste" in l or "again" in l]}')
    finally:
        stop_all(radios, mpd)
