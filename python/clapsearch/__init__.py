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

# The package is split along its concerns: _native (the compiled engine and numpy), _checks
# (every argument's check), _model (Model, load_audio), _library (Library, index). Every public
# name is defined here as before, and its __module__ is "clapsearch", so help(), repr() and
# pickling name clapsearch.Model as they always did.
from ._native import Error, InvalidInputError, NotFoundError
from ._checks import MAX_SAMPLE_RATE, MAX_THREADS, MIN_HOP_SECONDS, MIN_SAMPLE_RATE
from ._model import DEFAULT_MODEL, Model, load_audio
from ._library import DEFAULT_EXCLUDE_RULE, Library, ProgressCallback, index  # noqa: F401  (ProgressCallback: a type for hints)

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
    "MIN_HOP_SECONDS",
    "laion_clap",
]

for _public in (Model, Library, load_audio, index):
    _public.__module__ = __name__
del _public

from . import laion_clap  # noqa: E402  (the drop-in needs Model above)
