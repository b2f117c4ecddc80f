"""The checks of every argument of the Python API (clapsearch.Model, Library, index)."""

from __future__ import annotations

import errno as _errno
import math as _math
import os as _os
from typing import List, Optional, Sequence, Union

from ._native import InvalidInputError, NotFoundError, _c, _np

_PRECISIONS = ("fp32", "bf16", "int8")


# Every argument is checked here, before the compiled module sees it: a user's mistake gets an
# InvalidInputError naming the argument, never pybind11's "incompatible function arguments"
# with a C++ signature (an int beyond 64 bits, a str that is not valid Unicode, a bool for a
# number).

#: The sample rates every call taking ``sr`` accepts, in Hz (FFmpeg refuses a source below 1000 Hz).
MIN_SAMPLE_RATE: int = _c.MIN_SAMPLE_RATE
MAX_SAMPLE_RATE: int = _c.MAX_SAMPLE_RATE
#: The CLI's --threads limit.
MAX_THREADS: int = _c.MAX_THREADS
#: The shortest hop (seconds between windows) ``embed_song`` and ``embed_audio_files`` take: the
#: CLI's ``index --hop`` / ``embed --hop`` / ``like --hop`` bound (every window is one model run).
MIN_HOP_SECONDS: float = _c.MIN_HOP_SECONDS
_MIN_SILENCE_DB = -200.0  # the index's --silence-db floor (index/identity.cpp)
_MAX_INT = 2**62  # beyond any count the engine takes; the engine checks its own limits below it


def _shown_int(v: int) -> str:
    """An integer for a message: a 10**100000 given by mistake is named by its size, not printed."""
    text = str(v)
    return text if len(text) <= 40 else f"an integer of {len(text)} digits"


def _int(value, what: str, lo: int, hi: Optional[int] = None, lo_means: str = "") -> int:
    """An integer argument: an int (or a float with an integral value, e.g. 48000.0); a bool, a
    fraction or a string is refused, as is a value outside [lo, hi]. Without hi the argument has no
    upper bound of its own (a count; the engine bounds what it must), and a message names only lo
    (what lo means, e.g. 0 for "every track", when lo_means says), never the internal 2**62."""
    if isinstance(value, (bool, _np.bool_)):
        raise InvalidInputError(f"{what} must be an integer, not a bool ({value!r})")
    if isinstance(value, (int, _np.integer)):
        v = int(value)
    elif isinstance(value, (float, _np.floating)) and float(value).is_integer():
        v = int(value)
    else:
        raise InvalidInputError(f"{what} must be an integer (got {type(value).__name__} {value!r})")
    if hi is not None:
        if not lo <= v <= hi:
            raise InvalidInputError(f"{what} must be between {lo} and {hi} (got {_shown_int(v)})")
        return v
    if v < lo:
        meaning = f", where {lo} means {lo_means}" if lo_means else ""
        raise InvalidInputError(f"{what} must be {lo} or more{meaning} (got {_shown_int(v)})")
    if v > _MAX_INT:
        raise InvalidInputError(f"{what} is too large (got {_shown_int(v)}): no count reaches it")
    return v


def _rate(sr, what: str = "sr") -> int:
    """A sample rate in Hz: an integer between MIN_SAMPLE_RATE and MAX_SAMPLE_RATE."""
    if isinstance(sr, (bool, _np.bool_)):
        raise InvalidInputError(f"{what} must be a sample rate in Hz, not a bool ({sr!r})")
    if not isinstance(sr, (int, _np.integer)) and not (isinstance(sr, (float, _np.floating)) and float(sr).is_integer()):
        raise InvalidInputError(f"{what} must be a whole number of Hz (got {type(sr).__name__} {sr!r})")
    v = int(sr)
    if not MIN_SAMPLE_RATE <= v <= MAX_SAMPLE_RATE:
        raise InvalidInputError(f"{what} must be a sample rate between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz (got {v})")
    return v


def _text(value, what: str) -> str:
    """A text argument (a query, a where expression, a name): a str the engine can take as UTF-8."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a str (got {type(value).__name__})")
    try:
        # str.encode, not value.encode: a str subclass's own encode() may say anything (H12P-2: one
        # hid a lone surrogate, and pybind11 refused the call with its C++ signature)
        str.encode(value, "utf-8")
    except UnicodeEncodeError as e:
        raise InvalidInputError(
            f"{what} is not valid Unicode: {value[e.start:e.end]!r} at position {e.start} is a lone surrogate"
        ) from None
    return value


def _given(items) -> bool:
    """Whether an optional list argument holds anything. A numpy array (texts as np.array([...]),
    seeds as search_vectors' I[0]) has no truth value: `if texts:` raised numpy's "The truth
    value of an array with more than one element is ambiguous" (hostile pass 22, H22P-8)."""
    if items is None:
        return False
    if isinstance(items, _np.ndarray):
        return items.size > 0
    try:
        return len(items) > 0
    except TypeError:
        return True  # an iterator or a generator: read later, by _texts or _names


def _texts(texts: Union[str, Sequence[str]], what: str) -> List[str]:
    if isinstance(texts, str):
        return [_text(texts, what)]
    if isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Sequence) and not hasattr(texts, "__iter__"):
        raise InvalidInputError(f"{what}: give a string or a list of strings")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InvalidInputError(f"{what}: every item must be a str (got {type(t).__name__})")
        _text(t, f"{what}: text {i}")
    return out


def _path(path, what: str) -> bytes:
    """A file name as the engine takes it: the bytes os.fsencode gives, so a name that is not
    UTF-8 (as os.fsdecode and every result give it, with surrogate escapes) names the same file."""
    try:
        raw = _os.fsencode(path)
    except TypeError:
        raise InvalidInputError(f"{what} must be a path (a str, bytes or os.PathLike; got {type(path).__name__})") from None
    if b"\0" in raw:
        raise InvalidInputError(f"{what}: {path!r}: a path cannot contain a NUL character")
    if not raw:  # "" (an unset variable, most often) names no file: say so, not ": no such file"
        raise InvalidInputError(f"{what}: an empty path (give a file name)")
    # A shell expands "~"; Python's file functions (and so the engine) take it as a folder named
    # "~". A path typed as in a shell would otherwise fail far from here, as "no index here" at
    # "<cwd>/~/...", so a "~" path is named at once with the way out, unless a folder of that
    # name really is there (then it is a path like any other, a new index's included).
    if raw.startswith(b"~") and not _os.path.lexists(raw.split(b"/")[0]):
        raise _not_found(
            f"{what}: {_os.fsdecode(raw)!r} does not exist: Python does not expand '~' as a shell does; "
            f"pass os.path.expanduser({_os.fsdecode(raw)!r})",
            _os.fsdecode(raw),
        )
    return raw


def _not_samples(x, what: str) -> None:
    """With sr= given, `x` must be a file or a track: samples in a container other than a numpy
    array (a list, a torch tensor, array.array) are named as samples, not taken for a file whose
    rate sr cannot set (H11P-6)."""
    if x is not None and not isinstance(x, (str, bytes, _os.PathLike, int, _np.integer)):
        raise InvalidInputError(f"{what}: samples must be a float32 numpy array (got {type(x).__name__}): "
                                "convert with np.asarray(x, dtype=np.float32)")


def _here(raw: bytes) -> bytes:
    """A path that names a file or folder here, made absolute now: an object keeps what it named
    when it was made, wherever the process's working folder moves later (a Library('lib.db')
    whose script then did os.chdir indexed into another lib.db, and one pickled to a worker in
    another folder opened nothing). A name that is not there (a hub id such as
    laion/clap-htsat-unfused) is kept as given."""
    return _os.path.abspath(raw) if raw and _os.path.lexists(raw) else raw


def _db_location(raw: bytes) -> bytes:
    """An index location: a file name made absolute now (the index may not exist yet: index()
    creates it there), a server URL (postgresql://...) as given."""
    return raw if not raw or b"://" in raw else _os.path.abspath(raw)


def _not_found(message: str, filename: str) -> NotFoundError:
    """A NotFoundError with errno, strerror and filename set, as FileNotFoundError has them."""
    error = NotFoundError(message)
    error.errno, error.strerror, error.filename = _errno.ENOENT, _os.strerror(_errno.ENOENT), filename
    return error


def _paths(paths: Union[str, "_os.PathLike[str]", Sequence[Union[str, "_os.PathLike[str]"]]], what: str) -> List[bytes]:
    if isinstance(paths, (str, bytes, _os.PathLike)):
        return [_path(paths, what)]
    return [_path(p, what) for p in paths]


def _names(items: Sequence[Union[str, int, "_os.PathLike[str]"]], what: str = "seeds") -> List[bytes]:
    """Seeds as the engine takes them: a track id as its digits, a path as its bytes. None is no
    seeds, as texts=None and nots=None are (it raised "'NoneType' object is not iterable", naming
    no argument); a single value that is not a list (a numpy id such as search_vectors' I[0, 0],
    a float) is named as the argument, not as "'numpy.int64' object is not iterable"."""
    if items is None:
        return []
    if isinstance(items, (str, bytes, int, float, _np.integer, _np.floating, _os.PathLike)) or not hasattr(items, "__iter__"):
        raise InvalidInputError(f"{what} must be a list (of track ids or paths, each \"VALUE\" or \"VALUE:WEIGHT\"; "
                                f"got {type(items).__name__} {items!r})")
    return [str(x).encode() if isinstance(x, (int, _np.integer)) and not isinstance(x, bool) else _path(x, what) for x in items]


def _between(value, what: str, low: float, high: float) -> float:
    """A number (not a text that float() would take) from low to high; NaN is refused too."""
    x = _number(value, what, finite=False)
    if not low <= x <= high:
        raise InvalidInputError(f"{what} must be in [{low:g}, {high:g}] (got {value!r})")
    return x


def _cosine(value, what: str) -> float:
    """high=/moderate= of search: a cosine, -1 to 1. NaN and infinities go on to the engine,
    which refuses them together ("high and moderate must be finite numbers")."""
    x = _number(value, what, finite=False)
    if _math.isfinite(x) and not -1 <= x <= 1:
        raise InvalidInputError(f"{what} must be in [-1, 1] (got {value!r})")
    return x


def _diversity(value: Optional[float]) -> float:
    """diversity= of the query methods: None = the plain ranking (-1 for the engine), else 0..1."""
    return -1.0 if value is None else _between(value, "diversity", 0, 1)


def _precision(value: str, what: str) -> str:
    if value not in _PRECISIONS:
        raise InvalidInputError(f"{what} must be one of fp32, bf16, int8 (got {value!r})")
    return value


def _threads(threads: Optional[int]) -> int:
    """threads=: None = every core (0 for the engine), else 1..MAX_THREADS (the CLI's --threads range)."""
    if threads is None:
        return 0
    return _int(threads, "threads", 1, MAX_THREADS)


def _batch(batch: int) -> int:
    return _int(batch, "batch", 1, 1024)


def _number(value, what: str, finite: bool = True) -> float:
    """A finite number: NaN or an infinity is refused naming the argument (NaN fails every
    comparison, so an engine check written "x < limit" would take it silently). finite=False
    leaves them to the caller's range check, which names the range."""
    if isinstance(value, (bool, _np.bool_)) or not isinstance(value, (int, float, _np.integer, _np.floating)):
        raise InvalidInputError(f"{what} must be a number (got {type(value).__name__} {value!r})")
    try:
        x = float(value)
    except OverflowError:  # an int beyond a double
        raise InvalidInputError(f"{what} must be a finite number (got {_shown_int(int(value))})") from None
    if finite and not _math.isfinite(x):
        raise InvalidInputError(f"{what} must be a finite number (got {value!r})")
    return x


def _seconds(value, what: str, sample_rate: int) -> float:
    """A duration in seconds of at least one sample at the model's rate: a hop of 1e-300 s is
    zero samples, which no window plan takes."""
    x = _number(value, what)
    if not x * sample_rate >= 1:
        raise InvalidInputError(f"{what} must be at least one sample (1/{sample_rate} s) (got {value!r})")
    return x


#: A batch whose clips are this short, with more rows than columns, is a recording laid out as
#: (frames, channels) — as soundfile.read, torchaudio (transposed) and most WAV readers give
#: stereo or 5.1 — not a batch of clips of a few samples each, which nobody embeds.
_MAX_CHANNELS = 8


def _hop(value) -> float:
    """A hop of at least MIN_HOP_SECONDS, as the CLI takes: a hop of one sample made a 3 s clip
    144,000 model runs (hostile pass 9)."""
    x = _number(value, "hop")
    if not x >= MIN_HOP_SECONDS:
        raise InvalidInputError(
            f"hop must be at least {MIN_HOP_SECONDS:g} s, as the CLI's --hop (every window is one model run) (got {value!r})"
        )
    return x


def _audio_array(data) -> _np.ndarray:
    if not isinstance(data, _np.ndarray):
        raise InvalidInputError(f"audio must be a numpy array (got {type(data).__name__})")
    # (48000, 2) read as 48000 clips of 2 samples each ran 48000 model passes (minutes to hours)
    # and gave as many meaningless rows, without a word.
    # (3, 0) is clips of no samples (the engine says so), not a recording of 0 channels (H12P-4).
    if data.ndim == 2 and 0 < data.shape[1] <= _MAX_CHANNELS and data.shape[0] > data.shape[1]:
        rows, cols = data.shape
        raise InvalidInputError(
            f"audio has shape {data.shape}: that would be {rows} clips of {cols} sample(s) each. A 2-D array is "
            f"(clips, samples), one clip per row; ({rows}, {cols}) looks like one recording of {cols} channel(s) "
            f"as (frames, channels): pass mono samples, e.g. data.mean(axis=1), or data.T for one clip per channel"
        )
    return data
