#!/usr/bin/python3
"""Hostile pass 12: `clapsearch radio` against a real MPD (its own config, port and folders),
new angles: indexed files missing on disk (MPD updated, or not), odd but legal names (NFD, emoji,
quotes, a leading '-', '#', a backslash at the end), --music-dir given through a symlink or with
a trailing slash or relative, a stream URL playing, MPD killed with SIGKILL while watching.
Reuses tests/integrations/mpd_radio_test.py's Mpd class.

    mpd_cases.py CLAPSEARCH_BINARY MODEL_DIR PORT
"""
import json, os, signal, subprocess, sys, tempfile, time, unicodedata
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'integrations'))
from mpd_radio_test import Mpd, Radio, quoted, wait_for  # noqa: E402

binary, model, port = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])
results = []


def case(name, ok, detail):
    results.append((name, ok))
    print(f"{'HELD' if ok else 'FOUND'} {name}: {detail}", flush=True)


with tempfile.TemporaryDirectory(prefix='hostile12p-mpd-') as tmp:
    music = os.path.join(tmp, 'music')
    db = os.path.join(tmp, 'index.db')
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    names = ['plain/00 one.flac', 'plain/01 two.mp3', unicodedata.normalize('NFD', 'odd/02 Café é.ogg'),
             'odd/03 🎵 emoji.flac', "odd/04 it's \"q\".mp3", 'odd/-05 dash.flac', 'odd/#06 hash.flac',
             'odd/07 back\\.flac', 'odd/08 a b  c.flac', 'plain/09 nine.flac', 'plain/10 ten.flac', 'plain/11 eleven.flac']
    for i, n in enumerate(names):
        p = os.path.join(music, n)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', f'sine=f={200 + 90 * i}:d=40',
                        '-metadata', f'title=S{i}', p], check=True)
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '-q'], env=env, check=True)
    mpd = Mpd(tmp, music, port)
    mpd.start()
    try:
        mpd.command('update')
        wait_for('update', lambda: 'updating_db' not in mpd.status() and dict(mpd.command('stats')).get('songs') == str(len(names)))
        radio = [binary, 'radio', '--mpd', f'127.0.0.1:{port}', '--music-dir', music, '--db', db]

        def run(args, base=None):
            return subprocess.run((base or radio) + args, env=env, capture_output=True, text=True, check=False)

        def play_only(uri):
            mpd.command('clear'); mpd.command('add ' + quoted(uri)); mpd.command('play 0')
            wait_for('play', lambda: mpd.status().get('state') == 'play')

        # 1. odd names: every one queued as MPD knows it, MPD alive
        play_only(names[0])
        d = run(['--once', '--min-queue', '11'])
        q = mpd.queue()
        case('odd legal names all queued', d.returncode == 0 and len(q) == 12 and set(q) == set(names),
             f'rc {d.returncode} {len(q)} queued; missing {set(names) - set(q)}; {d.stderr[-300:]}')
        # 1b. each odd name as the playing seed
        for n in names[2:9]:
            play_only(n)
            d = run(['--once', '--min-queue', '2'])
            case(f'seed {n!r}', d.returncode == 0 and len(mpd.queue()) == 3, f'rc {d.returncode} {d.stderr[-200:]}')
        # 2. --music-dir through a symlink, with a trailing slash, relative
        link = os.path.join(tmp, 'link')
        os.symlink(music, link)
        for md, label in ((link, 'symlink'), (music + '/', 'trailing slash'), (os.path.relpath(music), 'relative')):
            play_only(names[0])
            d = run(['--once', '--min-queue', '3'], [binary, 'radio', '--mpd', f'127.0.0.1:{port}', '--music-dir', md, '--db', db])
            case(f'--music-dir {label}', d.returncode == 0 and len(mpd.queue()) == 4, f'rc {d.returncode} {d.stderr[-250:]}')
        # 3. a stream URL playing
        mpd.command('clear'); mpd.command('add "http://127.0.0.1:1/stream.mp3"')
        try:
            mpd.command('play 0')
        except RuntimeError:
            pass
        time.sleep(1)
        d = run(['--once'])
        case('a stream URL in the queue', d.returncode in (0, 1) and 'Traceback' not in d.stderr and mpd.process.poll() is None,
             f'rc {d.returncode} {d.stderr[-250:]!r} state {mpd.status().get("state")}')
        # 4. indexed files deleted on disk; MPD not updated (knows them), index not updated
        gone = [names[9], names[10], names[11]]
        for n in gone:
            os.rename(os.path.join(music, n), os.path.join(tmp, os.path.basename(n)))
        play_only(names[0])
        d = run(['--once', '--min-queue', '11'])
        q = mpd.queue()
        case('indexed files missing on disk, MPD not updated', d.returncode == 0 and not (set(gone) & set(q)),
             f'rc {d.returncode} queued {len(q)}; missing files queued: {sorted(set(gone) & set(q))}; {d.stderr[-300:]!r}')
        # 4b. MPD updated (it no longer knows them), the index still lists them
        mpd.command('update')
        wait_for('update', lambda: 'updating_db' not in mpd.status() and dict(mpd.command('stats')).get('songs') == str(len(names) - 3))
        play_only(names[0])
        d = run(['--once', '--min-queue', '11'])
        q = mpd.queue()
        case('indexed files MPD does not know', d.returncode == 0 and len(q) == 9 and mpd.process.poll() is None,
             f'rc {d.returncode} queued {len(q)}: {d.stdout[-200:]!r} {d.stderr[-400:]!r}')
        for n in gone:
            os.rename(os.path.join(tmp, os.path.basename(n)), os.path.join(music, n))
        mpd.command('update')
        wait_for('update', lambda: 'updating_db' not in mpd.status() and dict(mpd.command('stats')).get('songs') == str(len(names)))
        # 5. MPD killed with SIGKILL while the radio watches; a new MPD on the same port
        play_only(names[0])
        w = Radio(radio + ['--min-queue', '2'])
        wait_for('radio on', lambda: w.said('radio on MPD'))
        mpd.process.send_signal(signal.SIGKILL); mpd.process.wait(); mpd.process = None
        wait_for('radio notices', lambda: w.said('connecting again in'))
        mpd.start()
        wait_for('radio back', lambda: w.said('again'))
        play_only(names[1])
        wait_for('fill after kill', lambda: len(mpd.upcoming() or []) >= 2 or w.process.poll() is not None)
        code = w.stop()
        case('MPD SIGKILLed and restarted while watching', code == 0 and len(mpd.queue()) >= 3, f'code {code} queue {len(mpd.queue())} {w.err[-3:]}')
    finally:
        mpd.stop()
print(f"{sum(ok for _, ok in results)} held, {sum(not ok for _, ok in results)} found")
