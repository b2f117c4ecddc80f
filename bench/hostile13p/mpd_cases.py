#!/usr/bin/python3
"""Hostile pass 13: `clapsearch radio` watching a real MPD (its own config and port) while the index
changes under it: a backup put back with a rename (docs/operations.md, Backup) while it records
plays, another model activated (index --rebuild --model), the played file moved away while it plays, MPD restarted mid-song; and the plays it
records then. Reuses tests/integrations/mpd_radio_test.py's Mpd and Radio.

    mpd_cases.py CLAPSEARCH_BINARY MODEL_DIR PORT
"""
import json, os, sqlite3, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'integrations'))
from mpd_radio_test import Mpd, Radio, quoted, wait_for  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpd_library import case, stop_all, tone_library  # noqa: E402

binary, model, port = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])


with tempfile.TemporaryDirectory(prefix='hostile13p-mpd-') as tmp:
    names = [f'{i:02d}.flac' for i in range(8)]
    music, db, env = tone_library(binary, model, tmp, names)

    def plays():
        c = sqlite3.connect(db)
        try:
            return c.execute('select count(*) from plays').fetchone()[0]
        finally:
            c.close()

    def backup(dst):
        a = sqlite3.connect(db); b = sqlite3.connect(dst); a.backup(b); b.close(); a.close()

    mpd = Mpd(tmp, music, port)
    mpd.start()
    radios = []
    try:
        mpd.command('update')
        wait_for('update', lambda: 'updating_db' not in mpd.status() and dict(mpd.command('stats')).get('songs') == '8')
        radio = [binary, 'radio', '--mpd', f'127.0.0.1:{port}', '--music-dir', music, '--db', db, '--min-queue', '1']

        # 1. a backup put back while the radio watches: the plays after it are recorded in the file at the name
        backup(db + '.bak')
        mpd.command('clear'); mpd.command('add ' + quoted(names[0])); mpd.command('add ' + quoted(names[1]))
        w = Radio(radio); radios.append(w)
        wait_for('the radio to start', lambda: w.said('radio on MPD'))
        os.rename(db + '.bak', db)
        before = plays()
        mpd.command('play 0')
        try:
            wait_for('two songs to play', lambda: sum('played ' in l for l in w.err) >= 2)
        except AssertionError as e:
            print('  (', e, ') the radio said:', w.err[-8:], 'MPD:', mpd.status().get('state'), mpd.queue())
        mpd.command('stop')
        rc = w.stop()
        after = plays()
        case('plays recorded after a backup was put back', rc == 0 and after >= before + 2,
             f'rc {rc}; plays in the file at the name {before} -> {after}; radio said {[l for l in w.err if "played" in l or "error" in l or "warn" in l][:6]}')

        # 2. the playing file moved away while it plays (MPD still has it open); then MPD's database updated
        mpd.command('clear'); mpd.command('add ' + quoted(names[2]))
        w = Radio(radio); radios.append(w)
        wait_for('the radio to start', lambda: w.said('radio on MPD'))
        before = plays()
        mpd.command('play 0')
        wait_for('it plays', lambda: mpd.status().get('state') == 'play')
        os.rename(os.path.join(music, names[2]), os.path.join(music, 'moved-' + names[2]))
        mpd.command('update')
        time.sleep(8)
        q = mpd.queue()
        rc = w.stop()
        case('the playing file moved away, MPD updated', rc == 0 and names[2] not in q[1:],
             f'rc {rc}; queue {q}; plays {before} -> {plays()}; said {[l[:140] for l in w.err][-4:]}')
        os.rename(os.path.join(music, 'moved-' + names[2]), os.path.join(music, names[2]))
        mpd.command('update')
        wait_for('update', lambda: 'updating_db' not in mpd.status())

        # 3. MPD restarted in the middle of a song: the radio connects again, the queue refilled
        mpd.command('clear'); mpd.command('add ' + quoted(names[3]))
        w = Radio(radio); radios.append(w)
        wait_for('the radio to start', lambda: w.said('radio on MPD'))
        mpd.command('play 0')
        wait_for('it plays', lambda: mpd.status().get('state') == 'play')
        mpd.stop(); time.sleep(2); mpd.start()
        wait_for('update', lambda: 'updating_db' not in mpd.status())
        mpd.command('clear'); mpd.command('add ' + quoted(names[4])); mpd.command('play 0')
        wait_for('the radio to fill the new queue', lambda: len(mpd.queue()) >= 2)
        rc = w.stop()
        case('MPD restarted mid-song', rc == 0 and len(mpd.queue()) >= 2,
             f'rc {rc}; queue {mpd.queue()}; said {[l[:120] for l in w.err if "connect" in l or "error" in l][:4]}')

        # 4. another model activated under the watching radio (index --rebuild --model)
        mpd.command('clear'); mpd.command('add ' + quoted(names[5])); mpd.command('add ' + quoted(names[6]))
        w = Radio(radio); radios.append(w)
        wait_for('the radio to start', lambda: w.said('radio on MPD'))
        other = os.path.join(os.path.dirname(model), 'tiny-fused')
        done = subprocess.run([binary, 'index', music, '--db', db, '--model', other, '--rebuild', '-q'], env=env, capture_output=True, text=True)
        before = plays()
        mpd.command('play 0')
        try:
            wait_for('a play recorded after the model changed', lambda: sum('played ' in l for l in w.err) >= 1)
        except AssertionError as e:
            print('  (', e, ')', w.err[-3:])
        rc = w.stop()
        case('another model activated under the watching radio', rc == 0 and plays() > before,
             f'index rc {done.returncode}; rc {rc}; plays {before} -> {plays()}; said {[l[:150] for l in w.err][-3:]}')
    finally:
        stop_all(radios, mpd)
