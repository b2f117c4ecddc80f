"""clapsearch.Model (one CLAP model: text, audio, files, whole songs) and load_audio."""

from __future__ import annotations

import copy as _copy
import json as _json
import os as _os
from typing import Dict, Optional, Sequence, Union

from ._checks import (
    _MIN_SILENCE_DB,
    _audio_array,
    _batch,
    _hop,
    _between,
    _here,
    _not_samples,
    _path,
    _paths,
    _precision,
    _rate,
    _seconds,
    _texts,
    _threads,
)
from ._native import InvalidInputError, _c, _np

#: The model used when none is named (a Hugging Face hub id, fetched into the HF cache).
DEFAULT_MODEL: str = _c.default_model()


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
        # Local files made absolute now (_here): a pickled model loads the same files from a
        # worker in another folder.
        spec = (
            _here(_path(model, "model")),
            _precision(precision, "precision"),
            _precision(text_precision, "text_precision"),
            _threads(threads),
            _here(_path(config, "config")) if config else b"",
            _here(_path(tokenizer, "tokenizer")) if tokenizer else b"",
        )
        self._m = _c._Model(*spec)
        self._spec = spec
        self._config: Optional[dict] = None

    def __reduce__(self):
        """Pickled as what loads it again: a multiprocessing worker started by spawn or
        forkserver (macOS's and Windows' default, and Linux's from Python 3.14), or given the
        model as an argument, loads the same model from the same files (the compiled engine
        itself cannot be pickled: that said "cannot pickle 'clapsearch._clapsearch._Model'")."""
        return (_model_from_spec, (self._spec,))

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
        return _copy.deepcopy(self._config)  # a caller's edit of a nested dict must not change the model's

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
        return self._m.embed_audio_files(files, _hop(hop), _batch(batch))

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
        rate = self._m.sample_rate
        window, hop = _seconds(window, "window", rate), _hop(hop)
        silence_db = _between(silence_db, "silence_db", _MIN_SILENCE_DB, 0)  # the index's --silence-db range
        if isinstance(song, _np.ndarray):
            if sr is None:
                raise InvalidInputError("embed_song: give sr (the samples' rate in Hz) with an array")
            return self._m.embed_song(
                song, _rate(sr), window, hop, silence_db, _batch(batch)
            )
        if sr is not None:
            _not_samples(song, "embed_song")
            raise InvalidInputError("embed_song: sr goes with an array of samples (a file is decoded at its own rate)")
        return self._m.embed_song_file(
            _path(song, "embed_song"), window, hop, silence_db, _batch(batch)
        )


def _model_from_spec(spec: tuple) -> "Model":
    model, precision, text_precision, threads, config, tokenizer = spec
    return Model(model, precision, threads or None, text_precision=text_precision, config=config or None, tokenizer=tokenizer or None)


def load_audio(path: Union[str, "_os.PathLike[str]"], sr: int = 48000) -> _np.ndarray:
    """Decodes any file FFmpeg reads to mono float32 samples at ``sr`` Hz (the CLI's decoder
    and resampler)."""
    return _c.load_audio(_path(path, "load_audio"), _rate(sr))
