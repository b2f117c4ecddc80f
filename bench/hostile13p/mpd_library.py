"""The set-up the MPD generators of hostile passes 13 and 14 share: the check line, and a music
folder of sine tones (one per name) indexed with the given model, with a user ann."""
import os, subprocess


def case(name, ok, detail):
    print(f"{'HELD' if ok else 'FOUND'} {name}: {detail}", flush=True)


def tone_library(binary, model, tmp, names):
    """(music, db, env): `names` made as 4 s tones in tmp/music, indexed into tmp/index.db."""
    music, db = os.path.join(tmp, 'music'), os.path.join(tmp, 'index.db')
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    env.pop('CLAPSEARCH_DB', None)
    os.makedirs(music)
    for i, n in enumerate(names):
        subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', f'sine=f={200 + 90 * i}:d=4',
                        '-f', 'flac', os.path.join(music, n)], check=True)
    subprocess.run([binary, 'index', music, '--db', db, '--model', model, '-q'], env=env, check=True)
    subprocess.run([binary, 'user', 'add', 'ann', '--db', db], input='pw\n', text=True, env=env, check=True, capture_output=True)
    return music, db, env


def stop_all(radios, mpd):
    """The radios still running killed, then MPD stopped (a generator's `finally`)."""
    for r in radios:
        if r.process.poll() is None:
            r.process.kill()
            r.process.wait()
    mpd.stop()
