"""clapsearch from Python: CLAP embeddings and neural music search without PyTorch.

clapsearch runs LAION's CLAP (Contrastive Language-Audio Pretraining: audio and text in
one embedding space) natively on the CPU, with the same embeddings as the reference
implementation. This package exposes the same engine and index as the ``clapsearch``
command line, as plain function calls that take and return numpy arrays, dicts and lists.

Three entry points:

``Model``
    One CLAP model: ``embed_text``, ``embed_audio`` (numpy samples), ``embed_audio_files``,
    ``embed_song`` (whole-song mode: the index's windows and the track embedding).
``Library``
    A clapsearch index (built by ``clapsearch index`` or ``Library.index``): ``search``
    (text -> songs), ``like`` (audio -> songs), ``similar``, ``playlist``, ``path``,
    ``duplicates``, ``tracks`` and ``search_vectors`` (FAISS's (D, I) convention). Results
    are the dicts the CLI prints with ``--json``.
``clapsearch.laion_clap.CLAP_Module``
    A drop-in for ``laion_clap.CLAP_Module``: change ``import laion_clap`` to
    ``from clapsearch import laion_clap`` and LAION's example runs.

Example: zero-shot tagging of a folder::

    import pathlib, clapsearch
    model = clapsearch.Model("laion/larger_clap_music_and_speech")
    labels = ["rock", "jazz", "classical", "speech"]
    text = model.embed_text([f"This is a sound of {l}." for l in labels])
    files = sorted(str(p) for p in pathlib.Path("~/Music").expanduser().glob("*.flac"))
    audio = model.embed_audio_files(files)
    best = (audio @ text.T).argmax(axis=1)
    rows = [{"path": f, "label": labels[i]} for f, i in zip(files, best)]

Every call into the engine releases the GIL, so Python threads embed in parallel. Errors
raise ``clapsearch.Error`` (``NotFoundError`` is also a ``FileNotFoundError``,
``InvalidInputError`` also a ``ValueError``) with the CLI's message. docs/python.md has the
details: building, installing, the API and the benchmark.
"""

from __future__ import annotations

import json as _json
import os as _os
import sys as _sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

try:
    import numpy as _np
except ImportError as _e:  # pragma: no cover - depends on the interpreter
    raise ImportError(
        f"clapsearch needs numpy, which this Python ({_sys.executable}) does not have ({_e}); "
        "install it (Debian: python3-numpy) or use the interpreter clapsearch was built for "
        "(Python_EXECUTABLE in the build's CMakeCache.txt)"
    ) from None

try:
    from . import _clapsearch as _c
except ImportError as _e:  # pragma: no cover - depends on the interpreter
    raise ImportError(
        f"clapsearch's compiled module does not load in this Python ({_sys.executable}, "
        f"{_sys.version.split()[0]}): {_e}. It is built for one interpreter version: use the one it was "
        "built for (Python_EXECUTABLE in the build's CMakeCache.txt) or build it with -DPython_EXECUTABLE=..."
    ) from None

__all__ = [
    "Model",
    "Library",
    "Error",
    "NotFoundError",
    "InvalidInputError",
    "load_audio",
    "index",
    "DEFAULT_MODEL",
    "DEFAULT_EXCLUDE_RULE",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_THREADS",
    "laion_clap",
]

Error = _c.Error
NotFoundError = _c.NotFoundError
InvalidInputError = _c.InvalidInputError

#: The model used when none is named (a Hugging Face hub id, fetched into the HF cache).
DEFAULT_MODEL: str = _c.default_model()

#: The music-only rule a Library applies unless told otherwise (the CLI's default --exclude-rule;
#: the CLI's settings file is not read here: pass exclude_rule= to use another, "" for none).
DEFAULT_EXCLUDE_RULE: str = _c.DEFAULT_EXCLUDE_RULE

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
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidInputError(
            f"{what} is not valid Unicode: {value[e.start:e.end]!r} at position {e.start} is a lone surrogate"
        ) from None
    return value


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
        raise InvalidInputError(f"{what}: a path cannot contain a NUL character")
    return raw


def _paths(paths: Union[str, "_os.PathLike[str]", Sequence[Union[str, "_os.PathLike[str]"]]], what: str) -> List[bytes]:
    if isinstance(paths, (str, bytes, _os.PathLike)):
        return [_path(paths, what)]
    return [_path(p, what) for p in paths]


def _names(items: Sequence[Union[str, int, "_os.PathLike[str]"]], what: str = "seeds") -> List[bytes]:
    """Seeds as the engine takes them: a track id as its digits, a path as its bytes."""
    if isinstance(items, (str, bytes, int, _os.PathLike)):
        raise InvalidInputError(f"{what} must be a list (of track ids or paths, each \"VALUE\" or \"VALUE:WEIGHT\")")
    return [str(x).encode() if isinstance(x, (int, _np.integer)) and not isinstance(x, bool) else _path(x, what) for x in items]


def _between(value, what: str, low: float, high: float) -> float:
    """A number (not a text that float() would take) from low to high; NaN is refused too."""
    x = _number(value, what)
    if not low <= x <= high:
        raise InvalidInputError(f"{what} must be in [{low:g}, {high:g}] (got {value!r})")
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


def _number(value, what: str) -> float:
    if isinstance(value, (bool, _np.bool_)) or not isinstance(value, (int, float, _np.integer, _np.floating)):
        raise InvalidInputError(f"{what} must be a number (got {type(value).__name__} {value!r})")
    return float(value)


def _audio_array(data) -> _np.ndarray:
    if not isinstance(data, _np.ndarray):
        raise InvalidInputError(f"audio must be a numpy array (got {type(data).__name__})")
    return data


class Model:
    """A CLAP model, loaded once and shared by every call (and thread).

    Args:
        model: what ``clapsearch --model`` accepts: a Hugging Face model folder, a checkpoint
            file (a LAION ``.pt``, ``pytorch_model.bin``, ``model.safetensors``) or a hub id
            ``org/name[@revision]`` (found in, or downloaded into, the Hugging Face cache).
        precision: the audio tower's precision, ``"fp32"`` (reference parity), ``"bf16"`` or
            ``"int8"`` (faster, embeddings within cosine 0.999 / 0.995 of fp32).
        threads: threads per call; ``None`` = every core.
        text_precision: the text tower's precision (same choices).
        config: ``--config``: a config.json (or its folder) used instead of the model's own or
            the one inferred from a checkpoint file.
        tokenizer: ``--tokenizer``: a folder with vocab.json + merges.txt (a checkpoint file
            has none).

    Raises:
        NotFoundError: no such folder or file, or a hub id that is not cached while offline.
        Error: not a model (the reason names the file or tensor).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        precision: str = "fp32",
        threads: Optional[int] = None,
        *,
        text_precision: str = "fp32",
        config: Optional[str] = None,
        tokenizer: Optional[str] = None,
    ) -> None:
        self._m = _c._Model(
            _path(model, "model"),
            _precision(precision, "precision"),
            _precision(text_precision, "text_precision"),
            _threads(threads),
            _path(config, "config") if config else b"",
            _path(tokenizer, "tokenizer") if tokenizer else b"",
        )
        self._config: Optional[dict] = None

    def __repr__(self) -> str:
        return f"clapsearch.Model({self.name!r}, precision={self.precision!r}, dim={self.dim})"

    @property
    def name(self) -> str:
        """The model as resolved: the hub id, or the absolute path of a folder or file."""
        return self._m.name

    @property
    def precision(self) -> str:
        """The audio tower's precision: ``"fp32"``, ``"bf16"`` or ``"int8"``."""
        return self._m.precision

    @property
    def text_precision(self) -> str:
        """The text tower's precision: ``"fp32"``, ``"bf16"`` or ``"int8"``."""
        return self._m.text_precision

    @property
    def dim(self) -> int:
        """The embedding size (512 for LAION's models)."""
        return self._m.dim

    @property
    def sample_rate(self) -> int:
        """The rate the audio tower takes (48000 Hz); other rates are resampled."""
        return self._m.sample_rate

    @property
    def logit_scale(self) -> float:
        """exp(logit_scale_a): multiply audio-text cosines by it for CLAP's logits."""
        return self._m.logit_scale

    @property
    def logit_scale_text(self) -> float:
        """exp(logit_scale_t), the text side's temperature (``logits_per_text``)."""
        return self._m.logit_scale_text

    @property
    def config(self) -> dict:
        """The model's settings as a dict: config.json's keys plus ``"features"`` (the
        feature extractor's preprocessor settings)."""
        if self._config is None:
            cfg = _json.loads(self._m.config_json())
            cfg["features"] = _json.loads(self._m.features_json())
            self._config = cfg
        return dict(self._config)

    def embed_text(self, texts: Union[str, Sequence[str]], *, batch: int = 16) -> _np.ndarray:
        """Text embeddings, L2-normalised like the CLI's.

        Args:
            texts: one string or a list of strings.
            batch: texts per pass over the text tower (results do not depend on it).

        Returns:
            float32 array of shape (N, dim), one row per text.
        """
        return self._m.embed_text(_texts(texts, "embed_text"), _batch(batch))

    def embed_audio(self, data: _np.ndarray, sr: int = 48000, *, batch: int = 8) -> _np.ndarray:
        """Audio embeddings of mono float32 samples, L2-normalised.

        Each clip is processed as the reference processor processes one clip: up to 10 s
        repeat-padded, longer ones cropped (deterministically; see ``embed_song`` for the whole
        of a long recording). Samples at another rate are resampled by FFmpeg first, exactly
        as the CLI resamples a file.

        Args:
            data: float32 array, 1-D (one clip) or 2-D (N clips of equal length, one per row),
                samples in [-1, 1]. Read in place when C-contiguous.
            sr: the samples' rate in Hz.
            batch: clips per model call (results do not depend on it).

        Returns:
            float32 array of shape (N, dim) (N = 1 for a 1-D clip).

        Raises:
            InvalidInputError: not float32, not 1-D/2-D, empty, NaN or infinite samples, a bad rate.
        """
        return self._m.embed_audio(_audio_array(data), _rate(sr), _batch(batch))

    def embed_audio_files(self, paths: Union[str, Sequence[str]], *, hop: float = 5.0, batch: int = 8) -> _np.ndarray:
        """Embeddings of audio files, as ``clapsearch embed --audio`` computes them.

        A file of at most one model window (10 s) is one clip; a longer one is the normalised
        mean of its 10 s windows every ``hop`` seconds (the track embedding the index stores).

        Returns:
            float32 array of shape (N, dim), in the order given.

        Raises:
            NotFoundError: a file that does not exist. Error: a file FFmpeg cannot decode.
        """
        files = _paths(paths, "embed_audio_files")
        return self._m.embed_audio_files(files, _number(hop, "hop"), _batch(batch))

    def embed_song(
        self,
        song: Union[str, "_os.PathLike[str]", _np.ndarray],
        sr: Optional[int] = None,
        *,
        window: float = 10.0,
        hop: float = 5.0,
        silence_db: float = -60.0,
        batch: int = 8,
    ) -> Dict[str, object]:
        """Whole-song mode: the windows the index cuts and the track embedding it stores.

        Args:
            song: an audio file's path, or a 1-D float32 array of samples (then ``sr`` is required).
            window, hop: seconds per window and between window starts (the index's 10 / 5).
            silence_db: windows quieter than this (RMS, dBFS) are silent: not embedded.

        Returns:
            ``{"windows": (n, dim) float32 (zero rows for silent windows), "starts": (n,),
            "ends": (n,) seconds, "silent": (n,) bool, "track": (dim,) float32,
            "duration_s": float}``.
        """
        if isinstance(song, _np.ndarray):
            if sr is None:
                raise InvalidInputError("embed_song: give sr (the samples' rate in Hz) with an array")
            return self._m.embed_song(
                song, _rate(sr), _number(window, "window"), _number(hop, "hop"), _number(silence_db, "silence_db"), _batch(batch)
            )
        if sr is not None:
            raise InvalidInputError("embed_song: sr goes with an array of samples (a file is decoded at its own rate)")
        return self._m.embed_song_file(
            _path(song, "embed_song"), _number(window, "window"), _number(hop, "hop"), _number(silence_db, "silence_db"), _batch(batch)
        )


def load_audio(path: Union[str, "_os.PathLike[str]"], sr: int = 48000) -> _np.ndarray:
    """Decodes any file FFmpeg reads to mono float32 samples at ``sr`` Hz (the CLI's decoder
    and resampler)."""
    return _c.load_audio(_path(path, "load_audio"), _rate(sr))


def _progress_printer(done: int, total: int, audio_s: float, elapsed: float, eta: float) -> None:
    eta_text = f", {eta:.0f} s left" if eta >= 0 else ""
    _sys.stderr.write(f"\rindexing {done}/{total} files, {audio_s / 60:.1f} min of audio{eta_text}")
    if total and done >= total:
        _sys.stderr.write("\n")
    _sys.stderr.flush()


ProgressCallback = Callable[[int, int, float, float, float], None]


def index(
    paths: Union[str, Sequence[str]],
    db: Optional[str] = None,
    model: Optional[str] = None,
    *,
    progress: Union[bool, ProgressCallback] = True,
    on_file: Optional[Callable[[str, str, str], None]] = None,
    window: Optional[float] = None,
    hop: Optional[float] = None,
    precision: Optional[str] = None,
    threads: Optional[int] = None,
    batch: int = 8,
    rebuild: bool = False,
    config: Optional[str] = None,
    tokenizer: Optional[str] = None,
) -> dict:
    """``clapsearch index``: brings the index ``db`` up to date with folders or files.

    Unchanged files are skipped, moved ones keep their embeddings, deleted ones are pruned.
    Settings not given continue the existing index (else 10 s windows, 5 s hop, the default
    model, and the precision ``"auto"`` chooses on this machine from a sample of the audio:
    ``clapsearch index --precision auto``; ``precision="auto"`` asks for it by name).

    Args:
        progress: ``True`` prints a progress line to stderr, ``False`` nothing, or a callable
            ``(files_done, files_total, audio_seconds, elapsed_seconds, eta_seconds)``.
        on_file: optional callable ``(kind, path, detail)`` per file ("indexed", "moved",
            "restored", "error", "pruned").

    Returns:
        The run's summary: found, indexed, unchanged, moved, restored, pruned, errors,
        windows, audio_seconds, wall_seconds, new_errors [(path, reason)], db.
    """
    if progress is True:
        callback = _progress_printer
    elif progress is False or progress is None:
        callback = None
    elif callable(progress):
        callback = progress
    else:
        raise InvalidInputError("progress must be True, False or a callable")
    if precision is not None and precision != "auto":
        _precision(precision, "precision")
    dirs = _paths(paths, "index")
    return _c.run_index(
        dirs,
        _path(db, "db") if db else b"",
        _path(model, "model") if model else None,
        _path(config, "config") if config else b"",
        _path(tokenizer, "tokenizer") if tokenizer else b"",
        None if window is None else _number(window, "window"),
        None if hop is None else _number(hop, "hop"),
        precision,
        _threads(threads),
        _batch(batch),
        bool(rebuild),
        callback,
        on_file,
    )


class Library:
    """A clapsearch index: the queries of the CLI, answering what its ``--json`` prints.

    Args:
        db: the index (a SQLite file or a ``postgresql://`` URL); ``None`` = the CLI's default
            (~/.local/share/clapsearch/library.db).
        model: the model for text and audio queries; ``None`` = the one recorded in the index
            (a different model is refused, as by the CLI).
        threads: threads per model run; ``None`` = every core.
        text_precision, config, tokenizer: as for ``Model``.
        exclude_rule: the music-only rule, a ``where`` expression: matching tracks are left out
            of every query unless the query says ``include_excluded=True`` (default
            ``DEFAULT_EXCLUDE_RULE``: podcasts, audiobooks, speech; ``""`` = none).

    The index is opened here, so a folder, a file that is not an index or a bad
    ``exclude_rule`` raises at once; only an index that does not exist yet is opened on first
    use (``index()`` may create it). Every call sees the index as it is then: tracks indexed,
    moved or pruned since (by ``clapsearch index``, a watch, another process) are seen as
    ``serve`` sees them, and when the index switched to another model (``index --rebuild
    --model``, ``models --activate``) the library is opened again with the model now recorded
    in it. Results are lists of dicts with the CLI's ``--json`` fields (see docs/python.md);
    file names that are not UTF-8 come back as ``os.fsdecode`` gives them (surrogate escapes)
    and can be passed back as they are.
    """

    def __init__(
        self,
        db: Optional[str] = None,
        model: Optional[str] = None,
        *,
        threads: Optional[int] = None,
        text_precision: str = "fp32",
        config: Optional[str] = None,
        tokenizer: Optional[str] = None,
        exclude_rule: str = DEFAULT_EXCLUDE_RULE,
    ) -> None:
        self._db = _path(db, "db") if db else b""
        self._exclude_rule = _text(exclude_rule, "exclude_rule")
        _c.check_where(self._exclude_rule, "exclude_rule")
        self._model = _path(model, "model") if model else b""
        self._threads = _threads(threads)
        self._text_precision = _precision(text_precision, "text_precision")
        self._config = _path(config, "config") if config else b""
        self._tokenizer = _path(tokenizer, "tokenizer") if tokenizer else b""
        self._lib = None
        location = self._db or _os.fsencode(_c.default_db())
        if b"://" not in location and _os.path.isdir(location):
            raise InvalidInputError(
                f"{_os.fsdecode(location)}: a folder, not an index (give the database file, "
                f"e.g. {_os.path.join(_os.fsdecode(location), 'library.db')})"
            )
        if b"://" in location or _os.path.lexists(location):
            try:
                self._open()  # a file that is not an index, or a server that refuses, raises here
            except Error as e:
                if "no model recorded yet" not in str(e):  # an empty index: index() fills it
                    raise

    def _open(self):
        if self._lib is None:
            self._lib = _c._Library(self._db, self._model, self._config, self._tokenizer, self._threads, self._text_precision, self._exclude_rule)
        return self._lib

    def __repr__(self) -> str:
        db = _os.fsdecode(self._db) if self._db else None
        model = _os.fsdecode(self._model) if self._model else None
        return f"clapsearch.Library(db={db!r}, model={model!r})"

    @property
    def db_path(self) -> str:
        """The index's location as the CLI prints it."""
        return self._open().db_path

    @property
    def dim(self) -> int:
        """The embedding size of the index's model."""
        return self._open().dim

    def index(self, paths: Union[str, Sequence[str]], *, progress: Union[bool, ProgressCallback] = True, **options) -> dict:
        """Indexes folders or files into this library (``clapsearch.index`` with this ``db``
        and model); the next query sees the new tracks. Returns the run's summary."""
        # The next query sees the new tracks (every call checks the index's generation).
        if "db" in options:
            raise InvalidInputError("Library.index indexes into this library's own index: give no db= "
                                    "(clapsearch.index(paths, db=...) indexes another)")
        # The library's settings unless the call names its own (`index --model NEW` builds NEW's set).
        settings = {"model": self._model or None, "threads": self._threads or None, "config": self._config or None,
                    "tokenizer": self._tokenizer or None, **options}
        return index(paths, db=self._db or None, progress=progress, **settings)

    def search(
        self,
        text: Union[str, Sequence[str], None],
        k: int = 10,
        *,
        aggregate: str = "mean",
        high: float = 0.3,
        moderate: float = 0.15,
        where: str = "",
        per_artist: int = 0,
        per_album: int = 0,
        diversity: Optional[float] = None,
        include_excluded: bool = False,
        seeds: Sequence[Union[str, int, "_os.PathLike[str]"]] = (),
        nots: Sequence[str] = (),
        not_likes: Sequence[Union[str, int, "_os.PathLike[str]"]] = (),
    ) -> List[dict]:
        """Text -> songs (``clapsearch search --json``).

        Args:
            text: one query, or several (then each result carries its ``"query"``).
            k: results per query (0 = every track).
            aggregate: a track's score: ``"mean"`` of its windows' cosines or the best (``"max"``).
            high, moderate: thresholds of the labels HIGH / MODERATE / LOW.
            where, per_artist, per_album: only tracks matching a filter expression, at most N per
                artist / album (``--where``, ``--per-artist``, ``--per-album``; every query method
                takes them; a bad expression raises InvalidInputError naming the column).
            diversity: 0..1, the list by maximal marginal relevance (``--diversity``); None = the
                plain ranking.
            include_excluded: also the tracks the library's music-only rule (``exclude_rule``)
                leaves out (``--include-excluded``).
            seeds, nots, not_likes: audio seeds mixed into every text, texts and tracks/files to
                push away from (``--seed``, ``--not``, ``--not-like``; each "VALUE" or
                "VALUE:WEIGHT"); with no text, the seeds are the query.

        Returns:
            dicts with rank, path, track_id, score, label, best_start, best_end, mean, max,
            n_windows, artist, title, labels.
        """
        texts = _texts(text, "search") if text is not None and (text or not seeds) else []
        d = _diversity(diversity)
        return self._open().search(
            texts, _int(k, "k", 0, lo_means="every result"), _text(aggregate, "aggregate"), _number(high, "high"), _number(moderate, "moderate"),
            _text(where, "where"), _int(per_artist, "per_artist", 0, lo_means="no limit"), _int(per_album, "per_album", 0, lo_means="no limit"), d,
            bool(include_excluded), _names(seeds, "seeds"), _texts(nots, "nots") if nots else [],
            _names(not_likes, "not_likes"),
        )

    def like(
        self,
        query: Union[str, "_os.PathLike[str]", int, _np.ndarray],
        k: int = 10,
        *,
        sr: Optional[int] = None,
        track: bool = False,
        per_chunk: int = 5,
        vote_weight: float = 0.2,
        exclude_self: bool = False,
        chunk: float = 0.0,
        hop: float = 0.0,
        where: str = "",
        per_artist: int = 0,
        per_album: int = 0,
        diversity: Optional[float] = None,
        include_excluded: bool = False,
        seeds: Sequence[Union[str, int, "_os.PathLike[str]"]] = (),
        texts: Sequence[str] = (),
        nots: Sequence[str] = (),
        not_likes: Sequence[Union[str, int, "_os.PathLike[str]"]] = (),
    ) -> List[dict]:
        """Audio -> songs by chunk voting (``clapsearch like --json``).

        Args:
            query: an audio file, an indexed track (an int id, or ``track=True`` with an id or
                path: its stored windows, no decoding), or a 1-D float32 array (with ``sr``);
                None with ``seeds``.
            chunk, hop: query chunk length and hop in seconds (0 = the index's).
            seeds, texts, nots, not_likes: more audio seeds, texts steering every chunk, and
                negatives (``--seed``, ``--text``, ``--not``, ``--not-like``; docs/user-guide.md,
                Several seeds); every indexed seed is left out of the results.
            diversity, include_excluded: as :meth:`search`.

        Returns:
            dicts with rank, path, track_id, score, combined, votes, total_similarity, artist,
            title, matches.
        """
        lib = self._open()
        d = _diversity(diversity)
        k = _int(k, "k", 0, lo_means="every result")
        per_chunk = _int(per_chunk, "per_chunk", 1, 1000)
        where = _text(where, "where")
        per_artist, per_album = _int(per_artist, "per_artist", 0, lo_means="no limit"), _int(per_album, "per_album", 0, lo_means="no limit")
        chunk, hop = _number(chunk, "chunk"), _number(hop, "hop")
        if isinstance(query, _np.ndarray):
            if sr is None:
                raise InvalidInputError("like: give sr (the samples' rate in Hz) with an array")
            if seeds or texts or nots or not_likes:
                raise InvalidInputError("like: seeds, texts, nots and not_likes go with a file or a track, not with samples")
            return lib.like_samples(query, _rate(sr), k, per_chunk, _number(vote_weight, "vote_weight"), chunk, hop, where,
                                    per_artist, per_album, d, bool(include_excluded))
        if sr is not None:
            raise InvalidInputError("like: sr goes with an array of samples (a file or a track is decoded at its own rate)")
        if isinstance(query, (int, _np.integer)) and not isinstance(query, bool):
            query, track = str(int(query)), True
        first = b"" if query is None else _path(query, "like")
        return lib.like(first, bool(track), k, per_chunk, _number(vote_weight, "vote_weight"), bool(exclude_self), chunk, hop,
                        where, per_artist, per_album, d, bool(include_excluded), _names(seeds, "seeds"),
                        _texts(texts, "texts") if texts else [], _texts(nots, "nots") if nots else [], _names(not_likes, "not_likes"))

    def similar(
        self,
        track: Union[str, "_os.PathLike[str]", int, None] = None,
        k: int = 10,
        *,
        where: str = "",
        per_artist: int = 0,
        per_album: int = 0,
        seeds: Sequence[Union[str, int, "_os.PathLike[str]"]] = (),
        texts: Sequence[str] = (),
        nots: Sequence[str] = (),
        not_likes: Sequence[Union[str, int, "_os.PathLike[str]"]] = (),
        diversity: Optional[float] = None,
        include_excluded: bool = False,
    ) -> List[dict]:
        """Song -> songs by track embedding (``clapsearch similar --json``): an indexed track
        (id or path; itself left out) or any audio file. With seeds/texts/nots/not_likes
        (``--seed``, ``--text``, ``--not``, ``--not-like``; each "VALUE:WEIGHT" or "VALUE"), one
        query normalise(sum of w*positive - sum of w*negative) over unit embeddings, every indexed
        seed left out (docs/user-guide.md, Several seeds); diversity and include_excluded as
        :meth:`search`. Returns dicts with rank, path, track_id, score, artist, title."""
        return self._open().similar(
            b"" if track is None else _names([track], "track")[0],
            _int(k, "k", 0, lo_means="every result"),
            _text(where, "where"),
            _int(per_artist, "per_artist", 0, lo_means="no limit"),
            _int(per_album, "per_album", 0, lo_means="no limit"),
            _names(seeds, "seeds"),
            _texts(texts, "texts") if texts else [],
            _texts(nots, "nots") if nots else [],
            _names(not_likes, "not_likes"),
            _diversity(diversity),
            bool(include_excluded),
        )

    def artists(
        self, text: Optional[str] = None, k: int = 10, *, like: Optional[str] = None, where: str = "", include_excluded: bool = False
    ) -> List[dict]:
        """Artists by a text (``clapsearch search --artists TEXT --json``) or like a named artist
        (``clapsearch similar --artist NAME --json``, itself left out). An artist's embedding is
        the normalised mean of its tracks' unit track embeddings; ``where`` chooses those tracks.
        Returns dicts with rank, artist, tracks, score."""
        return self._open().groups(
            False, _text(text or "", "text"), _text(like or "", "like"), "", _int(k, "k", 0, lo_means="every result"), _text(where, "where"), bool(include_excluded)
        )

    def albums(
        self,
        text: Optional[str] = None,
        k: int = 10,
        *,
        like: Optional[str] = None,
        artist: str = "",
        where: str = "",
        include_excluded: bool = False,
    ) -> List[dict]:
        """Albums as :meth:`artists` (``--albums``, ``--album NAME [--artist ALBUM_ARTIST]``);
        ``artist`` tells albums of one name apart. Returns dicts with rank, album, artist, tracks,
        score."""
        return self._open().groups(
            True, _text(text or "", "text"), _text(like or "", "like"), _text(artist, "artist"), _int(k, "k", 0, lo_means="every result"), _text(where, "where"),
            bool(include_excluded),
        )

    def playlist(
        self,
        seeds: Sequence[Union[str, int]] = (),
        texts: Union[str, Sequence[str]] = (),
        length: int = 25,
        *,
        diversity: float = 0.3,
        where: str = "",
        per_artist: int = 0,
        per_album: int = 0,
        include_excluded: bool = False,
    ) -> List[dict]:
        """A radio from seed tracks and/or descriptions (``clapsearch playlist --json``).
        Returns dicts with rank, track_id, path, score, artist, title, duration_s, seed."""
        seed_list = _names([seeds] if isinstance(seeds, (str, bytes, int, _os.PathLike)) else seeds, "seeds")
        text_list = _texts(texts, "playlist") if texts else []
        return self._open().playlist(
            seed_list, text_list, _int(length, "length", 1), _between(diversity, "diversity", 0, 1), _text(where, "where"),
            _int(per_artist, "per_artist", 0, lo_means="no limit"), _int(per_album, "per_album", 0, lo_means="no limit"), bool(include_excluded),
        )

    def path(
        self, start: Union[str, int], end: Union[str, int], length: int = 10, *, where: str = "", include_excluded: bool = False
    ) -> List[dict]:
        """``length`` tracks moving from ``start`` to ``end`` (``clapsearch path --json``), the
        steps between through tracks matching ``where`` (``--where``) and the music-only rule."""
        start_name, end_name = _names([start], "start")[0], _names([end], "end")[0]
        return self._open().path(start_name, end_name, _int(length, "length", 0), _text(where, "where"), bool(include_excluded))

    def duplicates(self, *, threshold: float = 0.0, min_duration_ratio: float = 0.9) -> List[dict]:
        """Groups of the same recording in several files, keeper first (``clapsearch
        duplicates --json``): group, keeper, tracks [...], pairs [...]."""
        # The CLI's ranges (--threshold 0-1): NaN or 5 found nothing, silently.
        return self._open().duplicates(_between(threshold, "threshold", 0, 1), _between(min_duration_ratio, "min_duration_ratio", 0, 1))

    def tracks(self) -> List[dict]:
        """Every track of the index: track_id, path, status, error, silent, duration_s,
        n_windows, artist, title, album, genre, date."""
        return self._open().tracks()

    def search_vectors(self, queries: _np.ndarray, k: int = 10) -> Tuple[_np.ndarray, _np.ndarray]:
        """Nearest tracks to your own vectors, in FAISS's convention.

        Args:
            queries: float32 array (n, dim) (a 1-D vector is one query); need not be normalised.
            k: neighbours per query.

        Returns:
            ``(D, I)``: (n, k) float32 cosines to the track embeddings, best first, and (n, k)
            int64 track ids (-1 and -inf where the library has fewer than k tracks).
        """
        if isinstance(queries, _np.ndarray) and queries.ndim == 1:
            queries = queries.reshape(1, -1)
        if not isinstance(queries, _np.ndarray):
            raise InvalidInputError(f"queries must be a numpy array (got {type(queries).__name__})")
        return self._open().search_vectors(queries, _int(k, "k", 1))


from . import laion_clap  # noqa: E402  (the drop-in needs Model above)
