#!/usr/bin/python3
"""Hostile pass 16 (split16): `clapsearch history import` of malformed and huge exports, as a new
user and an attacker would make them. Each case prints the exit status, the first line of the
error, the seconds it took and the user's plays after it, so a lost or doubled play shows.

    history_cases.py CLAPSEARCH_BINARY MODEL_DIR [--big] [--db URL]

A library of four tagged tones is indexed into a fresh SQLite file (or the PostgreSQL database
--db names, which must be empty), with users ann and bob. --big adds the slow cases (a 1.9 GB line,
a 600 MB export read while the index file is replaced)."""
import json, os, shutil, subprocess, sys, tempfile, threading, time

binary, model = sys.argv[1], sys.argv[2]
big = '--big' in sys.argv
db_url = sys.argv[sys.argv.index('--db') + 1] if '--db' in sys.argv else None


def run(*args, stdin=None, timeout=900):
    t0 = time.time()
    p = subprocess.run([binary, *args], input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace'), time.time() - t0


def plays(db, user='ann'):
    rc, out, err, _ = run('history', '--json', '--user', user, '--db', db)
    return json.loads(out)['plays'] if rc == 0 else f'(history failed: {err.strip()[:200]})'


def show(name, db, *args, stdin=None, user='ann'):
    before = plays(db, user)
    rc, out, err, secs = run('history', 'import', *args, '--db', db, stdin=stdin)
    first = (err.strip().splitlines() or out.strip().splitlines() or [''])[0]
    if rc == 0:
        first = out.strip().splitlines()[0] if out.strip() else first
    after = plays(db, user)
    signal = f' (signal {-rc})' if rc < 0 else ''
    print(f'== {name}: rc={rc}{signal} {secs:.1f}s plays {before} -> {after}\n   {first[:400]}')
    sys.stdout.flush()
    return rc, out, err


def listen(at, artist='Demo', title='Tone A', **extra):
    j = {'listened_at': at, 'track_metadata': {'artist_name': artist, 'track_name': title, 'release_name': 'Tones'}}
    j.update(extra)
    return json.dumps(j)


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


with tempfile.TemporaryDirectory(prefix='split16-history-') as tmp:
    music = os.path.join(tmp, 'music')
    os.makedirs(music)
    for name, freq, title in (('a', 300, 'Tone A'), ('b', 500, 'Tone B'), ('c', 700, 'Tone C'), ('d', 900, 'Tone D')):
        subprocess.run(['ffmpeg', '-loglevel', 'error', '-f', 'lavfi', '-i', f'sine=f={freq}:d=4', '-metadata',
                        f'title={title}', '-metadata', 'artist=Demo', '-metadata', 'album=Tones',
                        os.path.join(music, name + '.flac')], check=True)
    db = db_url or os.path.join(tmp, 'library.db')
    rc, _, err, _ = run('index', music, '--db', db, '--model', model, '-q')
    assert rc == 0, err
    for user in ('ann', 'bob'):
        rc, _, err, _ = run('user', 'add', user, '--password-file', '-', '--db', db, stdin=b'secret password\n')
        assert rc == 0, err
    now = int(time.time())
    f = lambda name, data: write(os.path.join(tmp, name), data)  # noqa: E731
    cases = 0

    # --- nesting: a value of 100,000 (and 1,000,000) arrays where a time or a name belongs ---
    for depth in (100_000, 1_000_000):
        deep = '[' * depth + ']' * depth
        for field in ('listened_at', 'artist'):
            line = (f'{{"listened_at": {deep}, "track_metadata": {{"artist_name": "Demo", "track_name": "Tone A"}}}}'
                    if field == 'listened_at' else
                    f'{{"listened_at": {now - 100}, "track_metadata": {{"artist_name": {deep}, "track_name": "Tone A"}}}}')
            show(f'listenbrainz {field} nested {depth} deep', db, f(f'deep_{field}_{depth}.jsonl', line + '\n'), '--user', 'ann')
            cases += 1
        show(f'listenbrainz array form, listened_at nested {depth} deep', db,
             f(f'deep_array_{depth}.json', '[' + f'{{"listened_at": {deep}, "track_metadata": {{}}}}' + ']'), '--user', 'ann')
        show(f'a line of only {depth} [', db, f(f'deep_line_{depth}.jsonl', '[' * depth + '\n'), '--user', 'ann',
             '--format', 'listenbrainz')
        show(f'lastfm json uts nested {depth} deep', db,
             f(f'deep_lastfm_{depth}.json', f'{{"recenttracks": {{"track": [{{"artist": "Demo", "name": "Tone A", '
                                           f'"date": {{"uts": {deep}}}}}]}}}}'), '--user', 'ann')
        show(f'beets play_count nested {depth} deep', db,
             f(f'deep_beets_{depth}.jsonl', f'{{"path": "{music}/a.flac", "play_count": {deep}}}\n'), '--user', 'ann',
             '--format', 'beets')
        cases += 4

    # --- times ---
    for at in ('-1', '-1e20', '1e20', '"1e20"', '0', '1', '99999999999', '100000000000', '1e300', '"2021-02-30"',
               '"2021-01-31T25:00:00Z"', '"1969-12-31T23:59:59Z"', '"1970-01-01T00:00:00+01:00"', 'true', '{}',
               '[1700000000]', '"1700000000.5"', '1700000000.999', f'{(now + 3 * 86400) * 1000}', '18446744073709551616',
               '-0', '1.7e9', '"\\u0000"'):
        line = f'{{"listened_at": {at}, "track_metadata": {{"artist_name": "Demo", "track_name": "Tone A"}}}}'
        show(f'listened_at {at}', db, f('time.jsonl', line + '\n'), '--user', 'ann')
        cases += 1
    for at in ('-5', '1e20', '99999999999999999999', '0', '31 Feb 2021 12:00', '2021-01-31 12:00 +25:00', ''):
        show(f'lastfm csv time {at!r}', db, f('time.csv', f'artist,album,track,uts\nDemo,Tones,Tone B,{at}\n'), '--user', 'ann')
        cases += 1

    # --- bytes: NUL, non-UTF-8, BOM, CR ---
    for name, data in (
            ('a NUL inside a JSON line', (listen(now - 50)[:-1] + ', "x": "\x00"}\n').encode()),
            ('a \\u0000 artist', (listen(now - 51, artist='De\\u0000mo') + '\n').encode()),
            ('Latin-1 in a JSON line', listen(now - 52).encode().replace(b'Tone A', b'Ton\xe9 A') + b'\n'),
            ('a lone surrogate escape', (listen(now - 53).replace('Tone A', 'Tone \\ud800 A') + '\n').encode()),
            ('overlong UTF-8', listen(now - 54).encode().replace(b'Tone A', b'Tone \xc0\xaf A') + b'\n'),
            ('Latin-1 in a CSV', b'artist,album,track,uts\nDemo,Tones,Ton\xe9 B,' + str(now - 55).encode() + b'\n'),
            ('a NUL in a CSV past 64 KiB', b'artist,album,track,uts\n' + (b'Demo,Tones,Tone B,%d\n' % (now - 56)) * 4000
             + b'De\x00mo,Tones,Tone B,1\n'),
            ('a NUL in a JSON line past 64 KiB', ((listen(now - 57) + '\n') * 1000).encode() + listen(now - 58).encode()
             .replace(b'Demo', b'De\x00mo') + b'\n')):
        show(name, db, f('bytes.bin', data), '--user', 'ann')
        cases += 1

    # --- duplicates and repeats: no play doubled, none lost ---
    dup = f('dup.jsonl', ''.join(listen(now - 1000) + '\n' for _ in range(3)) + listen(now - 999, title='Tone B') + '\n')
    for i in range(2):
        show(f'3 identical listens and 1 other, import {i + 1}', db, dup, '--user', 'ann')
    csv_same = f('dup.csv', f'artist,album,track,uts\nDemo,Tones,Tone A,{now - 1000}\n')
    show('the same play as a Last.fm scrobble (another source)', db, csv_same, '--user', 'ann')
    ms = f('ms.jsonl', listen((now - 1000) * 1000) + '\n')
    show('the same listen in milliseconds', db, ms, '--user', 'ann')
    frac = f('frac.jsonl', listen(now - 1000 + 0.7) + '\n')
    show('the same listen with a fraction of a second', db, frac, '--user', 'ann')
    cases += 5
    # Two imports of one file at once.
    many = f('many.jsonl', ''.join(listen(now - 100000 + i, title='Tone ' + 'ABCD'[i % 4]) + '\n' for i in range(20000)))
    before = plays(db)
    procs = [subprocess.Popen([binary, 'history', 'import', many, '--user', 'ann', '--json', '--db', db],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outs = [p.communicate() for p in procs]
    print(f'== 3 imports of 20000 listens at once: rcs {[p.returncode for p in procs]} plays {before} -> {plays(db)} '
          f'imported {[json.loads(o[0])["imported"] if p.returncode == 0 else o[1][:200] for p, o in zip(procs, outs)]}')
    cases += 1

    # --- not indexed, users ---
    show('listens of songs not in the library', db,
         f('unknown.jsonl', ''.join(listen(now - 2000 - i, artist='Nobody', title=f'Song {i}') + '\n' for i in range(5000))),
         '--user', 'ann')
    show('no --user with two users', db, dup)
    show('--user nobody', db, dup, '--user', 'nobody')
    show("--user ''", db, dup, '--user', '')
    show('--user with a NUL-free control character', db, dup, '--user', 'a\x1b[2Jnn')
    cases += 5

    # --- sizes ---
    line = listen(now - 3000, artist='A' * (300 << 20)) + '\n'
    show('a 300 MB artist name (unresolved, echoed bounded)', db, f('long.jsonl', line), '--user', 'ann', '--json')
    os.remove(os.path.join(tmp, 'long.jsonl'))
    show('a 300 MB CSV cell', db, f('long.csv', 'artist,album,track,uts\n' + 'B' * (300 << 20) + f',x,y,{now - 3001}\n'),
         '--user', 'ann')
    os.remove(os.path.join(tmp, 'long.csv'))
    cases += 2
    if big:
        line = listen(now - 3002, artist='C' * 1_900_000_000) + '\n'
        show('a 1.9 GB line', db, f('huge.jsonl', line), '--user', 'ann')
        os.remove(os.path.join(tmp, 'huge.jsonl'))
        cases += 1

    # --- files changed while read ---
    # The export moved over while the import reads it: what was opened is read.
    src = f('moving.jsonl', ''.join(listen(now - 400000 + i, title='Tone ' + 'ABCD'[i % 4]) + '\n'
                                    for i in range(300000 if big else 100000)))
    other = f('other.jsonl', listen(now - 5, title='Tone C') + '\n')
    before = plays(db)
    p = subprocess.Popen([binary, 'history', 'import', src, '--user', 'ann', '--db', db],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    os.replace(other, src)
    o, e = p.communicate()
    print(f'== export replaced while read: rc={p.returncode} plays {before} -> {plays(db)}\n   '
          f'{(o or e).decode().strip().splitlines()[0][:300]}')
    cases += 1
    if not db_url:
        # The index moved over (a backup put back) while the import reads a large export: the plays
        # must go to the index at --db, or the import must say it wrote nothing.
        src = f('slow.jsonl', ''.join(listen(now - 900000 + i, title='Tone ' + 'ABCD'[i % 4]) + '\n'
                                      for i in range(600000 if big else 300000)))
        backup = os.path.join(tmp, 'backup.db')
        shutil.copy(db, backup)
        before = plays(db)
        p = subprocess.Popen([binary, 'history', 'import', src, '--user', 'ann', '--db', db],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.0)
        moved = p.poll() is None
        os.replace(backup, db)
        o, e = p.communicate()
        said = (o or e).decode().strip().splitlines()
        print(f'== index file replaced while the export is read (replaced before the end: {moved}): rc={p.returncode} '
              f'plays at --db {before} -> {plays(db)}\n   {said[0][:300] if said else ""}')
        cases += 1
    print(f'cases: {cases}')
