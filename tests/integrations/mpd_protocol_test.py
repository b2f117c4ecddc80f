#!/usr/bin/python3
"""How `clapsearch radio` reads MPD's protocol (src/cli/mpd_protocol.cpp), against a fake MPD on
loopback TCP playing a few lines of the protocol, and against Debian's real `mpd`.

- H18P-1: a NUL byte inside an answer line (the state word, the current or a queued file, a pair's
  name, an `add` refusal, the greeting, a line of only a NUL) was read up to the NUL through
  libmpdclient's C strings (`state: play\\0ing` as "play", `file: URI\\0junk` as "URI") and the
  radio added songs. Each is now refused whole as not MPD's protocol, naming the server, the
  command and the line (shown escaped), nothing added, exit 1.
- H22P-1: a song whose tag is longer than 4 KiB anywhere in MPD's queue (a 6,000-character title:
  MPD sends it as one line of `playlistinfo`) stopped the radio: libmpdclient's line buffer
  is 4 KiB ("cannot read the queue: Response line too large"). Real mpd; and a 64 KiB line from
  the fake server.
- H22P-2: more `list_OK`s than commands in the answer to the radio's command list aborted the
  radio (SIGABRT, an assertion inside libmpdclient). Refused as not MPD's protocol.
- Guards for the reader: an answer sent one byte at a time is read whole; a line longer than
  the answer's bound (1 MiB) and a server that closes the connection mid-line are errors naming
  the server; a greeting that is not MPD's is named.

    mpd_protocol_test.py CLAPSEARCH_BINARY MODEL_DIR
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpd_radio_test import Mpd, check, free_port, wait_for  # noqa: E402  (the real mpd, as Mpd.Radio runs it)

LONG_TITLE = 6000  # bytes: beyond libmpdclient's 4 KiB line buffer


def fake_mpd_once(binary, music, db, env_vars, answer, greeting=b'OK MPD 0.23.5\n'):
    """`radio --once --min-queue 2` against a fake MPD: the greeting (bytes, or a function writing
    it), then answer(line, f) for each command line. Returns the run and the command lines got."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    got = []

    def serve():
        conn, _ = server.accept()
        try:
            with conn, conn.makefile('rwb') as f:
                greeting(f) if callable(greeting) else f.write(greeting)
                f.flush()
                while line := f.readline():
                    got.append(line)
                    if answer(line, f) == 'close':
                        return
                    f.flush()
        except OSError:
            pass  # the radio hung up: what it should do in the middle of a hostile answer

    threading.Thread(target=serve, daemon=True).start()
    try:
        done = subprocess.run([binary, 'radio', '--mpd', f'127.0.0.1:{server.getsockname()[1]}', '--music-dir', music,
                               '--db', db, '--once', '--min-queue', '2'], env=env_vars, capture_output=True,
                              check=False, timeout=120)
    finally:
        server.close()
    return done, got


def status_lines(state=b'play', extra=b''):
    return b'state: ' + state + b'\nsong: 0\nsongid: 1\ntime: 3:12\nelapsed: 3.250\n' + extra + b'list_OK\n'


def queue_lines(current, queued=(), tags=b''):
    out = b'file: ' + current + b'\n' + tags + b'Pos: 0\nId: 1\n'
    for i, q in enumerate(queued):
        out += b'file: ' + q + b'\nPos: %d\nId: %d\n' % (i + 1, i + 2)
    return out + b'list_OK\nOK\n'


def answering(status, queue, add=b'OK\n'):
    def answer(line, f):
        if line.startswith(b'command_list_end'):
            f.write(status + queue)
        elif line.startswith(b'add '):
            if add == 'close':
                return 'close'
            f.write(add)
        elif line.startswith(b'config'):
            f.write(b"ACK [4@0] {config} you don't have permission\n")
    return answer


def adds(got):
    return [line for line in got if line.startswith(b'add ')]


def nul_lines(binary, music, db, env_vars, uri):
    """H18P-1: every place a NUL can hide in an answer line."""
    cases = [
        ('the state word', answering(status_lines(b'play\x00ing'), queue_lines(uri)), None, '`status`', "'state: play?ing'"),
        ('the current file', answering(status_lines(), queue_lines(uri + b'\x00junk')), None, '`playlistinfo`',
         "'file: " + uri.decode() + "?junk'"),
        ('a queued file', answering(status_lines(), queue_lines(uri, [b'x\x00' + uri])), None, '`playlistinfo`', 'line 4'),
        ("a pair's name", answering(status_lines(extra=b'vol\x00ume: 5\n'), queue_lines(uri)), None, '`status`', "'vol?ume: 5'"),
        ('an add refusal (with ESC)', answering(status_lines(), queue_lines(uri), add=b'ACK [50@0] {add} No such song\x00\x1b[2Jx\n'),
         None, '`add`', 'No such song??[2Jx'),
        ('the greeting', answering(status_lines(), queue_lines(uri)), b'OK MPD 0.23\x00.5\n', 'its greeting', "'OK MPD 0.23?.5'"),
        ('a line of only a NUL', lambda line, f: f.write(b'\x00\n') if line.startswith(b'command_list_end') else None, None,
         '`status`', "('?')"),
    ]
    for where, answer, greeting, command, shown in cases:
        done, got = fake_mpd_once(binary, music, db, env_vars, answer, greeting or b'OK MPD 0.23.5\n')
        err = done.stderr.decode('utf-8', 'backslashreplace')
        check(done.returncode == 1 and 'holds a NUL byte' in err and 'MPD at 127.0.0.1:' in err and command in err and
              shown in err and b'\x00' not in done.stderr and b'\x1b' not in done.stderr,
              f'a NUL in {where}: exit {done.returncode}: {err!r}')
        # The add refusal's case adds the first song, which MPD refuses: nothing else is sent after it.
        check(len(adds(got)) == (1 if where.startswith('an add') else 0), f'a NUL in {where}: sent {adds(got)}')


def reader_bounds(binary, music, db, env_vars, uri):
    """H22P-1 and H22P-2 with the fake server, and the reader's guards."""
    # A valid 64 KiB tag line in the queue: read, the radio adds its 2 songs.
    done, got = fake_mpd_once(binary, music, db, env_vars,
                              answering(status_lines(), queue_lines(uri, tags=b'Comment: ' + b'c' * 65536 + b'\n')))
    check(done.returncode == 0 and len(adds(got)) == 2, f'a 64 KiB tag line: {done.returncode} {done.stderr!r} {adds(got)}')
    # More list_OKs than commands (H22P-2: SIGABRT inside libmpdclient).
    done, got = fake_mpd_once(binary, music, db, env_vars,
                              answering(status_lines(), queue_lines(uri)[:-3] + b'list_OK\nlist_OK\nOK\n'))
    err = done.stderr.decode('utf-8', 'backslashreplace')
    check(done.returncode == 1 and 'more answers (list_OK) than commands sent' in err and not adds(got),
          f'three list_OKs for two commands: exit {done.returncode}: {err!r}')
    # The whole answer one byte at a time: read whole.
    def dripping(line, f):
        if line.startswith(b'command_list_end'):
            for b in status_lines() + queue_lines(uri):
                f.write(bytes([b]))
                f.flush()
                time.sleep(0.005)
        elif line.startswith(b'add '):
            f.write(b'OK\n')
    done, got = fake_mpd_once(binary, music, db, env_vars, dripping)
    check(done.returncode == 0 and len(adds(got)) == 2, f'an answer byte by byte: {done.returncode} {done.stderr!r}')
    # A line that does not end within the answer's 1 MiB; a connection closed mid-line; not MPD.
    for what, answer, greeting, said in (
            ('a 2 MiB line', answering(b'state: play\nx: ' + b'y' * (2 << 20) + b'\nlist_OK\n', queue_lines(uri)), None,
             'did not end within 1 MiB'),
            ('closed mid-line', lambda line, f: (f.write(b'state: pl'), 'close')[1] if line.startswith(b'command_list_end')
             else None, None, 'the server closed the connection'),
            ('not MPD', answering(status_lines(), queue_lines(uri)), b'SSH-2.0-OpenSSH_9.2\r\n', 'not an MPD server')):
        done, got = fake_mpd_once(binary, music, db, env_vars, answer, greeting or b'OK MPD 0.23.5\n')
        err = done.stderr.decode('utf-8', 'backslashreplace')
        check(done.returncode == 1 and said in err and 'MPD at 127.0.0.1:' in err and not adds(got),
              f'{what}: exit {done.returncode}: {err!r}')


def long_tag_in_real_mpd(binary, tmp, music, db, env_vars):
    """H22P-1 with Debian's mpd: a song whose title is 6,000 bytes plays; the radio tops up."""
    if shutil.which('mpd') is None:
        print('Mpd.Protocol: the real-mpd case is skipped: mpd is not installed (scripts/install-deps.sh --tests)')
        return
    mpd = Mpd(tmp, music, free_port())
    mpd.start()
    try:
        mpd.command('update')
        wait_for('MPD to read its music folder',
                 lambda: 'updating_db' not in mpd.status() and dict(mpd.command('stats')).get('songs') == '5')
        mpd.command('clear')
        mpd.command('add "long title.flac"')
        mpd.command('play 0')
        check(max(len(v) for k, v in mpd.command('playlistinfo') if k == 'Title') == LONG_TITLE, 'mpd cut the long title')
        done = subprocess.run([binary, 'radio', '--mpd', f'127.0.0.1:{mpd.port}', '--music-dir', music, '--db', db,
                               '--once', '--min-queue', '2'], env=env_vars, capture_output=True, text=True, check=False,
                              timeout=120)
        queue = mpd.queue()
        check(done.returncode == 0 and len(queue) == 3, f'a {LONG_TITLE}-byte title in the queue: {done.returncode} '
                                                        f'{done.stderr} {queue}')
    finally:
        mpd.stop()


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: mpd_protocol_test.py CLAPSEARCH_BINARY MODEL_DIR')
    binary, model = (os.path.abspath(a) for a in sys.argv[1:])
    check(shutil.which('ffmpeg') is not None, 'ffmpeg is needed to make the test files')
    with tempfile.TemporaryDirectory(prefix='clapsearch-mpd-protocol-') as tmp:
        music = os.path.join(tmp, 'music')
        os.makedirs(music)
        db = os.path.join(tmp, 'index.db')
        env_vars = dict(os.environ, HF_HOME=os.path.join(tmp, 'hf'), HF_HUB_OFFLINE='1')
        env_vars.pop('MPD_PASSWORD', None)
        env_vars.pop('CLAPSEARCH_DB', None)
        names = ['long title.flac'] + [f's{i}.flac' for i in range(1, 5)]
        for i, name in enumerate(names):
            title = 't' * LONG_TITLE if i == 0 else f'Song {i}'
            subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
                            f'sine=f={220 + 55 * i}:d=40', '-metadata', f'title={title}', os.path.join(music, name)],
                           check=True)
        subprocess.run([binary, 'index', music, '--db', db, '--model', model, '-q'], env=env_vars, check=True)
        uri = b's1.flac'
        nul_lines(binary, music, db, env_vars, uri)
        reader_bounds(binary, music, db, env_vars, uri)
        long_tag_in_real_mpd(binary, tmp, music, db, env_vars)
    print('Mpd.Protocol: all checks passed')


if __name__ == '__main__':
    main()
