"""clapsearch.Library and its index file: an index built from Python equals one built by the CLI;
a Library sees every change to its index, and says (never answers as done) an index replaced
under it; names that are not UTF-8; a Library in another folder, a spawned worker and another
process. (Split from test_library.py, whose queries answer as the CLI's --json does.)"""

import gc
import json
import os

import numpy as np
import pytest

import clapsearch
from conftest import case_dir, cli, cli_json, ffmpeg, make_music, white_path

MODEL = case_dir("tiny-unfused")


def test_index_from_python_equals_the_cli_index(lib, tmp_path):
    db = str(tmp_path / "python.db")
    seen = []
    summary = clapsearch.index(lib["music"], db=db, model=MODEL, progress=lambda *a: seen.append(a))
    assert summary["indexed"] == len(lib["files"]) and summary["errors"] == 0
    assert seen and seen[-1][0] == seen[-1][1] == len(lib["files"])
    mine = clapsearch.Library(db)
    theirs = clapsearch.Library(lib["db"])
    strip = lambda rows: [{k: v for k, v in r.items() if k != "track_id"} for r in rows]  # noqa: E731
    assert strip(mine.search("rain", k=0)) == strip(theirs.search("rain", k=0))
    # Again: nothing changed, nothing re-embedded.
    again = mine.index(lib["music"], progress=False)
    assert again["unchanged"] == len(lib["files"]) and again["indexed"] == 0


def test_progress_to_a_log_is_plain_lines(lib, tmp_path, capfd):
    """Hostile pass 8: progress=True to a stderr that is no terminal (a log file, a pipe) joined
    every update with \\r into one endless line. As the CLI does off a terminal: plain lines, at
    most one every 5 s, and the last one."""
    summary = clapsearch.index(lib["music"], db=str(tmp_path / "log.db"), model=MODEL, progress=True)
    err = capfd.readouterr().err
    n = len(lib["files"])
    assert summary["indexed"] == n
    assert "\r" not in err and "\x1b" not in err, repr(err)
    lines = [line for line in err.splitlines() if line.startswith("indexing ")]
    assert lines and lines[-1].startswith(f"indexing {n}/{n} files"), repr(err)
    assert all(" min of audio" in line for line in lines), repr(err)  # whole lines, none cut by another


def test_a_library_sees_every_change_to_its_index(tmp_path):
    """M5: a Library kept open answers as the index is now, after a `clapsearch index` that
    pruned, added, rebuilt (--rebuild) and changed the model (--rebuild --model), as a new
    Library and the CLI do."""
    music = str(tmp_path / "lv")
    a = ffmpeg(f"{music}/a.flac", '-f lavfi -i "sine=f=310:d=6"')
    c = ffmpeg(f"{music}/c.flac", '-f lavfi -i "anoisesrc=c=pink:d=6:a=0.3:r=48000:seed=5"')
    db = str(tmp_path / "lv.db")
    cli("index", music, "--db", db, "--model", MODEL, "--quiet")
    library = clapsearch.Library(db)
    lv = {"db": db}

    def same_as_now():
        fresh = clapsearch.Library(db)
        assert library.tracks() == fresh.tracks()
        first = library.tracks()[0]["track_id"]
        assert library.similar(first, k=0) == cli_json(lv, "similar", str(first), "-k", "0")
        assert library.search("x", k=0) == cli_json(lv, "search", "x", "-k", "0")
        assert all(r["path"] for r in library.search("x", k=0))

    assert sorted(t["path"] for t in library.tracks()) == [a, c]
    library.similar(a, k=0)  # the first snapshot in use
    os.remove(a)
    d = ffmpeg(f"{music}/d.flac", '-f lavfi -i "sine=f=870:d=7"')
    cli("index", music, "--db", db, "--quiet")  # a pruned, d added
    assert sorted(t["path"] for t in library.tracks()) == [c, d]
    same_as_now()
    cli("index", music, "--db", db, "--rebuild", "--quiet")  # the same files read again (ids kept)
    same_as_now()
    cli("index", music, "--db", db, "--rebuild", "--model", case_dir("tiny-fused"), "--quiet")  # another model
    same_as_now()
    assert library.search("x", k=1)[0]["path"] in (c, d)
    # The index file deleted and made again (what one does with a damaged index): the Library
    # read the deleted file on for ever, its tracks and their ids.
    for f in os.listdir(tmp_path):
        if f.startswith("lv.db"):
            os.remove(tmp_path / f)
    os.remove(c)
    e = ffmpeg(f"{music}/e.flac", '-f lavfi -i "sine=f=1200:d=7"')
    cli("index", music, "--db", db, "--model", MODEL, "--quiet")
    assert sorted(t["path"] for t in library.tracks()) == [d, e]
    same_as_now()


def test_file_names_that_are_not_utf8_round_trip(tmp_path, unfused):
    """L7: a name with the byte \\xe9 (Latin-1 'é') comes back as os.fsdecode gives it and
    names the same file when passed back."""
    from conftest import write_wav

    music = tmp_path / "names"
    music.mkdir()
    raw = os.fsencode(str(music)) + b"/caf\xe9.wav"
    rng = np.random.default_rng(7)
    write_wav(os.fsdecode(raw), (rng.standard_normal(48000 * 3) * 0.1).astype(np.float32), 48000)
    write_wav(str(music / "plain.wav"), (rng.standard_normal(48000 * 3) * 0.1).astype(np.float32), 48000)
    db = str(tmp_path / "names.db")
    events = []
    summary = clapsearch.index(str(music), db=db, model=MODEL, progress=False, on_file=lambda *e: events.append(e))
    assert summary["indexed"] == 2 and summary["errors"] == 0
    assert os.fsdecode(raw) in [path for _, path, _ in events]
    library = clapsearch.Library(db)
    named = [t for t in library.tracks() if t["path"].endswith(".wav") and "plain" not in t["path"]]
    assert len(named) == 1 and os.fsencode(named[0]["path"]) == raw
    path = named[0]["path"]
    assert [r["path"] for r in library.similar(path, k=0)] == [str(music / "plain.wav")]
    assert library.similar(path) == library.similar(named[0]["track_id"])
    assert [r["path"] for r in library.similar(str(music / "plain.wav"), k=0)] == [path]
    assert path in [r["path"] for r in library.search("x", k=0)]
    assert library.like(path, k=1)[0]["path"] == path
    np.testing.assert_array_equal(unfused.embed_audio_files([path]), unfused.embed_audio_files([raw]))
    assert clapsearch.load_audio(path).size == 48000 * 3


def test_a_callback_that_raises_stops_the_index_run(tmp_path):
    """An exception from on_file (or progress) ends index() between two files and is raised;
    it used to be raised only after every file had been indexed."""
    from conftest import write_wav

    music = tmp_path / "some"
    music.mkdir()
    rng = np.random.default_rng(11)
    for i in range(40):
        write_wav(str(music / f"{i:02d}.wav"), (rng.standard_normal(8000) * 0.1).astype(np.float32), 16000)
    db = str(tmp_path / "some.db")

    def on_file(kind, path, detail):
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        clapsearch.index(str(music), db=db, model=MODEL, progress=False, on_file=on_file, threads=1)
    assert len(clapsearch.Library(db).tracks()) < 40


@pytest.mark.parametrize("how", ["a copy moved over it", "deleted"])
def test_hostile19_an_index_replaced_while_index_runs_is_said_not_returned_as_done(tmp_path, how):
    """H19P-2: a copy moved over the index (a backup put back), or the index deleted, after the
    run's second file: index() returned {"indexed": 12} while the file at the name held 2 tracks
    (or was gone). It raises clapsearch.Error naming the replacement; indexing again fills the
    index there now."""
    import sqlite3
    from contextlib import closing

    from conftest import write_wav

    music = tmp_path / "some"
    music.mkdir()
    rng = np.random.default_rng(19)
    for i in range(12):
        write_wav(str(music / f"{i:02d}.wav"), (rng.standard_normal(8000) * 0.1).astype(np.float32), 16000)
    db = str(tmp_path / "some.db")
    lib = clapsearch.Library(db, MODEL)
    seen = []

    def on_file(kind, path, detail):
        seen.append(kind)
        if len(seen) == 2:
            if how == "deleted":
                os.remove(db)
            else:
                with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(db + ".copy")) as b:
                    a.backup(b)
                os.rename(db + ".copy", db)

    with pytest.raises(clapsearch.Error, match=r"the index file was replaced .* while this run indexed: the 12 files it "
                                               r"indexed went into the old file, not into the index there now; run the index again"):
        lib.index(str(music), progress=False, on_file=on_file, threads=1)
    if how == "deleted":
        assert not os.path.exists(db)
    else:
        assert len(clapsearch.Library(db).tracks()) == 2
    again = lib.index(str(music), progress=False, threads=1)
    assert len(clapsearch.Library(db).tracks()) == 12, again


def test_hostile7_library_index_takes_the_options_clapsearch_index_takes(tmp_path):
    # Hostile pass 7 (H7C-4): Library.index(paths, model=...) (or threads=, config=, tokenizer=)
    # raised Python's "clapsearch.index() got multiple values for keyword argument 'model'"
    # although the argument was given once; db= is this library's own.
    music = str(tmp_path / "music")
    make_music(music)
    db = str(tmp_path / "library.db")
    library = clapsearch.Library(db)
    summary = library.index(music, model=MODEL, threads=1, progress=False)
    assert summary["indexed"] > 0 and summary["errors"] == 0
    assert library.search("rain", k=1)
    with pytest.raises(clapsearch.InvalidInputError, match="own index"):
        library.index(music, db=str(tmp_path / "other.db"), progress=False)
    assert not os.path.exists(str(tmp_path / "other.db"))


def test_hostile9_a_library_and_a_model_go_to_a_spawned_worker(lib):
    """H9P-4: a Model or Library passed to a multiprocessing worker started by spawn (macOS's
    and Windows' default; forkserver, Linux's from Python 3.14, pickles too) raised
    "cannot pickle 'clapsearch._clapsearch._Model' object". They are pickled as what loads them."""
    import multiprocessing
    import pickle

    model = clapsearch.Model(MODEL, threads=1)
    library = clapsearch.Library(lib["db"], exclude_rule="")
    again = pickle.loads(pickle.dumps(model))
    assert repr(again) == repr(model)
    np.testing.assert_array_equal(again.embed_text("rain"), model.embed_text("rain"))
    opened = pickle.loads(pickle.dumps(library))
    assert opened.search("rain") == library.search("rain")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        got = pool.apply(_search_in_worker, (library, model))
    assert got[0] == library.search("rain", k=3)
    np.testing.assert_array_equal(got[1], model.embed_text("rain"))


def _search_in_worker(library, model):
    return library.search("rain", k=3), model.embed_text("rain")


def test_hostile10_a_library_keeps_its_index_when_the_script_changes_folder(lib, tmp_path, monkeypatch):
    """Library("lib.db") kept the name relative: after os.chdir, Library.index() indexed into
    another lib.db (of the new folder, with the default model), a library whose index did not
    exist yet was opened in the new folder, and one pickled to a worker in another folder opened
    "/lib.db: no index here". The same for a Model named by a relative folder."""
    import pickle

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    white = white_path(lib)
    monkeypatch.chdir(first)
    clapsearch.index(white, db="rel.db", model=MODEL, progress=False)
    library = clapsearch.Library("rel.db")
    waiting = clapsearch.Library("later.db", model=os.path.relpath(MODEL))
    model = clapsearch.Model(os.path.relpath(MODEL))
    saved = pickle.dumps((library, model))
    monkeypatch.chdir(second)
    library.index(os.path.join(lib["music"], "pink.ogg"), progress=False)
    assert len(library.tracks()) == 2 and not (second / "rel.db").exists()
    assert library.db_path == str(first / "rel.db")
    waiting.index(white, progress=False)
    assert (first / "later.db").exists() and not (second / "later.db").exists()
    monkeypatch.chdir("/")
    library2, model2 = pickle.loads(saved)
    assert len(library2.tracks()) == 2
    np.testing.assert_array_equal(model2.embed_text("rain"), model.embed_text("rain"))
    # A hub id is not a path: it stays as given.
    assert clapsearch._checks._here(b"laion/clap-htsat-unfused") == b"laion/clap-htsat-unfused"


def test_hostile13_a_library_closed_in_another_process_keeps_what_serve_wrote_to_a_copy_put_back(lib, tmp_path):
    """H13P-2: a backup put back with a rename (docs/operations.md, Backup) under a running serve
    and a Python Library of the same index in another process, idle: the server opened the copy
    and starred three songs into it; when the script dropped its Library (or ended), its old
    file's connection emptied the WAL at the name, the copy's, into the old file: the stars were
    gone from the copy and the server answered none. The WAL of a file another process has open
    is that file's and is left alone; and the server opens the copy only once the Library has
    closed the old file (H13S-1), so nothing it writes can be taken away."""
    import socket
    import sqlite3
    import subprocess
    import time
    import urllib.request
    from contextlib import closing

    from conftest import CLI

    db = str(tmp_path / "library.db")
    with closing(sqlite3.connect(lib["db"])) as a, closing(sqlite3.connect(db)) as b:
        a.backup(b)
    subprocess.run([CLI, "user", "add", "bob", "--db", db, "--password-file", "-"], input="secret-pw\n", text=True,
                   capture_output=True, check=True)
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def rest(call):
        url = f"http://127.0.0.1:{port}/rest/{call}{'&' if '?' in call else '?'}u=bob&p=secret-pw&f=json&v=1.16.1&c=t"
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return json.load(r)["subsonic-response"]
        except OSError as e:
            return {"status": f"no answer: {e}"}

    def stars():
        with closing(sqlite3.connect(db)) as c:
            return c.execute("select count(*) from stars").fetchone()[0]

    serve = subprocess.Popen([CLI, "serve", "--db", db, "--host", "127.0.0.1", "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):  # an upper bound for the server to start, not a timing check
            if rest("ping")["status"] == "ok" or serve.poll() is not None:
                break
            time.sleep(0.1)
        songs = [s["id"] for s in rest("search3?query=&songCount=3")["searchResult3"]["song"]]
        library = clapsearch.Library(db)
        library.search("a tone", k=1)  # the Library has the file open; it stays idle from here
        with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(db + ".copy")) as b:
            a.backup(b)
        os.rename(db + ".copy", db)
        # While the Library holds the old file (its -shm at the name in use) the server does not
        # open the copy (H13S-1: the two would share that WAL); it says why.
        # (First, for a moment, it waits for its own connections to the old file to close.)
        refused = {}
        for _ in range(300):  # until the server has seen the copy; an upper bound, not a timing check
            refused = rest("getStarred2")
            if "another process still has the index file" in refused.get("error", {}).get("message", ""):
                break
            time.sleep(0.1)
        assert refused["status"] == "failed", refused
        assert "another process still has the index file" in refused["error"]["message"], refused
        del library
        gc.collect()
        for _ in range(300):  # until the server has opened the copy
            if rest("getStarred2")["status"] == "ok":
                break
            time.sleep(0.1)
        assert [rest(f"star?id={song}")["status"] for song in songs] == ["ok"] * 3
        assert stars() == 3
        assert len(rest("getStarred2")["starred2"].get("song", [])) == 3
    finally:
        serve.terminate()
        serve.communicate(timeout=60)
    assert stars() == 3
