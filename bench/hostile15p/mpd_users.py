#!/usr/bin/python3
"""Hostile pass 15: what pass 14 added to `clapsearch radio` (the user of each play looked up by
name in the index as it is then, H14P-2; the taste made again at each reopen, H14P-1), with a real
MPD: a copy put back that has no user of the radio's name; a radio started without --user (the only
user) when a copy whose only user is someone else is put back; a text file put over the index,
then the index again; --user given in another case and Unicode form; the user removed and made
again in the same file while the radio runs. Each case: HELD or FOUND and what the radio said.

    mpd_users.py CLAPSEARCH_BINARY MODEL_DIR PORT
"""
import json, os, shutil, sqlite3, subprocess, sys, tempfile, time, unicodedata
from contextlib import closing
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'integrations'))
from mpd_radio_test import Mpd, Radio, quoted, wait_for  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile13p'))
from mpd_library import case, stop_all, tone_library  # noqa: E402

binary, model, port = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])


def copy(src, dst):
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)


with tempfile.TemporaryDirectory(prefix='hostile15p-mpd-') as tmp:
    names = [f'{i:02d}.flac' for i in range(6)]
    music, db, env = tone_library(binary, model, tmp, names)
    pristine = db + '.pristine'
    copy(db, pristine)
    mpd = Mpd(tmp, music, port)
    mpd.start()
    radios = []

    def cli(*args, stdin=None, on=None):
        return subprocess.run([binary, *args, '--db', on or db], input=stdin, env=env, capture_output=True, text=True)

    def plays(user, on=None):
        done = cli('history', '--json', '--user', user, on=on)
        return json.loads(done.stdout)['plays'] if done.returncode == 0 else done.stderr.strip()[-80:]

    def fresh():
        """The index as tone_library made it (ann, no plays)."""
        copy(pristine, db + '.next'); os.rename(db + '.next', db)

    def start(extra, queue=('00.flac', '01.flac')):
        mpd.command('stop'); mpd.command('clear')
        for n in queue:
            mpd.command('add ' + quoted(n))
        w = Radio([binary, 'radio', '--mpd', f'127.0.0.1:{port}', '--music-dir', music, '--db', db, '--min-queue', '1'] + extra)
        radios.append(w)
        wait_for('the radio to start', lambda: w.said('radio on MPD') or w.process.poll() is not None)
        return w

    def played(w, n, what):
        try:
            wait_for(what, lambda: sum('played ' in l or 'skipped ' in l for l in w.err) >= n or w.process.poll() is not None)
            return True
        except AssertionError:
            return False

    try:
        mpd.command('update')
        wait_for('update', lambda: 'updating_db' not in mpd.status())

        # 1. --for-me --user ann; a copy whose only user is carl (ann removed) put back.
        fresh()
        no_ann = db + '.no-ann'
        copy(db, no_ann)
        cli('user', 'remove', 'ann', on=no_ann); cli('user', 'add', 'carl', stdin='pw\n', on=no_ann)
        w = start(['--user', 'ann', '--for-me'])
        os.rename(no_ann, db)
        mpd.command('play 0')
        wait_for('a note or warning after the copy', lambda: w.said('opened again') or w.said('no user named') or w.process.poll() is not None)
        time.sleep(8)
        q = mpd.queue()
        rc = w.process.poll()
        warnings = [l for l in w.err if l.startswith('warning:') and ('trying again' in l or 'follows the songs alone' in l)]
        mpd.command('stop'); w.stop()
        case('--for-me --user ann, a copy without ann put back: the radio goes on, says why once',
             rc is None and len(q) > 2 and len(warnings) == 1 and w.said('opened again'),
             f'alive {rc is None}; queue {len(q)}; warnings {len(warnings)} {warnings[:2]}; opened again {w.said("opened again")}; carl {plays("carl")}')

        # 2. no --user (ann the only user), --for-me; a copy whose only user is carl put back.
        fresh()
        only_carl = db + '.only-carl'
        copy(db, only_carl)
        cli('user', 'remove', 'ann', on=only_carl); cli('user', 'add', 'carl', stdin='pw\n', on=only_carl)
        w = start(['--for-me'])
        os.rename(only_carl, db)
        mpd.command('play 0')
        ok = played(w, 1, 'a play after the copy')
        time.sleep(2)
        mpd.command('stop'); w.stop()
        tastes = [l[:90] for l in w.err if 'the radio for' in l or 'has no plays' in l]
        recorded = [l[:110] for l in w.err if 'played ' in l or 'not recorded' in l]
        case('no --user, a copy whose only user is carl: taste and plays of one user',
             not any('carl' in t for t in tastes) or plays('carl') != 0,
             f'played {ok}; tastes {tastes}; recorded {recorded}; carl {plays("carl")}')

        # 3. a text file over the index, then the index again: the radio records again.
        fresh()
        w = start(['--user', 'ann'])
        with open(db + '.txt', 'w') as f:
            f.write('not an index\n')
        saved = db + '.saved'
        copy(db, saved)
        os.rename(db + '.txt', db)
        mpd.command('play 0')
        wait_for('a warning', lambda: w.said('trying again') or w.said('opened again') or w.process.poll() is not None)
        os.rename(saved, db)
        ok = played(w, 2, 'plays after the index came back')
        mpd.command('stop'); rc = w.stop()
        case('a text file over the index, then the index: plays recorded again',
             ok and rc == 0 and plays('ann') >= 1,
             f'played {ok}; rc {rc}; ann {plays("ann")}; said {[l[:100] for l in w.err][-5:]}')

        # 4. --user in another case and Unicode form (NFD of a user added in NFC).
        fresh()
        nfc = unicodedata.normalize('NFC', 'Zoë')
        cli('user', 'add', nfc, stdin='pw\n')
        w = start(['--user', unicodedata.normalize('NFD', 'ZOË')])
        mpd.command('play 0')
        ok = played(w, 1, 'a play for zoë')
        mpd.command('stop'); rc = w.stop()
        case('--user ZOË (NFD) records into Zoë (NFC)', ok and plays(nfc) >= 1 and plays('ann') == 0,
             f'played {ok}; rc {rc}; Zoë {plays(nfc)}; ann {plays("ann")}; said {[l[:100] for l in w.err][:4]}')

        # 5. the user removed and made again in the same file while the radio runs (no reopen).
        fresh()
        w = start(['--user', 'ann'])
        cli('user', 'remove', 'ann'); cli('user', 'add', 'ann', stdin='pw\n')
        mpd.command('play 0')
        ok = played(w, 1, 'a play after ann was made again')
        mpd.command('stop'); rc = w.stop()
        case('ann removed and made again under the radio: plays go to the new ann', ok and plays('ann') >= 1,
             f'played {ok}; rc {rc}; ann {plays("ann")}; said {[l[:100] for l in w.err][-3:]}')

        # 6. two users whose names differ only by case in a copy (an index from before the key
        # check, or written by SQL) put back under --user ann: the exact name wins.
        fresh()
        twins = db + '.twins'
        copy(db, twins)
        with closing(sqlite3.connect(twins)) as c:
            cols = [r[1] for r in c.execute('pragma table_info(users)')]
            row = c.execute('select * from users where name = ?', ('ann',)).fetchone()
            vals = dict(zip(cols, row)); vals.pop('id'); vals['name'] = 'ANN'
            c.execute(f'insert into users ({",".join(vals)}) values ({",".join("?" * len(vals))})', list(vals.values()))
            c.commit()
        w = start(['--user', 'ann'])
        os.rename(twins, db)
        mpd.command('play 0')
        ok = played(w, 1, 'a play in the copy with twins')
        mpd.command('stop'); rc = w.stop()
        case('ann and ANN in a copy put back, --user ann: plays go to ann', ok and plays('ann') >= 1,
             f'played {ok}; rc {rc}; ann {plays("ann")}; ANN {plays("ANN")}; said {[l[:100] for l in w.err][-3:]}')
    finally:
        stop_all(radios, mpd)
