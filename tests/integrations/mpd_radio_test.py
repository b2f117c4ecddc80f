#!/usr/bin/python3
"""`clapsearch radio --mpd` against a real MPD (Debian's mpd, started here on loopback with a null
output and its own configuration) over a folder of real encoded files made with ffmpeg and
indexed by clapsearch with the tiny random-weight test model. The test talks to MPD over its
text protocol (a raw socket, no mpc): it queues and plays one song, runs the radio once and as
a watcher stopped by SIGTERM while the queue advances, and checks that songs were appended, that
each is an indexed file, that none repeats and that the seed is not added again; also that the
radio rides out MPD restarting, and its errors. MPD is stopped at the end, also on failure.
(CTest: Mpd.Radio; exit 77 = skipped when mpd is not installed.)

    mpd_radio_test.py CLAPSEARCH_BINARY MODEL_DIR
"""
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
WAIT_S = 120  # an upper bound for MPD or the radio to do something; never a timing assertion


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def wait_for(what, condition):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f'gave up waiting ({WAIT_S} s) for {what}')


def die_with_the_test():
    """For the children (mpd, the radio): SIGTERM when this test process ends, even by SIGKILL
    (a CTest timeout), so no MPD outlives the test (Linux's PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Mpd:
    """A real MPD on 127.0.0.1:port, and a minimal client of its text protocol."""

    def __init__(self, tmp, music, port):
        self.port = port
        self.tmp, self.music = tmp, music
        self.conf = os.path.join(tmp, 'mpd.conf')
        self.socket = os.path.join(tmp, 'mpd.socket')
        self.log = os.path.join(tmp, 'mpd.log')
        self.password = None
        self.configure()
        self.process = None

    def configure(self, password=None):
        """Writes the configuration; with a password, clients without it may do nothing."""
        self.password = password
        access = f'password "{password}@read,add,control,admin"\ndefault_permissions ""\n' if password else ''
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(f'''music_directory "{self.music}"
db_file "{os.path.join(self.tmp, 'mpd.db')}"
log_file "{self.log}"
bind_to_address "127.0.0.1"
bind_to_address "{self.socket}"
port "{self.port}"
auto_update "no"
zeroconf_enabled "no"
audio_output {{
  type "null"
  name "null"
}}
{access}''')

    def start(self):
        self.process = subprocess.Popen(['mpd', '--no-daemon', self.conf], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, preexec_fn=die_with_the_test)
        wait_for('MPD to listen', self._answers)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f'mpd exited ({self.process.returncode}): {self.process.stderr.read().decode()}'
                                 f'\n{open(self.log, encoding="utf-8", errors="replace").read() if os.path.exists(self.log) else ""}')
        try:
            self.command('ping')
            return True
        except OSError:
            return False

    def command(self, line):
        """Sends one command; returns its answer as (key, value) pairs; raises on ACK."""
        with socket.create_connection(('127.0.0.1', self.port), timeout=30) as s:
            f = s.makefile('rwb')
            greeting = f.readline().decode()
            check(greeting.startswith('OK MPD'), f'not MPD: {greeting!r}')
            lines = [f'password {quoted(self.password)}', line] if self.password else [line]
            f.write(''.join(x + '\n' for x in lines).encode())
            f.flush()
            if self.password:
                check(f.readline().decode() == 'OK\n', 'MPD refused the test\'s password')
            pairs = []
            while True:
                answer = f.readline().decode().rstrip('\n')
                if answer == 'OK':
                    return pairs
                if answer.startswith('ACK') or answer == '':
                    raise RuntimeError(f'MPD: {line}: {answer or "connection closed"}')
                key, _, value = answer.partition(': ')
                pairs.append((key, value))

    def status(self):
        return dict(self.command('status'))

    def queue(self):
        return [v for k, v in self.command('playlistinfo') if k == 'file']

    def upcoming(self):
        st = self.status()
        if 'song' not in st:
            return None
        return self.queue()[int(st['song']) + 1:]


def quoted(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


class Radio:
    """clapsearch radio running in the background; its stderr collected line by line."""

    def __init__(self, args):
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        preexec_fn=die_with_the_test)
        self.err, self.out = [], []
        self._threads = [threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
                         threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line.rstrip('\n'))

    def said(self, text):
        return any(text in line for line in self.err)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError('clapsearch radio did not stop on SIGTERM')
        for t in self._threads:
            t.join()
        return code


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: mpd_radio_test.py CLAPSEARCH_BINARY MODEL_DIR')
    binary, model = (os.path.abspath(a) for a in sys.argv[1:])
    if shutil.which('mpd') is None:
        print('Mpd.Radio skipped: mpd is not installed (apt-get install mpd; scripts/install-deps.sh --tests)')
        sys.exit(SKIP)
    check(shutil.which('ffmpeg') is not None, 'ffmpeg is needed to make the test files')
    with tempfile.TemporaryDirectory(prefix='clapsearch-mpd-') as tmp:
        mpd = Mpd(tmp, os.path.join(tmp, 'music'), free_port())
        radios = []
        try:
            run_tests(tmp, binary, model, mpd, radios)
        finally:
            for r in radios:
                if r.process.poll() is None:
                    r.process.kill()
                    r.process.wait()
            mpd.stop()
    print('Mpd.Radio: all checks passed')


def run_tests(tmp, binary, model, mpd, radios):
    music = os.path.join(tmp, 'music')
    db = os.path.join(tmp, 'index.db')
    env_vars = dict(os.environ, HF_HOME=os.path.join(tmp, 'hf'), HF_HUB_OFFLINE='1')
    env_vars.pop('MPD_PASSWORD', None)
    env_vars.pop('CLAPSEARCH_DB', None)
    # 13 indexed songs (folders, spaces, non-ASCII names), 40 s each so that MPD's null output
    # does not end one during the test, and one file MPD knows but the index does not.
    sources = ['sine=f={}:d=40'.format(220 + 55 * i) for i in range(5)]
    sources += ['anoisesrc=color={}:d=40:seed={}'.format(c, i) for i, c in enumerate(['pink', 'brown', 'white', 'pink'])]
    sources += ['aevalsrc=sin(2*PI*({}+{}*t)*t):d=40'.format(100 + 50 * i, 40 + 20 * i) for i in range(4)]
    names = []
    for i, source in enumerate(sources):
        folder = ['Artist A/First', 'Artist B/Zweite Ausgabe', 'Кино'][i % 3]
        ext = ['flac', 'mp3', 'ogg'][i % 3]
        names.append(f'{folder}/{i:02d} song {i}.{ext}')
    names.append('unindexed/stranger.flac')
    sources.append('sine=f=1000:d=40')
    for i, (name, source) in enumerate(zip(names, sources)):
        path = os.path.join(music, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source,
                        '-metadata', f'title=Song {i}', '-metadata', 'artist=Radio Test', path], check=True)
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '--exclude', 'unindexed', '-q'],
                   env=env_vars, check=True)
    indexed = {os.path.relpath(r['path'], music) for r in json.loads(subprocess.run(
        [binary, 'search', 'anything', '-k', '0', '--json', '--db', db], env=env_vars, capture_output=True, text=True,
        check=True).stdout)}
    check(len(indexed) == 13 and 'unindexed/stranger.flac' not in indexed, f'index: {sorted(indexed)}')

    mpd.start()
    mpd.command('update')
    wait_for('MPD to read its music folder',
             lambda: 'updating_db' not in mpd.status() and dict(mpd.command('stats')).get('songs') == '14')

    radio = [binary, 'radio', '--mpd', f'127.0.0.1:{mpd.port}', '--music-dir', music, '--db', db]

    def run(args, **kw):
        return subprocess.run(radio + args, env=kw.pop('env', env_vars), capture_output=True, text=True, check=False)

    # --- once: a queue of one playing song gets --min-queue songs after it, as `playlist` chooses
    seed = names[0]
    mpd.command('clear')
    mpd.command('add ' + quoted(seed))
    mpd.command('play 0')
    wait_for('MPD to play', lambda: mpd.status().get('state') == 'play')
    done = run(['--once', '--min-queue', '4'])
    check(done.returncode == 0, f'radio --once failed ({done.returncode}): {done.stderr}')
    queue = mpd.queue()
    check(queue[0] == seed and len(queue) == 5, f'after radio --once: {queue}')
    added = queue[1:]
    check(seed not in added and len(set(added)) == 4, f'the seed again, or a repeat: {queue}')
    check(set(added) <= indexed, f'appended songs that are not indexed: {set(added) - indexed}')
    check([line.split(' (cosine')[0] for line in done.stdout.splitlines()] == ['added ' + u for u in added],
          f'radio --once output: {done.stdout}')
    playlist = json.loads(subprocess.run([binary, 'playlist', '--seed', os.path.join(music, seed), '-n', '5', '--json',
                                          '--db', db], env=env_vars, capture_output=True, text=True, check=True).stdout)
    check([os.path.relpath(t['path'], music) for t in playlist][1:] == added,
          f'radio picks {added} are not what playlist --seed chooses: {playlist}')
    # Enough songs queued: a second run adds nothing.
    done = run(['--once', '--min-queue', '4'])
    check(done.returncode == 0 and done.stdout == '' and mpd.queue() == queue, f'second --once: {done.stdout}')

    # --- --where and the music-only rule (clapsearch --exclude-rule) keep to what playlist keeps to
    where = 'title in ("Song 2", "Song 5", "Song 8", "Song 11")'
    ruled = [binary, '--exclude-rule', 'title = "Song 5"'] + radio[1:] + ['--once', '--min-queue', '4', '--where', where]
    for extra, expected in (([], {names[2], names[8], names[11]}), (['--include-excluded'], {names[2], names[5], names[8], names[11]})):
        mpd.command('clear')
        mpd.command('add ' + quoted(seed))
        mpd.command('play 0')
        wait_for('MPD to play', lambda: mpd.status().get('state') == 'play')
        done = subprocess.run(ruled + extra, env=env_vars, capture_output=True, text=True, check=False)
        check(done.returncode == 0, f'radio --where {extra} failed ({done.returncode}): {done.stderr}')
        check(set(mpd.queue()[1:]) == expected, f'radio --where {extra} appended {mpd.queue()[1:]}, not {sorted(expected)}')
        if not extra:  # three allowed songs for four wanted: the radio says so
            check('added 3 of the 4 songs wanted' in done.stderr, f'no note of the songs the filter left out: {done.stderr}')

    # --- watching: the queue advances (next), the radio keeps 3 songs after the current one
    watcher = Radio(radio + ['--min-queue', '3', '--no-repeat', '50'])
    radios.append(watcher)
    wait_for('the radio to start', lambda: watcher.said('radio on MPD'))
    for step in range(5):
        mpd.command('next')
        wait_for(f'the radio to top the queue up after next #{step + 1}',
                 lambda: (mpd.upcoming() or []) and len(mpd.upcoming()) >= 3)
    # --- MPD goes away and comes back: the radio connects again and goes on
    position = int(mpd.status()['song'])
    appended_before_restart = len(watcher.out)
    mpd.stop()
    wait_for('the radio to notice MPD went away', lambda: watcher.said('connecting again in'))
    mpd.start()
    wait_for('the radio to connect again', lambda: watcher.said('connected to MPD at 127.0.0.1:%d again' % mpd.port))
    # MPD restarted without a state file: the queue is empty and nothing plays. Queue and play one song.
    check(mpd.queue() == [], 'MPD kept its queue without a state file')
    mpd.command('add ' + quoted(names[3]))
    mpd.command('play 0')
    # The window (50) and the copies of its recordings (the tiny model takes some of these
    # sounds for one recording) may leave fewer than 3 of the 13 tracks: then the radio says so.
    wait_for('the radio to fill the new queue',
             lambda: len(mpd.upcoming() or []) >= 3 or watcher.said('of the 3 songs wanted'))
    check(len(mpd.upcoming()) >= 1, f'nothing appended after the restart: {watcher.err}')
    code = watcher.stop()
    check(code == 0, f'radio exited {code} on SIGTERM: {watcher.err}')
    check(watcher.said('radio stopped'), f'no "radio stopped" on SIGTERM: {watcher.err}')
    check(position >= 5, f'the queue did not advance: current position {position}')
    new_queue = mpd.queue()
    check(len(new_queue) == len(set(new_queue)) and set(new_queue) <= indexed, f'after the restart: {new_queue}')
    check(appended_before_restart >= 3, f'the watcher appended too little: {watcher.out}')
    # What the watcher appended before the restart, with the first run's songs: no repeats, no seed.
    # Each line is "added URI (cosine C, after SEED)"; the URIs have spaces.
    before = [line[len('added '):line.rindex(' (cosine')] for line in watcher.out]
    first_part = before[:appended_before_restart]
    check(seed not in first_part, f'the seed was appended again: {first_part}')
    check(len(set(queue + first_part)) == len(queue) + len(first_part), f'a repeat: {queue} + {first_part}')
    check(set(before) <= indexed, f'appended songs that are not indexed: {set(before) - indexed}')

    # --- over MPD's local socket
    mpd.command('clear')
    mpd.command('add ' + quoted(names[5]))
    mpd.command('play 0')
    wait_for('MPD to play', lambda: mpd.status().get('state') == 'play')
    done = subprocess.run([binary, 'radio', '--mpd', mpd.socket, '--music-dir', music, '--db', db, '--once', '--min-queue', '2'],
                          env=env_vars, capture_output=True, text=True, check=False)
    queue = mpd.queue()
    check(done.returncode == 0 and len(queue) == 3 and queue[0] == names[5] and len(set(queue)) == 3,
          f'radio over the socket: {done.returncode} {done.stderr} {queue}')

    # --- errors
    # A password: from --password-file, or $MPD_PASSWORD; without it MPD allows nothing.
    mpd.stop()
    mpd.configure(password='s3cret pass')
    mpd.start()
    mpd.command('add ' + quoted(names[7]))
    mpd.command('play 0')
    wait_for('MPD to play', lambda: mpd.status().get('state') == 'play')
    password_file = os.path.join(tmp, 'mpd-password')
    with open(password_file, 'w', encoding='utf-8') as f:
        f.write('s3cret pass\n')
    done = run(['--once', '--min-queue', '1', '--password-file', password_file])
    check(done.returncode == 0 and len(mpd.queue()) == 2, f'--password-file: {done.returncode} {done.stderr} {mpd.queue()}')
    done = run(['--once', '--min-queue', '2'], env=dict(env_vars, MPD_PASSWORD='s3cret pass'))
    check(done.returncode == 0 and len(mpd.queue()) == 3, f'MPD_PASSWORD: {done.returncode} {done.stderr} {mpd.queue()}')
    done = run(['--once', '--min-queue', '3'])
    check(done.returncode == 1 and 'cannot read the player\'s status' in done.stderr and 'permission' in done.stderr,
          f'no password: {done.returncode} {done.stderr}')
    # Watching, too: a refusal is reported and ends the radio, it is not retried.
    done = run(['--min-queue', '3'])
    check(done.returncode == 1 and 'permission' in done.stderr, f'watching without a password: {done.returncode} {done.stderr}')
    done = run(['--once'], env=dict(env_vars, MPD_PASSWORD='wrong'))
    check(done.returncode == 1 and 'password was refused' in done.stderr and 'incorrect password' in done.stderr,
          f'wrong password: {done.stderr}')
    mpd.stop()
    mpd.configure()
    mpd.start()
    mpd.command('clear')
    mpd.command('add ' + quoted('unindexed/stranger.flac'))
    mpd.command('play 0')
    wait_for('MPD to play', lambda: mpd.status().get('state') == 'play')
    done = run(['--once'])
    check(done.returncode == 1 and "'unindexed/stranger.flac'" in done.stderr and 'not in the index' in done.stderr,
          f'unindexed song playing: {done.returncode} {done.stderr}')
    mpd.command('stop')
    done = run(['--once'])
    check(done.returncode == 0 and done.stdout == '' and mpd.queue() == ['unindexed/stranger.flac'],
          f'nothing playing: {done.returncode} {done.stdout} {done.stderr}')
    # L18: --once says why nothing was added
    check('is stopped: nothing to continue from, nothing added' in done.stderr, f'no note when stopped: {done.stderr}')
    mpd.command('clear')
    done = run(['--once'])
    check(done.returncode == 0 and 'the queue is empty: nothing to continue from' in done.stderr,
          f'no note for an empty queue: {done.returncode} {done.stderr}')
    closed = free_port()
    done = subprocess.run([binary, 'radio', '--mpd', f'127.0.0.1:{closed}', '--music-dir', music, '--db', db, '--once'],
                          env=env_vars, capture_output=True, text=True, check=False)
    check(done.returncode == 1 and f'MPD at 127.0.0.1:{closed}: cannot connect' in done.stderr, f'closed port: {done.stderr}')
    done = subprocess.run([binary, 'radio', '--mpd', f'127.0.0.1:{mpd.port}', '--music-dir', os.path.join(tmp, 'nope'),
                           '--db', db, '--once'], env=env_vars, capture_output=True, text=True, check=False)
    check(done.returncode == 2 and 'nope: not a folder' in done.stderr, f'missing music folder: {done.stderr}')
    done = subprocess.run([binary, 'radio', '--mpd', '127.0.0.1:99999', '--music-dir', music, '--db', db, '--once'],
                          env=env_vars, capture_output=True, text=True, check=False)
    check(done.returncode == 2 and 'port must be a number from 1 to 65535' in done.stderr, f'bad port: {done.stderr}')

    hostile_names(binary, model, mpd, music, db, names, run, env_vars)
    missing_files(mpd, music, names, run)
    bogus_status(binary, music, db, env_vars)
    unknown_state(binary, music, db, names, env_vars)
    endless_answers(binary, music, db, names, env_vars)
    without_music_dir(binary, model, mpd, music, db, names, env_vars)


def play_only(mpd, uri):
    mpd.command('clear')
    mpd.command('add ' + quoted(uri))
    mpd.command('play 0')
    wait_for('MPD to play', lambda: mpd.status().get('state') == 'play')


def hostile_names(binary, model, mpd, music, db, names, run, env_vars):
    """Issue 53 H1: a file name with line breaks must never reach MPD's line protocol, where the
    rest of the name would run as commands ("kill" shut MPD down); nor may a password."""
    seed = names[0]
    nearest = json.loads(subprocess.run([binary, 'playlist', '--seed', os.path.join(music, seed), '-n', '2', '--json',
                                         '--db', db], env=env_vars, capture_output=True, text=True, check=True).stdout)[1]
    hostile = os.path.join(os.path.dirname(nearest['path']), 'a\nkill\nb' + os.path.splitext(nearest['path'])[1])
    os.rename(nearest['path'], hostile)
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '--exclude', 'unindexed', '-q'],
                   env=env_vars, check=True)
    play_only(mpd, seed)
    done = run(['--once', '--min-queue', '3'])
    check(mpd.process.poll() is None and mpd.command('ping') == [], f'MPD died: the radio sent a line break: {done.stderr}')
    queue = mpd.queue()
    check(done.returncode == 0 and len(queue) == 4 and not any('kill' in u for u in queue),
          f'a hostile name: rc {done.returncode}, queue {queue}: {done.stderr}')
    shown = os.path.relpath(hostile, music).replace('\n', '?')
    check(f"skipped '{shown}'" in done.stderr and 'line break' in done.stderr and 'kill' not in done.stdout,
          f'no warning for the hostile name, or reported as added: {done.stdout} {done.stderr}')
    # The password (rough edge 11): refused before anything is sent.
    done = run(['--once'], env=dict(env_vars, MPD_PASSWORD='pw\nkill'))
    check(done.returncode == 2 and 'MPD_PASSWORD holds a line break' in done.stderr and mpd.process.poll() is None,
          f'MPD_PASSWORD with a line break: {done.returncode} {done.stderr}')
    # A carriage return alone (hostile pass 16, R16P-1): skipped too, and named as what it is, not
    # "a line break".
    cr = os.path.join(os.path.dirname(nearest['path']), 'a\rstop' + os.path.splitext(nearest['path'])[1])
    os.rename(hostile, cr)
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '--exclude', 'unindexed', '-q'],
                   env=env_vars, check=True)
    play_only(mpd, seed)
    done = run(['--once', '--min-queue', '3'])
    shown = os.path.relpath(cr, music).replace('\r', '?')
    check(done.returncode == 0 and mpd.process.poll() is None and not any('stop' in u for u in mpd.queue())
          and f"skipped '{shown}': its name holds a carriage return" in done.stderr and 'line break (' not in done.stderr,
          f'a carriage return in a name: rc {done.returncode}, queue {mpd.queue()}: {done.stderr}')
    os.rename(cr, nearest['path'])
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '--exclude', 'unindexed', '-q'],
                   env=env_vars, check=True)



def fake_mpd_once(binary, music, db, env_vars, answer):
    """Runs `radio --once` against a few lines of MPD's protocol played here: the greeting, then
    `answer(line, f)` for each command line the radio sends (it writes to f). Returns the run."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        try:
            with conn, conn.makefile('rwb') as f:
                f.write(b'OK MPD 0.23.5\n')
                f.flush()
                while line := f.readline():
                    answer(line, f)
                    f.flush()
        except OSError:
            pass  # the radio hung up in the middle of an endless answer: what it should do

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    done = subprocess.run([binary, 'radio', '--mpd', f'127.0.0.1:{server.getsockname()[1]}', '--music-dir', music,
                           '--db', db, '--once'], env=env_vars, capture_output=True, text=True, check=False,
                          timeout=WAIT_S * 3)
    server.close()
    return done


def missing_files(mpd, music, names, run):
    """Hostile pass 12: indexed files deleted or moved since the index was made, MPD's database not
    updated either (it still lists them, so MPD queues them and fails at play time): the radio
    leaves them out, saying so once per file, and queues files that are there."""
    gone = [names[4], names[9]]
    for name in gone:
        os.rename(os.path.join(music, name), os.path.join(music, name) + '.away')
    try:
        play_only(mpd, names[0])
        done = run(['--once', '--min-queue', '12'])
        queue = mpd.queue()
        check(done.returncode == 0 and len(queue) > 3 and not set(gone) & set(queue) and mpd.process.poll() is None,
              f'files not on disk queued: rc {done.returncode}, {sorted(set(gone) & set(queue))} in {queue}: {done.stderr}')
        check(all(os.path.isfile(os.path.join(music, u)) for u in queue), f'a queued file is not on disk: {queue}')
        for name in gone:
            check(done.stderr.count(f"skipped '{name}': the file is not in the music folder") == 1,
                  f'no warning (or several) for {name}: {done.stderr}')
    finally:
        for name in gone:
            os.rename(os.path.join(music, name) + '.away', os.path.join(music, name))


def bogus_status(binary, music, db, env_vars):
    """L18: a status naming no song of the queue is an error for --once (exit 1, said why). A real
    MPD never sends one, so a few lines of its protocol are played here: the greeting, then the
    radio's command list (status, playlistinfo) answered with `song: N` out of range. A paused
    MPD is said to be paused, not to play."""
    for state, song in (('play', '99999999999999999999'), ('play', '-3'), ('play', '1'), ('pause', '-3')):
        def answer(line, f):
            if line.startswith(b'command_list_end'):
                f.write(f'state: {state}\nsong: {song}\nlist_OK\nfile: {os.path.basename(music)}-x.flac\n'
                        f'Pos: 0\nId: 1\nlist_OK\nOK\n'.encode())

        done = fake_mpd_once(binary, music, db, env_vars, answer)
        said = 'is paused, but its status names' if state == 'pause' else 'plays, but its status names'
        check(done.returncode == 1 and said in done.stderr and 'nothing added' in done.stderr,
              f'status {state} song: {song}: {done.returncode} {done.stderr}')


def unknown_state(binary, music, db, names, env_vars):
    """H18P-2: a status whose state word is not play, pause or stop (or has none) was said as
    "MPD ... is stopped" (exit 0). The radio says what MPD said and adds nothing: --once exits 1.
    The song named is an indexed one, so the radio would otherwise add after it."""
    for line, said in ((b'state: buffering\n', "has the state 'buffering'"), (b'state: \x1b[2Jplay\n', "has the state '?[2Jplay'"),
                       (b'', 'has no state')):
        def answer(cmd, f):
            if cmd.startswith(b'command_list_end'):
                f.write(line + f'song: 0\nsongid: 1\nlist_OK\nfile: {names[0]}\nPos: 0\nId: 1\nlist_OK\nOK\n'.encode())
            elif cmd.startswith(b'add '):
                f.write(b'OK\n')

        done = fake_mpd_once(binary, music, db, env_vars, answer)
        check(done.returncode == 1 and said in done.stderr and 'not play, pause or stop' in done.stderr and
              'nothing added' in done.stderr and 'stopped' not in done.stderr and 'added' not in done.stdout and
              '\x1b' not in done.stderr,
              f'status {line!r}: {done.returncode} {done.stdout} {done.stderr}')


def endless_answers(binary, music, db, names, env_vars):
    """R11C-6: an answer that never ends (a broken or hostile MPD streaming lines) is read within
    bounds: the radio gives up naming MPD and the command, instead of reading until the server
    stops. The status answer streams lines; then the status and queue are sound (the current
    song an indexed one) and the answer to `add` streams lines."""
    def endless(f):
        for i in range(10_000_000):
            f.write(b'k%d: v\n' % i)

    def status_endless(line, f):
        if line.startswith(b'command_list_end'):
            f.write(b'state: play\nsong: 0\n')
            endless(f)

    in_list = [False]

    def add_endless(line, f):
        if line.startswith(b'command_list_end'):
            in_list[0] = False
            f.write(f'state: play\nsong: 0\nsongid: 1\nlist_OK\nfile: {names[0]}\nPos: 0\nId: 1\n'
                    f'list_OK\nOK\n'.encode())
        elif line.startswith(b'command_list'):
            in_list[0] = True
        elif line.startswith(b'add '):
            f.write(b'Id: 2\n')
            endless(f)
        elif not in_list[0]:
            f.write(b'OK\n')

    for what, answer in (('`status`', status_endless), ('`add`', add_endless)):
        done = fake_mpd_once(binary, music, db, env_vars, answer)
        check(done.returncode == 1 and f'its answer to {what} did not end within 4096 lines' in done.stderr and
              'MPD at 127.0.0.1:' in done.stderr, f'an endless answer to {what}: {done.returncode} {done.stderr}')


def without_music_dir(binary, model, mpd, music, db, names, env_vars):
    """MPD over TCP does not tell its music folder: the radio finds it from the index (the one
    indexed file ending with the playing song's URI), asks for --music-dir only when several do,
    and over the local socket asks MPD. Also: a recording already queued is not queued again in
    another encoding (issue 53)."""
    tcp = [binary, 'radio', '--mpd', f'127.0.0.1:{mpd.port}', '--db', db, '--once']

    def run(args):
        return subprocess.run(args, env=env_vars, capture_output=True, text=True, check=False)

    play_only(mpd, names[0])
    done = run(tcp + ['--min-queue', '2'])
    queue = mpd.queue()
    check(done.returncode == 0 and len(queue) == 3 and len(set(queue)) == 3 and all(
        os.path.isfile(os.path.join(music, u)) for u in queue), f'radio without --music-dir: {done.stderr} {queue}')

    # Two encodings of one recording (FLAC and Ogg; `duplicates` groups them): the Ogg is not
    # appended while the FLAC is queued, even when a filter leaves the FLAC itself out of the
    # radio's choice (only the queue has it).
    original, copy = 'Copies/original.flac', 'Copies/again.ogg'
    os.makedirs(os.path.join(music, 'Copies'))
    subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
                    'aevalsrc=sin(2*PI*(300+35*t)*t)*0.5+0.2*sin(2*PI*90*t):d=40', '-metadata', 'title=Original',
                    os.path.join(music, original)], check=True)
    subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-i', os.path.join(music, original),
                    '-metadata', 'title=Again', os.path.join(music, copy)], check=True)
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '--exclude', 'unindexed', '-q'],
                   env=env_vars, check=True)
    groups = json.loads(subprocess.run([binary, 'duplicates', '--json', '--db', db], env=env_vars, capture_output=True,
                                       text=True, check=True).stdout)
    check(any({os.path.join(music, original), os.path.join(music, copy)} <= {t['path'] for t in g['tracks']} for g in groups),
          f'the test copy is not a duplicate for `duplicates`: {groups}')
    mpd.command('update')
    wait_for('MPD to read the copies', lambda: 'updating_db' not in mpd.status() and dict(mpd.command('stats')).get('songs') == '16')
    play_only(mpd, names[0])
    mpd.command('add ' + quoted(original))
    done = run(tcp + ['--min-queue', '20', '--where', 'title != "Original"'])
    queue = mpd.queue()
    check(done.returncode == 0 and copy not in queue and len(queue) > 5,
          f'another encoding of a queued recording was appended: {queue} {done.stderr}')

    # H11P-4: two files tagged with one recording's MBID (a remaster filed beside its original),
    # neither queued yet: one place in a radio, so one of them is appended, not both.
    tagged = ['Copies/tagged-a.flac', 'Copies/tagged-b.mp3']
    for i, name in enumerate(tagged):
        subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', f'sine=f={520 + 200 * i}:d=30',
                        '-metadata', 'MUSICBRAINZ_TRACKID=11111111-2222-3333-4444-555555555555',
                        os.path.join(music, name)], check=True)
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '--exclude', 'unindexed', '-q'],
                   env=env_vars, check=True)
    mpd.command('update')
    wait_for('MPD to read the tagged copies',
             lambda: 'updating_db' not in mpd.status() and dict(mpd.command('stats')).get('songs') == '18')
    play_only(mpd, names[0])
    done = run(tcp + ['--min-queue', '30'])
    queue = mpd.queue()
    check(done.returncode == 0 and len(queue) > 10 and sum(u in tagged for u in queue) == 1,
          f'one MBID appended twice (or never): {queue} {done.stderr}')

    # The same relative path indexed under two folders: the radio names both and asks for --music-dir.
    mirror = os.path.join(os.path.dirname(music), 'mirror')
    os.makedirs(os.path.dirname(os.path.join(mirror, names[0])))
    shutil.copy(os.path.join(music, names[0]), os.path.join(mirror, names[0]))
    subprocess.run([binary, 'index', mirror, '--db', db, '--model', model, '-q'], env=env_vars, check=True)
    play_only(mpd, names[0])
    done = run(tcp + ['--min-queue', '1'])
    check(done.returncode == 2 and os.path.join(mirror, names[0]) in done.stderr and os.path.join(music, names[0]) in done.stderr
          and '--music-dir' in done.stderr and len(mpd.queue()) == 1, f'an ambiguous URI: {done.returncode} {done.stderr}')
    done = run(tcp + ['--min-queue', '1', '--music-dir', music])
    check(done.returncode == 0 and len(mpd.queue()) == 2, f'--music-dir for an ambiguous URI: {done.stderr}')
    # Over the local socket MPD tells its music_directory.
    play_only(mpd, names[0])
    done = run([binary, 'radio', '--mpd', mpd.socket, '--db', db, '--once', '--min-queue', '1'])
    check(done.returncode == 0 and len(mpd.queue()) == 2, f'over the socket without --music-dir: {done.returncode} {done.stderr}')


if __name__ == '__main__':
    main()
