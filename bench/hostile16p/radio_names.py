#!/usr/bin/python3
"""Hostile pass 16: `clapsearch radio` with a real MPD and names a new library has: control
characters other than a line break (a carriage return alone, a tab, an escape sequence, DEL), a
name that is not UTF-8 (a Latin-1 disk), and users that are not there (--user unknown, empty,
with a line break; --for-me on an index without users; a user with no plays). Each case: HELD or
FOUND, with what the radio said. MPD must never run a name as a command (its queue only grows,
it keeps answering), the radio's stdout must carry no raw control character, a song MPD cannot
take must not stop the radio, and a user that is missing must be named.

    radio_names.py CLAPSEARCH_BINARY MODEL_DIR PORT
"""
import json, os, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'integrations'))
from mpd_radio_test import Mpd, quoted, wait_for  # noqa: E402
import socket  # noqa: E402


class RawMpd(Mpd):
    """The test's Mpd, its answers read as MPD sends them: a name that is not UTF-8 comes back
    as its bytes (surrogate escapes), where the test's client stops on a UnicodeDecodeError."""

    def command(self, line):
        with socket.create_connection(('127.0.0.1', self.port), timeout=30) as s:
            f = s.makefile('rwb')
            f.readline()
            f.write((line + '\n').encode('utf-8', 'surrogateescape'))
            f.flush()
            pairs = []
            while True:
                answer = f.readline().decode('utf-8', 'surrogateescape').rstrip('\n')
                if answer == 'OK':
                    return pairs
                if answer.startswith('ACK') or answer == '':
                    raise RuntimeError(f'MPD: {line!r}: {answer or "connection closed"}')
                key, _, value = answer.partition(': ')
                pairs.append((key, value))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile13p'))
from mpd_library import case  # noqa: E402

binary, model, port = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])
env = dict(os.environ, HF_HUB_OFFLINE='1')
env.pop('CLAPSEARCH_DB', None)


def tone(path, i):
    subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', f'sine=f={200 + 70 * i}:d=4',
                    '-f', 'flac', path], check=True)


def controls(b):
    return [c for c in b if c < 0x20 and c not in (0x0a,) or c == 0x7f]


with tempfile.TemporaryDirectory(prefix='hostile16p-radio-') as tmp:
    music = os.path.join(tmp, 'music')
    os.makedirs(music)
    plain = [f'{i:02d}.flac' for i in range(4)]
    odd = ['cr\rstop.flac', 'tab\tname.flac', 'esc\x1b[2Jclear.flac', 'del\x7f.flac']
    for i, n in enumerate(plain + odd):
        tone(os.path.join(music, n), i)
    latin = os.path.join(os.fsencode(music), b'caf\xe9.flac')
    tone(latin, 9)
    db = os.path.join(tmp, 'index.db')
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '-q'], env=env, check=True)
    mpd = RawMpd(tmp, music, port)
    mpd.start()
    base = [binary, 'radio', '--mpd', f'127.0.0.1:{port}', '--music-dir', music, '--db', db]
    try:
        mpd.command('update')
        wait_for('update', lambda: 'updating_db' not in mpd.status())
        known = sorted(l[1] for l in mpd.command('listall') if l[0] == 'file')
        print(f'MPD knows {len(known)} of {len(plain) + len(odd) + 1} files: {known!r}')

        # 1. Every name once (--min-queue 9 takes all): nothing run as a command, stdout clean.
        mpd.command('clear'); mpd.command('add ' + quoted(plain[0])); mpd.command('play 0'); mpd.command('pause 1')
        done = subprocess.run(base + ['--once', '--min-queue', '9', '--no-repeat', '0'], env=env, capture_output=True)
        q = mpd.queue()
        alive = mpd.process.poll() is None and mpd.command('ping') == []
        case('control characters and a Latin-1 name: MPD alive, queue grown, state kept, stdout without raw controls',
             done.returncode == 0 and alive and len(q) > 1 and q[0] == plain[0] and mpd.status().get('state') == 'pause'
             and not controls(done.stdout),
             f'rc {done.returncode}; queue {q!r}; raw controls on stdout {controls(done.stdout)}; stderr {done.stderr[-500:]!r}')
        case('control characters: stderr without raw controls either', not controls(done.stderr.replace(b'\n', b'')),
             f'{controls(done.stderr)}')

        # 2. MPD playing a name with control characters (if it took it): the radio follows it.
        for n in odd + ['caf\udce9.flac']:
            if n not in known:
                continue
            mpd.command('stop'); mpd.command('clear'); mpd.command('add ' + quoted(n)); mpd.command('play 0'); mpd.command('pause 1')
            done = subprocess.run(base + ['--once', '--min-queue', '2'], env=env, capture_output=True)
            q = mpd.queue()
            case(f'MPD playing {n!r}: the radio follows it', done.returncode == 0 and len(q) == 3 and not controls(done.stdout),
                 f'rc {done.returncode}; queue {q!r}; out {done.stdout[-200:]!r}; err {done.stderr[-300:]!r}')
        mpd.command('stop')

        # 3. Users that are not there.
        subprocess.run([binary, 'user', 'add', 'ann', '--db', db], input=b'pw\n', env=env, capture_output=True, check=True)
        mpd.command('clear'); mpd.command('add ' + quoted(plain[1])); mpd.command('play 0'); mpd.command('pause 1')
        for label, extra, want in [
                ('--user bob (no such user)', ['--user', 'bob'], b"bob"),
                ('--user "" (empty)', ['--user', ''], b'user'),
                ('--user with a line break', ['--user', 'ann\nbob'], b'user'),
                ('--user with an escape sequence', ['--user', 'x\x1b[2Jy'], b'user'),
                ('--for-me --user bob', ['--for-me', '--user', 'bob'], b'bob'),
                ('--for-me, ann without plays', ['--for-me'], b'ann')]:
            w = subprocess.Popen(base + ['--min-queue', '1'] + extra, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                out, err = w.communicate(timeout=8)
                running = False
            except subprocess.TimeoutExpired:
                w.terminate()
                out, err = w.communicate()
                running = True
            named = want in err
            ok = (running and (label.endswith('without plays') and named)) or (not running and w.returncode != 0 and named and not controls(err.replace(b'\n', b'')))
            case(f'{label}: named, exit non-zero (or the radio runs, saying why)', ok,
                 f'running {running}; rc {w.returncode}; err {err[-300:]!r}')
        # --for-me on an index with no users at all.
        subprocess.run([binary, 'user', 'remove', 'ann', '--db', db], env=env, capture_output=True, check=True)
        done = subprocess.run(base + ['--for-me', '--once'], env=env, capture_output=True)
        case('--for-me on an index without users: named, exit non-zero', done.returncode != 0 and b'user' in done.stderr,
             f'rc {done.returncode}; err {done.stderr[-300:]!r}')
    finally:
        mpd.stop()
