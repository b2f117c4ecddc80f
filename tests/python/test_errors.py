"""Bad input gives clear exceptions (clapsearch.Error, FileNotFoundError / ValueError
subclasses with the CLI's messages), never a crash."""

import os

import numpy as np
import pytest

import clapsearch
from conftest import case_dir, golden_clip


def test_exception_hierarchy():
    assert issubclass(clapsearch.NotFoundError, clapsearch.Error)
    assert issubclass(clapsearch.NotFoundError, FileNotFoundError)
    assert issubclass(clapsearch.InvalidInputError, clapsearch.Error)
    assert issubclass(clapsearch.InvalidInputError, ValueError)


def test_model_not_found_and_bad_options():
    with pytest.raises(FileNotFoundError, match="no such model folder"):
        clapsearch.Model("/nonexistent/model")
    with pytest.raises(clapsearch.Error, match="not a model folder|config.json|model.safetensors"):
        clapsearch.Model(os.path.dirname(case_dir("tiny-unfused")))
    with pytest.raises(ValueError, match="precision"):
        clapsearch.Model(case_dir("tiny-unfused"), precision="fp16")
    with pytest.raises(ValueError, match="threads"):
        clapsearch.Model(case_dir("tiny-unfused"), threads=0)


@pytest.mark.parametrize(
    "data, sr, message",
    [
        (np.zeros(48000, dtype=np.float64), 48000, "float32"),
        (np.zeros(48000, dtype=np.int16), 48000, "float32"),
        (np.zeros((2, 3, 4), dtype=np.float32), 48000, "1-D .* or 2-D"),
        (np.zeros(0, dtype=np.float32), 48000, "0 samples"),
        (np.zeros((0, 100), dtype=np.float32), 48000, "empty batch"),
        (np.full(48000, np.nan, dtype=np.float32), 48000, "not finite"),
        (np.array([0.0, np.inf], dtype=np.float32), 48000, "not finite"),
        (np.zeros(48000, dtype=np.float32), 0, "sample rate"),
        (np.zeros(48000, dtype=np.float32), -44100, "sample rate"),
    ],
)
def test_bad_audio(unfused, data, sr, message):
    with pytest.raises(ValueError, match=message):
        unfused.embed_audio(data, sr)


def test_bad_audio_types_and_lists(unfused, tmp_path):
    with pytest.raises(ValueError, match="numpy array"):
        unfused.embed_audio([0.0] * 100, 48000)
    with pytest.raises(ValueError, match="no texts"):
        unfused.embed_text([])
    with pytest.raises(ValueError, match="str"):
        unfused.embed_text(["ok", 3])
    with pytest.raises(ValueError, match="no files"):
        unfused.embed_audio_files([])
    with pytest.raises(FileNotFoundError, match="no such file"):
        unfused.embed_audio_files(["/nonexistent/a.flac"])
    with pytest.raises(FileNotFoundError):
        unfused.embed_song("/nonexistent/a.flac")
    with pytest.raises(ValueError, match="sr"):
        unfused.embed_song(golden_clip("a"))
    with pytest.raises(ValueError, match="window"):
        unfused.embed_song(golden_clip("a"), 48000, window=0)
    with pytest.raises(clapsearch.Error, match="longer than the model"):
        unfused.embed_song(golden_clip("a"), 48000, window=20)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"this is not audio" * 100)
    with pytest.raises(clapsearch.Error, match="junk.mp3"):
        unfused.embed_audio_files([str(junk)])
    with pytest.raises(FileNotFoundError):
        clapsearch.load_audio("/nonexistent/a.flac")
    with pytest.raises(ValueError, match="batch"):
        unfused.embed_text("x", batch=0)
    # The model still works after every refusal.
    assert unfused.embed_text("still fine").shape == (1, 512)


def test_index_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        clapsearch.index("/nonexistent/music", db=str(tmp_path / "x.db"), model=case_dir("tiny-unfused"))
    with pytest.raises(ValueError, match="progress"):
        clapsearch.index(str(tmp_path), db=str(tmp_path / "x.db"), progress="yes")


# --- M3: threads beyond the CLI's range crashed the interpreter (OpenMP per-thread state).


@pytest.mark.parametrize("threads", [0, -1, 1025, 100000, 2**31 - 1, 2**70, True, 2.5, "4"])
def test_threads_out_of_range_are_refused_everywhere(tmp_path, threads):
    with pytest.raises(clapsearch.InvalidInputError, match="threads"):
        clapsearch.Model(case_dir("tiny-unfused"), threads=threads)
    with pytest.raises(clapsearch.InvalidInputError, match="threads"):
        clapsearch.Library(str(tmp_path / "x.db"), threads=threads)
    with pytest.raises(clapsearch.InvalidInputError, match="threads"):
        clapsearch.index(str(tmp_path), db=str(tmp_path / "x.db"), model=case_dir("tiny-unfused"), threads=threads)
    from clapsearch import laion_clap

    with pytest.raises(clapsearch.InvalidInputError, match="threads"):
        laion_clap.CLAP_Module(threads=threads)


def test_the_largest_thread_count_works():
    model = clapsearch.Model(case_dir("tiny-unfused"), threads=clapsearch.MAX_THREADS)
    assert model.embed_text("a").shape == (1, 512)


# --- L20: sample rates and texts are checked before the engine sees them: InvalidInputError
# naming the argument, never an internal file name or pybind11's C++ signature.


@pytest.mark.parametrize("sr", [1, 999, 0, -1, 1000001, 2**40, 2**70, True, False, 48000.5, "48000", None])
def test_bad_sample_rates_are_invalid_input_everywhere(unfused, sr, tmp_path):
    clip = golden_clip("a")
    calls = [
        lambda: unfused.embed_audio(clip, sr),
        lambda: unfused.embed_song(clip, sr),
        lambda: clapsearch.load_audio(write_wav_once(tmp_path), sr),
    ]
    for call in calls:
        with pytest.raises(clapsearch.InvalidInputError, match=r"\bsr\b") as e:
            call()
        message = str(e.value)
        assert "/tmp" not in message and "/proc" not in message and "incompatible" not in message, message


def write_wav_once(tmp_path):
    from conftest import write_wav

    path = tmp_path / "one.wav"
    if not path.exists():
        write_wav(str(path), golden_clip("a"), 48000)
    return str(path)


def test_integral_rates_of_any_number_type_are_taken(unfused):
    clip = golden_clip("b")
    ref = unfused.embed_audio(clip, 44100)
    np.testing.assert_array_equal(unfused.embed_audio(clip, 44100.0), ref)
    np.testing.assert_array_equal(unfused.embed_audio(clip, np.int64(44100)), ref)
    assert clapsearch.MIN_SAMPLE_RATE == 1000
    assert unfused.embed_audio(clip[:1000], clapsearch.MIN_SAMPLE_RATE).shape == (1, 512)


def test_texts_that_are_not_unicode_and_other_type_mistakes_are_clear(unfused, tmp_path):
    cases = [
        (lambda: unfused.embed_text("caf\udce9"), "not valid Unicode"),
        (lambda: unfused.embed_text(["ok", "\ud800"]), "text 1 is not valid Unicode"),
        (lambda: unfused.embed_text("x", batch=2**70), "batch"),
        (lambda: unfused.embed_text("x", batch=True), "batch"),
        (lambda: unfused.embed_audio(golden_clip("a"), batch=1.5), "batch"),
        (lambda: unfused.embed_audio_files([str(tmp_path / "a\0b.wav")]), "NUL"),
        (lambda: unfused.embed_audio_files([3]), "path"),
        (lambda: unfused.embed_song(golden_clip("a"), 48000, window="10"), "window"),
        (lambda: unfused.embed_song(write_wav_once(tmp_path), 48000), "sr goes with an array"),
    ]
    for call, message in cases:
        with pytest.raises(clapsearch.InvalidInputError, match=message) as e:
            call()
        assert "incompatible function arguments" not in str(e.value)


# --- Rough edge 9: a Library refuses what cannot be an index when it is made, not at the first query.


def test_a_library_checks_its_database_and_rule_when_made(tmp_path):
    with pytest.raises(clapsearch.InvalidInputError, match="a folder, not an index"):
        clapsearch.Library(str(tmp_path))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a SQLite database" * 100)
    with pytest.raises(clapsearch.Error, match="garbage.db"):
        clapsearch.Library(str(garbage))
    with pytest.raises(clapsearch.InvalidInputError, match="exclude_rule"):
        clapsearch.Library(str(tmp_path / "new.db"), exclude_rule="genre ==")
    with pytest.raises(clapsearch.InvalidInputError, match="exclude_rule"):
        clapsearch.Library(str(tmp_path / "new.db"), exclude_rule="caf\udce9")
    # An index that does not exist yet is fine until used (index() may create it).
    later = clapsearch.Library(str(tmp_path / "new.db"))
    with pytest.raises(clapsearch.Error, match="no index"):
        later.search("x")


def test_left53_every_float_argument_of_a_model_refuses_nan_infinity_and_out_of_range(unfused, tmp_path):
    # Hostile pass 7 leftover: embed_song(silence_db=NaN) was taken (nothing judged silent, where
    # the CLI refuses --silence-db nan), and embed_audio_files(hop=1e-300) said "window and hop
    # must be positive" (zero samples). Each float argument now names itself and its range.
    song = np.zeros(48000 * 2, dtype=np.float32)
    song[::7] = 0.5
    for bad in (float("nan"), float("inf"), -1e300, 5):
        with pytest.raises(clapsearch.InvalidInputError, match=r"silence_db must be in \[-200, 0\]"):
            unfused.embed_song(song, 48000, silence_db=bad)
    for name in ("window", "hop"):
        for bad in (float("nan"), float("inf"), float("-inf")):
            with pytest.raises(clapsearch.InvalidInputError, match=f"{name} must be a finite number"):
                unfused.embed_song(song, 48000, **{name: bad})
    with pytest.raises(clapsearch.InvalidInputError, match=r"window must be at least one sample \(1/48000 s\)"):
        unfused.embed_song(song, 48000, window=1e-300)
    with pytest.raises(clapsearch.InvalidInputError, match=r"hop must be at least 0.5 s"):
        unfused.embed_song(song, 48000, hop=1e-300)
    wav = write_wav_once(tmp_path)
    # (1e-300 and -5 were "at least one sample"; the bound is the CLI's 0.5 s since hostile pass 9.)
    for bad, message in ((float("nan"), "hop must be a finite number"), (1e-300, r"hop must be at least 0.5 s"),
                         (-5, r"hop must be at least 0.5 s"), (10**400, "hop must be a finite number")):
        with pytest.raises(clapsearch.InvalidInputError, match=message):
            unfused.embed_audio_files([wav], hop=bad)


def test_c9_a_tilde_path_is_named_with_expanduser(tmp_path, monkeypatch, unfused):
    """docs/python.md's own example once passed "~/.local/share/clapsearch/library.db": Python
    does not expand "~", so the Library waited and then said "no index here" at "<cwd>/~/...".
    Every path argument now names such a path at once, with the way out."""
    monkeypatch.chdir(tmp_path)
    calls = {
        "Library": lambda: clapsearch.Library("~/.local/share/clapsearch/library.db"),
        "load_audio": lambda: clapsearch.load_audio("~/Music/a.flac"),
        "embed_audio_files": lambda: unfused.embed_audio_files(["~/Music/a.flac"]),
        "Model": lambda: clapsearch.Model("~/models/my-clap"),
        "index": lambda: clapsearch.index(["~/Music"], db=str(tmp_path / "x.db"), model=case_dir("tiny-unfused")),
    }
    for name, call in calls.items():
        with pytest.raises(clapsearch.NotFoundError, match=r"expand '~'.*os\.path\.expanduser") as e:
            call()
        assert "~/" in str(e.value), (name, str(e.value))
    # A folder really named "~" is still a path like any other.
    (tmp_path / "~").mkdir()
    with pytest.raises(clapsearch.Error, match="no index here"):
        clapsearch.Library("~/library.db").tracks()
    assert not (tmp_path / "~" / "library.db").exists()


def test_hostile9_a_view_too_large_to_copy_raises_memoryerror_not_a_segfault():
    """H9P-1: a broadcast view (a few bytes, 1 PiB once copied to C order) given to embed_audio,
    embed_song, Library.like or search_vectors: numpy's copy fails and pybind11's ensure()
    returns null, which was read: the interpreter died of SIGSEGV."""
    model = clapsearch.Model(case_dir("tiny-unfused"))
    huge = np.broadcast_to(np.zeros(1, np.float32), (1 << 20, 1 << 28))
    with pytest.raises(MemoryError):
        model.embed_audio(huge)
    with pytest.raises(MemoryError):
        model.embed_audio(np.broadcast_to(np.float32(0), (1 << 48,)), sr=44100)
    with pytest.raises(MemoryError):
        model.embed_song(np.broadcast_to(np.float32(0), (1 << 48,)), sr=48000)


def test_hostile9_an_empty_path_is_named_as_empty():
    """H9P-3: load_audio("") (an unset variable) said ": no such file", naming nothing."""
    model = clapsearch.Model(case_dir("tiny-unfused"))
    with pytest.raises(clapsearch.InvalidInputError, match=r"^load_audio: an empty path"):
        clapsearch.load_audio("")
    with pytest.raises(clapsearch.InvalidInputError, match=r"^embed_audio_files: an empty path"):
        model.embed_audio_files(["a.wav", ""])
    with pytest.raises(clapsearch.InvalidInputError, match=r"^embed_song: an empty path"):
        model.embed_song(b"")


def test_hostile9_config_is_a_copy_all_the_way_down():
    """Model.config returned a shallow copy: editing its "features" changed the model's own."""
    model = clapsearch.Model(case_dir("tiny-unfused"))
    cfg = model.config
    cfg["features"]["sampling_rate"] = 1
    assert model.config["features"]["sampling_rate"] != 1


def test_hostile10_a_stereo_array_is_named_as_frames_by_channels(unfused):
    """np.zeros((48000, 2)) (a second of stereo as soundfile.read gives it) was 48000 clips of 2
    samples: 48000 model runs (the case timed out at 90 s) and (48000, 512) meaningless rows."""
    for shape in ((48000, 2), (480000, 6), (9, 8)):
        with pytest.raises(clapsearch.InvalidInputError, match=rf"audio has shape \({shape[0]}, {shape[1]}\).*\(frames, channels\)"):
            unfused.embed_audio(np.zeros(shape, np.float32) + 0.1)
    # Batches of clips (rows at least as many samples as there are rows, or longer than 8) are batches.
    assert unfused.embed_audio(np.full((3, 5), 0.1, np.float32), sr=1000).shape == (3, 512)
    assert unfused.embed_audio(np.full((10, 9), 0.1, np.float32), sr=1000).shape == (10, 512)
    assert unfused.embed_audio(np.full((8, 8), 0.1, np.float32), sr=1000).shape == (8, 512)


def test_hostile10_a_chunk_beyond_int64_samples_is_named_too_long(unfused, tmp_path):
    """window=1e300 (embed_song) and like(chunk=1e300): llround of the length is out of range, so
    the length check passed and the call said "chunk and hop must be at least one sample long"."""
    from conftest import write_wav

    song = write_wav(str(tmp_path / "a.wav"), np.full(48000 * 3, 0.1, np.float32), 48000)
    for window in (1e300, 1e15, 1e9):
        with pytest.raises(clapsearch.Error, match=r"chunks of [0-9.e+]+ s are longer than the model's input \(10.00 s\)"):
            unfused.embed_song(song, window=window, hop=1)


# --- hostile pass 9's rough edges


def test_hostile9_a_hop_under_the_clis_bound_is_refused(unfused, tmp_path):
    """embed_song(hop=1/48000) and embed_audio_files(hop=0.001) took a hop of one sample: a 3 s
    clip was 144,000 model runs. The bound is the CLI's (index/embed/like --hop: 0.5 s)."""
    assert clapsearch.MIN_HOP_SECONDS == 0.5
    song = np.zeros(48000 * 3, dtype=np.float32)
    song[::7] = 0.5
    wav = write_wav_once(tmp_path)
    for hop in (1 / 48000, 0.001, 0.49):
        with pytest.raises(clapsearch.InvalidInputError, match=r"hop must be at least 0.5 s, as the CLI's --hop"):
            unfused.embed_song(song, 48000, hop=hop)
        with pytest.raises(clapsearch.InvalidInputError, match=r"hop must be at least 0.5 s"):
            unfused.embed_audio_files([wav], hop=hop)
    assert unfused.embed_song(song, 48000, hop=0.5)["windows"].shape[0] >= 1


def test_hostile9_samples_that_overflow_when_resampled_are_named_as_such(unfused):
    """Samples near 3e38 at another rate overflow the resampler: the message said "audio samples
    that are not numbers (NaN or infinity): damaged file"; it says what happened."""
    clip = np.full(44100 * 2, 3e38, dtype=np.float32)
    clip[::2] = -3e38
    with pytest.raises(clapsearch.Error, match=r"audio samples too large to resample from 44100 Hz") as raised:
        unfused.embed_audio(clip, sr=44100)
    assert "NaN" not in str(raised.value)
    # NaN given is still named as NaN.
    clip[5] = np.nan
    with pytest.raises(clapsearch.Error, match="NaN"):
        unfused.embed_audio(clip, sr=44100)


def test_hostile9_not_found_errors_carry_errno_and_filename(tmp_path):
    """NotFoundError is a FileNotFoundError: its filename and errno were None."""
    import errno

    missing = str(tmp_path / "nope.wav")
    with pytest.raises(FileNotFoundError) as raised:
        clapsearch.load_audio(missing)
    assert raised.value.filename == missing
    assert raised.value.errno == errno.ENOENT
    assert str(raised.value) == f"{missing}: no such file"  # the message as before, not "[Errno 2] ..."
    with pytest.raises(clapsearch.NotFoundError) as raised:
        clapsearch.load_audio("~nobody-here/x.wav")
    assert raised.value.filename == "~nobody-here/x.wav" and raised.value.errno == errno.ENOENT


def test_hostile9_threads_that_cannot_start_raise_and_the_interpreter_lives(tmp_path):
    """Model(threads=1024) under a 6 GiB address-space limit ended the interpreter in libgomp
    ("Thread creation failed", status 1): 1,024 stacks of 8 MB do not fit. It raises now."""
    import subprocess
    import sys

    code = f"""
import resource
import clapsearch
stack = resource.getrlimit(resource.RLIMIT_STACK)
resource.setrlimit(resource.RLIMIT_STACK, (8 << 20, stack[1]))
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))
try:
    clapsearch.Model({case_dir("tiny-unfused")!r}, threads=1024).embed_text("a")
    print("ran")
except clapsearch.Error as e:
    print("error:", e)
print("alive")
"""
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    assert "alive" in child.stdout, child.stdout + child.stderr
    assert "error: cannot run 1024 threads: only" in child.stdout, child.stdout + child.stderr
    assert "give fewer threads" in child.stdout


# --- hostile pass 10's rough edges


def test_hostile10_a_config_that_is_not_json_is_named_in_words(tmp_path):
    """Model(config="/etc/passwd") said "[json.exception.parse_error.101] parse error at line 1,
    column 1: syntax error while parsing value - invalid literal; last read: 'r'"."""
    config = tmp_path / "config.json"
    config.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(clapsearch.Error) as raised:
        clapsearch.Model(case_dir("tiny-unfused"), config=str(config))
    message = str(raised.value)
    assert "json.exception" not in message and str(config) in message, message
    assert "invalid JSON (line 1, column 1: not JSON here" in message, message


def test_hostile10_a_hop_longer_than_the_window_is_refused(unfused, tmp_path):
    """embed_song(window=2, hop=5) cut windows at 0, 5, 10 ending 2, 7, 10 (gaps, a last window of
    0 s) where index refuses --hop longer than --window; embed_audio_files(hop=20) left out the
    audio between its 10 s windows."""
    from conftest import write_wav

    song = write_wav(str(tmp_path / "a.wav"), np.full(48000 * 10, 0.1, np.float32), 48000)
    with pytest.raises(clapsearch.InvalidInputError, match=r"^hop 5 s is longer than window 2 s"):
        unfused.embed_song(song, window=2, hop=5)
    with pytest.raises(clapsearch.InvalidInputError, match=r"^window 0.5 s: at least 1 s"):
        unfused.embed_song(song, window=0.5, hop=0.5)
    with pytest.raises(clapsearch.InvalidInputError, match=r"^hop 20 s is longer than the model's window 10 s"):
        unfused.embed_audio_files([song], hop=20)
    windows = unfused.embed_song(song, window=2, hop=2)
    assert list(windows["ends"][:2]) == [2.0, 4.0]


def test_hostile11_embed_song_names_samples_in_another_container_as_samples(unfused):
    """H11P-6 (the sibling of Library.like's): embed_song([0.1] * 4800, sr=48000) said "sr goes
    with an array of samples (a file is decoded at its own rate)", as if the list were a file."""
    import array

    for samples in ([0.1] * 4800, array.array("f", [0.1] * 4800)):
        with pytest.raises(clapsearch.InvalidInputError, match=r"embed_song: samples must be a float32 numpy array \(got (list|array)\)"):
            unfused.embed_song(samples, sr=48000)


def test_hostile12_a_str_subclass_cannot_hide_a_lone_surrogate(unfused, tmp_path):
    """H12P-2: a str subclass whose encode() says all is well took a lone surrogate past the check
    to pybind11, which refused the call with its C++ signature ("Invoked with: ...")."""

    class Lying(str):
        def encode(self, *args, **kwargs):
            return b"fine"

    with pytest.raises(clapsearch.InvalidInputError, match="lone surrogate") as raised:
        unfused.embed_text([Lying("ab\ud800")])
    assert "Invoked with" not in str(raised.value)
    assert unfused.embed_text([Lying("rain")]).tolist() == unfused.embed_text(["rain"]).tolist()


def test_hostile12_clips_of_no_samples_are_not_a_recording_of_no_channels(unfused):
    """H12P-4: embed_audio(np.zeros((3, 0))) said "(3, 0) looks like one recording of 0 channel(s)
    as (frames, channels): pass mono samples"; it is three clips of no samples."""
    with pytest.raises(clapsearch.InvalidInputError, match="0 samples") as raised:
        unfused.embed_audio(np.zeros((3, 0), np.float32))
    assert "channel" not in str(raised.value), raised.value


def test_hostile12_a_hub_model_not_cached_while_offline_is_not_found(tmp_path, monkeypatch):
    """H12P-10: Model's docstring says a hub id that is not cached while offline raises
    NotFoundError (docs/python.md: a missing model); it raised a plain clapsearch.Error."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for model in ("nosuchorg/nosuchmodel", "nosuchorg/nosuchmodel@v2"):
        with pytest.raises(clapsearch.NotFoundError, match="not in the Hugging Face cache") as raised:
            clapsearch.Model(model)
        assert isinstance(raised.value, FileNotFoundError), raised.value


# --- hostile pass 21


def _dummy_arguments(doc):
    """Arguments of the right types for a native method, read from pybind11's signature line."""
    import re

    signature = doc.splitlines()[0]
    params = signature[signature.index("(") + 1 : signature.rindex(")")].split(", ")[1:]  # not self
    made = {"List[str]": ["a"], "int": 1, "str": "", "float": 0.5, "bool": False,
            "numpy.ndarray": np.zeros((1, 4), np.float32)}
    args = []
    for p in params:
        kind = re.sub(r" = .*$", "", p.split(": ", 1)[1])
        assert kind in made, f"no dummy argument for {kind!r} in {signature}"
        args.append(made[kind])
    return args


def test_hostile21_a_native_object_made_without_init_raises_typeerror_not_a_crash():
    """H20P-3: `_Library.__new__(_Library)` (or `_Model`) then a method ended the interpreter:
    SIGABRT in a mutex, or "cannot run 206742458 threads" (pybind11 allocates a never-constructed
    C++ object for such an instance). Every method and property of both native classes raises a
    TypeError saying so. Each call runs in its own process (a crash there fails the case)."""
    import subprocess
    import sys

    from clapsearch import _clapsearch as native

    calls = []
    for cls in (native._Library, native._Model):
        for name, member in vars(cls).items():
            if name.startswith("__"):
                continue
            if isinstance(member, property):
                calls.append((cls.__name__, name, None))
            else:
                calls.append((cls.__name__, name, _dummy_arguments(member.__doc__)))
    assert len(calls) >= 25, calls  # every member, not a few: 14 of _Library, 13 of _Model
    for cls, name, args in calls:
        use = f"x.{name}" if args is None else f"x.{name}(*{args!r})".replace("array(", "np.array(")
        code = f"""
import numpy as np
from numpy import float32
from clapsearch import _clapsearch as native
x = native.{cls}.__new__(native.{cls})
try:
    {use}
    print("answered")
except TypeError as e:
    print("TypeError:", e)
"""
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        shown = f"{cls}.{name}: exit {child.returncode}: {child.stdout}{child.stderr[-500:]}"
        assert child.returncode == 0, shown
        assert f"TypeError: this {cls} was made by __new__ without __init__" in child.stdout, shown
        assert f"make one with clapsearch.{cls[1:]}(...)" in child.stdout, shown


def test_hostile21_a_native_method_called_on_another_object_is_a_typeerror():
    """The methods take `self` as any object now (to check it was made by __init__): one called
    through the class on another object still raises TypeError naming the class."""
    from clapsearch import _clapsearch as native

    for cls, method in ((native._Library, "tracks"), (native._Model, "config_json")):
        with pytest.raises(TypeError, match=cls.__name__):
            getattr(cls, method)(object())
    with pytest.raises(TypeError, match="_Model"):
        native._Model.config_json(native._Library.__new__(native._Library))
