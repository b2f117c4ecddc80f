"""clapsearch.Library (the queries of an index) and clapsearch.index (building one)."""

from __future__ import annotations

import os as _os
import sys as _sys
import time as _time
from typing import Callable, List, Optional, Sequence, Tuple, Union

from ._checks import (
    _between,
    _given,
    _cosine,
    _db_location,
    _diversity,
    _here,
    _int,
    _names,
    _not_samples,
    _number,
    _path,
    _paths,
    _precision,
    _rate,
    _text,
    _texts,
    _threads,
    _batch,
)
from ._native import Error, InvalidInputError, _c, _np

#: The music-only rule a Library applies unless told otherwise (the CLI's default --exclude-rule;
#: the CLI's settings file is not read here: pass exclude_rule= to use another, "" for none).
DEFAULT_EXCLUDE_RULE: str = _c.DEFAULT_EXCLUDE_RULE


class _ProgressPrinter:
    """``progress=True``: the CLI's rule (``clapsearch index``). On a terminal one line rewritten in
    place (``\\r``) at most every 0.2 s; otherwise (a log file, a pipe) a plain line every 5 s and
    the last one, so a log gets readable lines instead of one endless ``\\r``-joined line."""

    def __init__(self, stream=None) -> None:
        self._stream = stream if stream is not None else _sys.stderr
        try:
            self._tty = bool(self._stream.isatty())
        except (AttributeError, ValueError):
            self._tty = False
        self._last = _time.monotonic()
        self._complete_shown = False

    def __call__(self, done: int, total: int, audio_s: float, elapsed: float, eta: float) -> None:
        complete = bool(total) and done >= total
        now = _time.monotonic()
        if complete:
            if self._complete_shown:
                return
        elif now - self._last < (0.2 if self._tty else 5.0):
            return
        self._complete_shown = complete
        self._last = now
        eta_text = f", {eta:.0f} s left" if eta >= 0 else ""
        line = f"indexing {done}/{total} files, {audio_s / 60:.1f} min of audio{eta_text}"
        if self._tty:
            self._stream.write("\r" + line + "\x1b[K" + ("\n" if complete else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


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
        callback = _ProgressPrinter()
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
        retry_for: seconds (0 to 86400, default 300) a call is answered again while the index
            keeps changing under it (another file moved over it, another model's set activated),
            from the first time the call meets that; then it raises ``Error``. 0 raises at once.

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
        retry_for: float = 300,
    ) -> None:
        # Paths are made absolute here (_db_location, _here): the library stays on its index
        # and model when the script changes folder, and a pickled one opens them from anywhere.
        self._db = _db_location(_path(db, "db")) if db else b""
        self._exclude_rule = _text(exclude_rule, "exclude_rule")
        _c.check_where(self._exclude_rule, "exclude_rule")
        self._model = _here(_path(model, "model")) if model else b""
        self._threads = _threads(threads)
        self._text_precision = _precision(text_precision, "text_precision")
        self._config = _here(_path(config, "config")) if config else b""
        self._tokenizer = _here(_path(tokenizer, "tokenizer")) if tokenizer else b""
        self._retry_for = _between(retry_for, "retry_for", 0, 86400)
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

    def __reduce__(self):
        """Pickled as what opens it again (a multiprocessing worker started by spawn or
        forkserver opens the same index with the same settings), as Model is."""
        spec = (self._db, self._model, self._threads, self._text_precision, self._config, self._tokenizer, self._exclude_rule,
                self._retry_for)
        return (_library_from_spec, (spec,))

    def _open(self):
        if self._lib is None:
            self._lib = _c._Library(self._db, self._model, self._config, self._tokenizer, self._threads, self._text_precision, self._exclude_rule,
                                    self._retry_for)
        return self._lib

    def __repr__(self) -> str:
        # A server URL's password is shown as the CLI shows it (***): a repr lands in notebooks,
        # logs and tracebacks, and showed postgresql://user:PASSWORD@host/db as given.
        db = _c.display_location(self._db) if self._db else None
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
        texts = _texts(text, "search") if text is not None and (_given(text) or not _given(seeds)) else []
        d = _diversity(diversity)
        return self._open().search(
            texts, _int(k, "k", 0, lo_means="every result"), _text(aggregate, "aggregate"), _cosine(high, "high"), _cosine(moderate, "moderate"),
            _text(where, "where"), _int(per_artist, "per_artist", 0, lo_means="no limit"), _int(per_album, "per_album", 0, lo_means="no limit"), d,
            bool(include_excluded), _names(seeds, "seeds"), _texts(nots, "nots") if _given(nots) else [],
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
        for name, x in (("chunk", chunk), ("hop", hop)):
            if x < 0:
                raise InvalidInputError(f"{name} must be 0 (the index's) or a positive number of seconds (got {x!r})")
        if isinstance(query, _np.ndarray):
            if sr is None:
                raise InvalidInputError("like: give sr (the samples' rate in Hz) with an array")
            if any(_given(x) for x in (seeds, texts, nots, not_likes)):
                raise InvalidInputError("like: seeds, texts, nots and not_likes go with a file or a track, not with samples")
            return lib.like_samples(query, _rate(sr), k, per_chunk, _between(vote_weight, "vote_weight", 0, 1), chunk, hop, where,
                                    per_artist, per_album, d, bool(include_excluded))
        if sr is not None:
            _not_samples(query, "like")
            raise InvalidInputError("like: sr goes with an array of samples (a file or a track is decoded at its own rate)")
        if isinstance(query, (int, _np.integer)) and not isinstance(query, bool):
            query, track = str(int(query)), True
        first = b"" if query is None else _path(query, "like")
        return lib.like(first, bool(track), k, per_chunk, _between(vote_weight, "vote_weight", 0, 1), bool(exclude_self), chunk, hop,
                        where, per_artist, per_album, d, bool(include_excluded), _names(seeds, "seeds"),
                        _texts(texts, "texts") if _given(texts) else [], _texts(nots, "nots") if _given(nots) else [], _names(not_likes, "not_likes"))

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
            _texts(texts, "texts") if _given(texts) else [],
            _texts(nots, "nots") if _given(nots) else [],
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
        # One seed may be given alone (a path or an id, a numpy id such as search_vectors' I[0, 0] too).
        seed_list = _names([seeds] if isinstance(seeds, (str, bytes, int, _np.integer, _os.PathLike)) else seeds, "seeds")
        text_list = _texts(texts, "playlist") if _given(texts) else []
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


def _library_from_spec(spec: tuple) -> Library:
    db, model, threads, text_precision, config, tokenizer, exclude_rule, *rest = spec
    retry_for = rest[0] if rest else 300  # a spec pickled before retry_for existed
    return Library(db or None, model or None, threads=threads or None, text_precision=text_precision, config=config or None,
                   tokenizer=tokenizer or None, exclude_rule=exclude_rule, retry_for=retry_for)
