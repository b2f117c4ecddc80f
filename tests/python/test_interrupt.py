"""Ctrl-C stops a long call (L5): the engine's loops give Python's signal handlers a chance
between batches (embed_text, embed_audio, and the windows of one long file in embed_song and
embed_audio_files) and between files (index), so a KeyboardInterrupt
comes within about one batch, not when the call would have ended minutes later.

Each call runs in a child interpreter, told to start a call that would run for minutes and
sent SIGINT a second into it; it must end with KeyboardInterrupt well before the call could
have finished (the limit below is a generous bound on "one batch and the interpreter's exit",
not a measure of speed)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import case_dir

# Each call below takes minutes to finish on this machine's two cores; stopping it takes one
# batch or one file (a fraction of a second) plus the interpreter's exit.
ENDS_WITHIN_S = 30

PRELUDE = f"""
import sys
import numpy as np
import clapsearch
model = clapsearch.Model({case_dir("tiny-unfused")!r}, threads=1)
"""


def interrupted(body):
    child = subprocess.Popen([sys.executable, "-c", PRELUDE + body], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "go", child.stderr.read()
        time.sleep(1.0)
        child.send_signal(signal.SIGINT)
        rest, err = child.communicate(timeout=ENDS_WITHIN_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail(f"the call went on for {ENDS_WITHIN_S} s after Ctrl-C")
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err, err
    assert "finished" not in rest, rest
    return err


def test_ctrl_c_stops_embed_text():
    interrupted("""
texts = [f"text number {i}" for i in range(400000)]
print("go", flush=True)
model.embed_text(texts, batch=16)
print("finished", flush=True)
""")


def test_ctrl_c_stops_embed_audio():
    interrupted("""
clips = np.random.default_rng(1).standard_normal((8000, 2400)).astype(np.float32) * 0.1
print("go", flush=True)
model.embed_audio(clips, 48000, batch=8)
""")


def test_ctrl_c_stops_embed_audio_at_another_rate():
    interrupted("""
clips = np.random.default_rng(1).standard_normal((8000, 2205)).astype(np.float32) * 0.1
print("go", flush=True)
model.embed_audio(clips, 44100, batch=8)
""")


def noise_files(tmp_path, name, count, samples, seed):
    """A folder `name` of `count` WAV files of white noise (`samples` at 16 kHz each, from `seed`)."""
    from conftest import write_wav
    import numpy as np

    music = tmp_path / name
    music.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        write_wav(str(music / f"{i:03d}.wav"), (rng.standard_normal(samples) * 0.1).astype(np.float32), 16000)
    return music


def small_index(tmp_path, name, seed, **options):
    """The index (its path) of three noise files of one second, made by clapsearch.index."""
    import clapsearch

    music = noise_files(tmp_path, name, 3, 16000, seed)
    db = str(tmp_path / f"{name}.db")
    clapsearch.index(str(music), db=db, model=case_dir("tiny-unfused"), progress=False, threads=1, **options)
    return db


def test_ctrl_c_stops_an_index_run_between_files(tmp_path):
    music = noise_files(tmp_path, "many", 600, 8000, 3)
    db = str(tmp_path / "many.db")
    interrupted(f"""
def progress(done, *rest):
    if done == 1:  # the first file stored
        print("go", flush=True)
clapsearch.index({str(music)!r}, db={db!r}, model={case_dir("tiny-unfused")!r}, progress=progress, threads=1)
""")
    # Every file finished before the interruption is stored: the index opens and holds them.
    import clapsearch

    tracks = clapsearch.Library(db).tracks()
    assert 0 < len(tracks) < 600


def test_ctrl_c_stops_a_library_search_of_many_texts(tmp_path):
    # Library.search takes a list of queries; each is embedded and ranked, and a long list runs
    # for minutes: Ctrl-C must stop it between parts, not when the last query is ranked.
    db = small_index(tmp_path, "few", 4)
    interrupted(f"""
lib = clapsearch.Library({db!r}, threads=1)
texts = [f"query number {{i}}" for i in range(400000)]
print("go", flush=True)
lib.search(texts, k=1)
print("finished", flush=True)
""")


def long_song(tmp_path):
    # 20 minutes of a sweeping tone (FLAC compresses it to little): with a 0.5 s hop (the least
    # taken) that is 2,400 windows, minutes of model time on two cores; one batch takes a fraction
    # of a second.
    from conftest import ffmpeg

    path = str(tmp_path / "long.flac")
    ffmpeg(path, '-f lavfi -i "aevalsrc=0.3*sin(2*PI*(200+100*sin(t/7))*t):d=1200:s=16000" -c:a flac')
    return path


def test_ctrl_c_stops_embed_song_within_one_long_file(tmp_path):
    # L5: one long file was one uninterruptible call (its windows were embedded in one go); the
    # windows are now embedded a batch at a time with Python's signal handlers run in between,
    # and during the decode about every second of audio.
    path = long_song(tmp_path)
    interrupted(f"""
print("go", flush=True)
model.embed_song({path!r}, window=10.0, hop=0.5, batch=4)
print("finished", flush=True)
""")


def test_ctrl_c_stops_embed_audio_files_within_one_long_file(tmp_path):
    path = long_song(tmp_path)
    interrupted(f"""
print("go", flush=True)
model.embed_audio_files([{path!r}], hop=0.5, batch=4)
print("finished", flush=True)
""")


def test_hostile10_ctrl_c_stops_a_library_query_or_seed_file(tmp_path):
    # H10P-9: the query file of like() and similar(), and a seed file of search() or similar(), is
    # decoded and embedded whole by the library (service::Library::embed_file), which ran without
    # a stop check: SIGINT 3 s into like() of a one-hour file came as KeyboardInterrupt at 134 s,
    # when the call ended (similar 164 s, search with the file as a seed 141 s).
    path = long_song(tmp_path)
    # A 0.5 s hop (the index's least): the library cuts a query file as the index was cut.
    db = small_index(tmp_path, "three", 5, hop=0.5)
    for call in (f"lib.like({path!r})", f"lib.similar({path!r})", f"lib.search('x', seeds=[{path!r}])",
                 f"lib.similar(seeds=[{path!r}], nots=['rain'])"):
        interrupted(f"""
lib = clapsearch.Library({db!r}, threads=1)
print("go", flush=True)
{call}
print("finished", flush=True)
""")
