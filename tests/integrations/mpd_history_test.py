#!/usr/bin/python3
"""`clapsearch radio` records what a real MPD plays in a user's listening history (issue 55):
Debian's mpd on loopback with a null output (which plays in real time) over three files made with
ffmpeg and indexed with the tiny test model. A 3 s song plays to its end (a play), a 40 s song is
left after a moment with `next` (a skip: before 20 s, half its length); `clapsearch history`
must show both as source "mpd" with the right skip flag. Also: several users and no --user is a
usage error (exit 2) naming --user; --no-history records nothing; a backup put back under the
watching radio is opened and recorded into, also when it is moved over while the radio's write of a
play waits for another writer's lock (the play recorded in the copy, once). MPD is stopped at the end.
(CTest: Mpd.History; exit 77 = skipped when mpd is not installed.)

    mpd_history_test.py CLAPSEARCH_BINARY MODEL_DIR
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpd_radio_test import SKIP, Mpd, Radio, check, free_port, quoted, wait_for  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: mpd_history_test.py CLAPSEARCH_BINARY MODEL_DIR')
    binary, model = (os.path.abspath(a) for a in sys.argv[1:])
    if shutil.which('mpd') is None:
        print('Mpd.History skipped: mpd is not installed (apt-get install mpd; scripts/install-deps.sh --tests)')
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory(prefix='clapsearch-mpd-history-') as tmp:
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
    print('Mpd.History: all checks passed')


def watching(mpd, queue, radio, radios):
    """MPD's queue set to `queue` (not playing yet), and the radio started watching it."""
    mpd.command('clear')
    for name in queue:
        mpd.command('add ' + quoted(name))
    watcher = Radio(radio)
    radios.append(watcher)
    wait_for('the radio to start', lambda: watcher.said('radio on MPD'))
    return watcher


def radio_says(watcher, what, text):
    """Waits for the radio to say `text`; when it does not, the failure shows what it said (a
    failure of backup_put_back under load kept nothing to tell why: hostile pass 14)."""
    try:
        wait_for(what, lambda: watcher.said(text))
    except AssertionError as e:
        raise AssertionError(f'{e}; the radio said: {watcher.err[-12:]}') from None


def run_tests(tmp, binary, model, mpd, radios):
    music = os.path.join(tmp, 'music')
    db = os.path.join(tmp, 'index.db')
    env = dict(os.environ, HF_HOME=os.path.join(tmp, 'hf'), HF_HUB_OFFLINE='1')
    env.pop('MPD_PASSWORD', None)
    env.pop('CLAPSEARCH_DB', None)
    songs = {'short.flac': 'sine=f=330:d=3', 'long.flac': 'sine=f=550:d=40', 'other.flac': 'anoisesrc=seed=11:color=pink:d=40'}
    os.makedirs(music)
    for name, source in songs.items():
        subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source,
                        os.path.join(music, name)], check=True)
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '-q'], env=env, check=True)

    def cli(args, stdin=None):
        return subprocess.run([binary] + args + ['--db', db], env=env, input=stdin, capture_output=True, text=True,
                              check=False)

    check(cli(['user', 'add', 'ann'], 'pw\n').returncode == 0, 'user add ann failed')

    mpd.start()
    mpd.command('update')
    wait_for('MPD to read its music folder',
             lambda: 'updating_db' not in mpd.status() and dict(mpd.command('stats')).get('songs') == '3')
    radio = [binary, 'radio', '--mpd', f'127.0.0.1:{mpd.port}', '--music-dir', music, '--db', db, '--min-queue', '1']

    # The short song plays to its end, then the long one is left after about a second.
    watcher = watching(mpd, ['short.flac', 'long.flac'], radio, radios)
    check(watcher.said('listening history of ann'), f'the radio does not say whose history: {watcher.err}')
    mpd.command('play 0')
    wait_for('the short song to end', lambda: mpd.status().get('song') == '1')
    time.sleep(1)
    mpd.command('next')
    wait_for('the radio to record the skip', lambda: watcher.said('skipped long.flac'))
    check(watcher.stop() == 0, f'the radio did not stop cleanly: {watcher.err}')
    check(watcher.said('played short.flac'), f'the play of the short song was not recorded: {watcher.err}')

    summary = json.loads(cli(['history', '--json']).stdout)
    check(summary['by_source'].get('mpd') == {'plays': 2, 'skips': 1}, f'history: {summary}')
    plays = [json.loads(line) for line in cli(['history', 'export']).stdout.splitlines()]
    by_file = {os.path.basename(p['path']): p for p in plays if p['type'] == 'play'}
    check(not by_file['short.flac']['skipped'] and by_file['short.flac']['seconds_played'] >= 1.5,
          f'the short song: {by_file["short.flac"]}')
    check(by_file['long.flac']['skipped'] and by_file['long.flac']['seconds_played'] < 20,
          f'the long song: {by_file["long.flac"]}')
    check(abs(by_file['short.flac']['played_at'] - time.time()) < 600, f'the play time: {by_file["short.flac"]}')

    # Two users: whose history must be said (exit 2), or --no-history.
    check(cli(['user', 'add', 'bob'], 'pw\n').returncode == 0, 'user add bob failed')
    done = subprocess.run(radio, env=env, capture_output=True, text=True, check=False, timeout=120)
    check(done.returncode == 2 and '--user' in done.stderr, f'several users without --user: {done.returncode} {done.stderr}')
    mpd.command('play 0')
    quiet = Radio(radio + ['--no-history'])
    radios.append(quiet)
    wait_for('the radio to start', lambda: quiet.said('radio on MPD'))
    mpd.command('next')
    time.sleep(1)
    check(quiet.stop() == 0, f'the radio did not stop cleanly: {quiet.err}')
    check(not quiet.said('listening history'), f'--no-history recorded: {quiet.err}')
    summary = json.loads(cli(['history', '--json', '--user', 'ann']).stdout)
    check(summary['plays'] == 2, f'plays recorded with --no-history: {summary}')
    backup_put_back(cli, db, mpd, radio + ['--user', 'ann'], radios)
    taste_of_the_index_opened_again(cli, db, mpd, radio + ['--user', 'ann', '--for-me', '--no-history'], radios)
    plays_of_the_user_by_name(cli, db, mpd, radio + ['--user', 'ann'], radios)
    taste_of_a_user_the_copy_lacks(cli, db, mpd, radio + ['--for-me', '--no-history'], radios)
    a_play_overtaken_by_a_replacement(cli, db, mpd, radio + ['--user', 'ann'], radios)


def backup_put_back(cli, db, mpd, radio, radios):
    """Hostile pass 13 (H13P-4): a backup put back with a rename (docs/operations.md, Backup) while
    the radio watches: it said "the index file was replaced ...; waiting for the next song" at every
    event from then on, added nothing and recorded no play ("opened once this process has closed the
    old one") until it was restarted. It opens the copy, as serve does, and records into it."""
    backup = db + '.backup'
    with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(backup)) as b:
        a.backup(b)
    watcher = watching(mpd, ['short.flac', 'short.flac'], radio, radios)
    os.rename(backup, db)
    mpd.command('play 0')
    radio_says(watcher, 'a play recorded after the backup was put back', 'played short.flac')
    check(watcher.stop() == 0, f'the radio did not stop cleanly: {watcher.err}')
    check(watcher.said('was replaced or changed its model: opened again'), f'the radio did not open the copy: {watcher.err}')
    summary = json.loads(cli(['history', '--json', '--user', 'ann']).stdout)
    check(summary['plays'] >= 3, f'the play after the backup was put back is not in the index: {summary}')


def taste_of_the_index_opened_again(cli, db, mpd, radio, radios):
    """Hostile pass 14: `radio --for-me` made the user's taste once, from the index it started on,
    and kept it when it opened another file moved over the index or the index switched model
    (H13P-4's reopen): it went on following taste centres of embeddings the index no longer holds
    (another model's vectors: a meaningless direction), or no taste at all though the index it now
    reads has the user's plays. The taste is made again from the index opened again."""
    with_plays = db + '.with-plays'
    with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(with_plays)) as b:
        a.backup(b)
    forgot = cli(['history', 'forget', '--user', 'ann'])
    check(forgot.returncode == 0, f'history forget failed: {forgot.stderr}')
    watcher = watching(mpd, ['short.flac', 'short.flac'], radio, radios)
    check(watcher.said('ann has no plays'), f'the radio does not say ann has no taste yet: {watcher.err}')
    os.rename(with_plays, db)  # a copy in which ann has plays put back
    mpd.command('play 0')
    radio_says(watcher, 'the radio to open the copy', 'opened again')
    radio_says(watcher, 'the radio to follow the taste in the copy', 'the radio for ann: following the nearest of')
    check(watcher.stop() == 0, f'the radio did not stop cleanly: {watcher.err}')


def plays_of_the_user_by_name(cli, db, mpd, radio, radios):
    """Hostile pass 14: the radio recorded plays under the user id it found at its start; in a copy
    put back whose users were made again since (here carl got ann's old id), ann's plays went into
    carl's history, silently. Plays go to the user named, looked up in the index now at the name."""
    ann_id = next(u['id'] for u in json.loads(cli(['user', 'list', '--json']).stdout) if u['name'] == 'ann')
    copy = db + '.users-again'
    with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(copy)) as b:
        a.backup(b)
    for args, stdin in [(['user', 'remove', 'ann'], None), (['user', 'remove', 'bob'], None), (['user', 'add', 'carl'], 'pw\n'),
                        (['user', 'add', 'ann'], 'pw\n')]:
        done = subprocess.run([radio[0]] + args + ['--db', copy], input=stdin, capture_output=True, text=True, check=False)
        check(done.returncode == 0, f'{args} on the copy failed: {done.stderr}')
    with closing(sqlite3.connect(copy)) as c:
        carl = c.execute("select id from users where name = 'carl'").fetchone()[0]
    check(carl == ann_id, f'the copy does not give carl ann\'s old id {ann_id} (got {carl}): the check below proves nothing')
    watcher = watching(mpd, ['short.flac', 'short.flac'], radio, radios)
    os.rename(copy, db)
    mpd.command('play 0')
    radio_says(watcher, 'a play recorded in the copy', 'played short.flac')
    check(watcher.stop() == 0, f'the radio did not stop cleanly: {watcher.err}')
    for user, want in [('carl', 0), ('ann', 1)]:
        got = json.loads(cli(['history', '--json', '--user', user]).stdout)['plays']
        check(got >= want if want else got == 0, f'{user} has {got} plays in the copy after ann listened: {watcher.err}')


def taste_of_a_user_the_copy_lacks(cli, db, mpd, radio, radios):
    """Hostile pass 15: (H15P-1) `radio --for-me --user ann` with a copy put back that has no ann:
    the taste could not be made, the radio kept the old file closed, added nothing and warned at
    every song until it was restarted; it opens the copy and follows the songs alone, saying why.
    (H15P-2) Without --user (the only user at the start), a copy whose only user is someone else
    gave the radio that user's taste while plays went to the first: the taste is of the user found
    at the start, by name."""
    def put_back(users, args, lacking):
        copy = db + '.without-' + lacking
        with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(copy)) as b:
            a.backup(b)
        for args_, stdin in users:
            done = subprocess.run([radio[0]] + args_ + ['--db', copy], input=stdin, capture_output=True, text=True, check=False)
            check(done.returncode == 0, f'{args_} on the copy failed: {done.stderr}')
        watcher = watching(mpd, ['short.flac', 'short.flac'], radio + args, radios)
        os.rename(copy, db)
        mpd.command('play 0')
        radio_says(watcher, 'the radio to open the copy', 'opened again')
        radio_says(watcher, f'the radio to say the copy has no {lacking}', f"no user named '{lacking}'")
        mpd.command('stop')
        check(watcher.stop() == 0, f'the radio did not stop cleanly: {watcher.err}')
        return watcher

    watcher = put_back([(['user', 'remove', 'ann'], None)], ['--user', 'ann'], 'ann')
    check(watcher.said('the radio follows the songs alone') and not watcher.said('trying again'),
          f'the radio for ann in a copy without ann: {watcher.err}')
    users = [u['name'] for u in json.loads(cli(['user', 'list', '--json']).stdout)]
    check(users == ['carl'], f'the index should now have carl alone: {users}')
    watcher = put_back([(['user', 'remove', 'carl'], None), (['user', 'add', 'ann'], 'pw\n')], [], 'carl')
    check(not watcher.said('the radio for ann') and not watcher.said('ann has no plays'),
          f'the radio started for carl follows ann\'s taste in the copy: {watcher.err}')



def waiting_for_a_lock(pid):
    """Whether the process's main thread sleeps in a system call of its own (SQLite's busy handler
    sleeps between its tries of a lock; the watching radio otherwise waits for MPD in poll)."""
    try:
        with open(f'/proc/{pid}/syscall') as f:
            return f.read().split()[0] in ('35', '230')  # nanosleep, clock_nanosleep (x86-64)
    except (OSError, IndexError):
        return False


def a_play_overtaken_by_a_replacement(cli, db, mpd, radio, radios):
    """Hostile pass 19 (H19P-3): a play whose write waited for another writer's lock while a backup
    was moved over the index went into the old file: the radio warned "was not recorded: the index
    file was replaced while this call ran" and the play was lost. The radio opens the file now at
    the name and records the play there, once. The window is made sure: this test holds the write
    lock from before the song ends until the radio's write waits for it and the copy is in place."""
    copy = db + '.overtaken'
    with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(copy)) as b:
        a.backup(b)
    before = json.loads(subprocess.run([radio[0], 'history', '--json', '--user', 'ann', '--db', copy], capture_output=True,
                                       text=True, check=True).stdout)['plays']
    watcher = watching(mpd, ['short.flac', 'short.flac'], radio, radios)
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute('BEGIN IMMEDIATE')
        mpd.command('play 0')
        wait_for('the short song to end', lambda: mpd.status().get('song') == '1')
        wait_for('the radio to wait for the write lock', lambda: waiting_for_a_lock(watcher.process.pid))
        os.rename(copy, db)
    finally:
        writer.close()  # the write lock given up: the radio's write goes on, into the file replaced
    wait_for('the radio to record the play or say why not',
             lambda: watcher.said('played short.flac') or watcher.said('was not recorded'))
    check(watcher.stop() == 0, f'the radio did not stop cleanly: {watcher.err}')  # the song playing now is not recorded
    mpd.command('stop')
    check(not watcher.said('was not recorded'), f'the play overtaken by the replacement was lost: {watcher.err[-6:]}')
    after = json.loads(cli(['history', '--json', '--user', 'ann']).stdout)['plays']
    check(after == before + 1, f'ann has {after} plays in the copy put back, {before} before the song: {watcher.err[-6:]}')


if __name__ == '__main__':
    main()
