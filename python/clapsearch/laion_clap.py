"""A drop-in for LAION's ``laion_clap`` package, on clapsearch's engine (no PyTorch needed).

Change ``import laion_clap`` to ``from clapsearch import laion_clap`` and LAION's example
runs unchanged::

    model = laion_clap.CLAP_Module(enable_fusion=False)
    model.load_ckpt()                       # or model.load_ckpt("630k-audioset-best.pt")
    audio_embed = model.get_audio_embedding_from_filelist(x=["a.wav", "b.flac"], use_tensor=False)
    text_embed = model.get_text_embedding(["a dog barking", "rain"])

Differences from LAION's module, all deliberate:

* ``load_ckpt()`` without a checkpoint loads the Hugging Face conversion of LAION's default
  checkpoint (``laion/clap-htsat-unfused``, or ``laion/clap-htsat-fused`` with
  ``enable_fusion=True``) from the Hugging Face cache, downloading it when online; offline
  and not cached, it raises ``clapsearch.Error`` saying so.
* ``load_ckpt(path)`` reads LAION ``.pt`` files directly; a ``config.json`` and the tokenizer
  files (``vocab.json`` + ``merges.txt``) beside the file are used when present (else the
  architecture is inferred from the tensors and RoBERTa's tokenizer comes from the HF cache).
* Audio longer than 10 s is cropped deterministically (LAION crops at random), so the same
  input always gives the same embedding.
* ``use_tensor=True`` is refused (``clapsearch.Error`` naming the alternative): in LAION's
  module it returns tensors that carry gradients through its PyTorch model, which clapsearch
  does not have. Pass ``use_tensor=False`` (numpy arrays) and ``torch.from_numpy`` the result
  when a tensor without gradients is what you need.
* ``get_audio_embedding_from_data`` also takes a 1-D clip, a torch tensor (converted, then
  quantised) and int16 samples (taken as already quantised: scaled by 1/32767). Like LAION's,
  it takes a list of 1-D clips of any lengths too (one row each).
* ``device`` may name a GPU (LAION's README uses ``torch.device('cuda:0')``): the module runs
  on the CPU all the same, with a RuntimeWarning saying so.
* Texts are cut at 77 tokens as LAION's tokenizer cuts them (``clapsearch.Model.embed_text``
  keeps up to the model's 512).
* ``eval()`` is there (a no-op returning the module) for scripts that call it; the rest of
  ``torch.nn.Module`` is not.

As in LAION's module, ``get_audio_embedding_from_data(x, use_tensor=False)`` quantises every
waveform through 16 bits first, exactly as LAION's ``int16_to_float32(float32_to_int16(x))``
does (clipped to [-1, 1], scaled by 32767, truncated toward zero, divided by 32767) in the
array's own dtype (float32, or float64 as given), so the embeddings are LAION's bit for bit
where the engine is; ``get_audio_embedding_from_filelist`` does the same to the decoded file.
``get_text_embedding`` cuts every text at 77 tokens (bos and eos included), as LAION's tokenizer
call does (``max_length=77, truncation=True``), where ``clapsearch.Model`` cuts at the model's
own limit (512 for RoBERTa) as transformers' ``ClapProcessor`` does.
"""

from __future__ import annotations

import logging as _logging
import os as _os
import warnings as _warnings
from typing import Optional, Sequence

import numpy as _np

from . import Error, InvalidInputError, Model, load_audio
from ._checks import _precision, _texts, _threads

__all__ = ["CLAP_Module"]

#: The Hugging Face conversions of LAION's default checkpoints (630k-audioset-best.pt and
#: 630k-audioset-fusion-best.pt), what ``load_ckpt()`` loads.
DEFAULT_UNFUSED = "laion/clap-htsat-unfused"
DEFAULT_FUSED = "laion/clap-htsat-fused"

#: torch's device types (torch.device("cuda:0").type is "cuda"), taken and run on the CPU.
_TORCH_DEVICES = ("cpu", "cuda", "mps", "xpu", "xla", "hip", "vulkan", "meta", "ipu", "mtia", "privateuseone")

#: LAION's tokenizer call cuts every text at this many tokens (bos and eos included): hook.py's
#: ``tokenizer`` passes ``max_length=77, truncation=True``.
LAION_TEXT_TOKENS = 77

_log = _logging.getLogger(__name__)

_AMODELS = ("HTSAT-tiny", "HTSAT-base", "HTSAT-large", "PANN-14")
_TMODELS = ("roberta", "bert", "bart", "transformer")


def _refuse_tensors(use_tensor, what: str) -> None:
    """LAION's use_tensor=True returns tensors that keep the gradient through its PyTorch model
    (and, for data, skips the 16-bit quantisation so the gradient reaches the input): clapsearch
    computes no gradients, so it says so instead of returning something else under that name."""
    if use_tensor:
        raise Error(
            f"{what}(use_tensor=True): LAION's module returns torch tensors carrying gradients through its "
            "PyTorch model; clapsearch runs its own engine and computes no gradients. Pass use_tensor=False for "
            "numpy arrays (torch.from_numpy(result) gives a tensor without gradients), or use LAION's laion_clap "
            "package where gradients are needed"
        )


# LAION's quantisation (laion_clap/training/data.py), the same numpy expressions so that the
# result is identical bit for bit, in the dtype given: clipped to [-1, 1], times 32767 and
# truncated toward zero by astype(int16); then divided by 32767 (in float64) and cast to float32.
def _float32_to_int16(x: _np.ndarray) -> _np.ndarray:
    x = _np.clip(x, a_min=-1.0, a_max=1.0)
    return (x * 32767.0).astype(_np.int16)


def _int16_to_float32(x: _np.ndarray) -> _np.ndarray:
    return (x / 32767.0).astype(_np.float32)


def _quantised(x: _np.ndarray) -> _np.ndarray:
    """What LAION's get_audio_embedding_from_data embeds for use_tensor=False."""
    # Already 16-bit samples: LAION's int16_to_float32 alone, in either byte order (a big-endian
    # '>i2' array, as read from an AIFF or a raw file, was refused as "not int16": H12P-3).
    if x.dtype.kind == "i" and x.dtype.itemsize == 2:
        return _int16_to_float32(x)
    if x.dtype.kind != "f":
        raise InvalidInputError(f"audio must be float (float32 or float64) or int16 samples (got dtype {x.dtype})")
    if not _np.all(_np.isfinite(x)):
        raise InvalidInputError("audio: a sample is not finite (NaN or infinity)")
    return _int16_to_float32(_float32_to_int16(x))


def _is_path(x) -> bool:
    return isinstance(x, (str, bytes, _os.PathLike))


def _as_array(x, what: str) -> _np.ndarray:
    """A numpy array, or a torch tensor converted to one (detached, on the CPU), or a list of
    numbers (LAION's np.clip makes it a float64 array: so does this)."""
    if isinstance(x, _np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)) and all(isinstance(v, (int, float, _np.integer, _np.floating)) and not isinstance(v, bool)
                                            for v in x):
        return _np.asarray(x, dtype=_np.float64)
    raise InvalidInputError(f"{what} must be a numpy array, a torch tensor or a list of numbers (got {type(x).__name__})")


class CLAP_Module:  # noqa: N801  (LAION's name)
    """LAION's ``CLAP_Module`` on clapsearch's engine.

    Args:
        enable_fusion: whether the checkpoint is a fused one (``630k-audioset-fusion-best.pt``);
            ``load_ckpt`` refuses a checkpoint of the other kind.
        device: accepted for compatibility: the engine runs on the CPU (a GPU device such as
            ``"cuda:0"`` is accepted with a RuntimeWarning saying so).
        amodel, tmodel: LAION's tower names, accepted for compatibility (the architecture is
            read from the checkpoint itself).
        precision: clapsearch's audio-tower precision, ``"fp32"`` (default), ``"bf16"`` or ``"int8"``.
        threads: threads per call, ``None`` = every core.
    """

    def __init__(
        self,
        enable_fusion: bool = False,
        device=None,
        amodel: str = "HTSAT-tiny",
        tmodel: str = "roberta",
        *,
        precision: str = "fp32",
        threads: Optional[int] = None,
    ) -> None:
        if device is not None and str(device) != "cpu":
            # LAION's own README runs on device=torch.device('cuda:0'): the script runs unchanged
            # here, on the CPU (the same embeddings), and says so; a name torch would refuse is
            # refused here too.
            # torch takes a bare ordinal as a CUDA device (torch.device(0) is cuda:0; LAION's
            # model.to(0) too): it was refused here as "not a torch device".
            ordinal = isinstance(device, (int, _np.integer)) and not isinstance(device, bool) and device >= 0
            kind = "cuda" if ordinal else str(device).split(":", 1)[0]
            if ordinal:
                device = f"cuda:{int(device)}"
            if kind not in _TORCH_DEVICES:
                raise InvalidInputError(f"device={device!r}: not a torch device (clapsearch runs on the CPU: device=None or 'cpu')")
            _warnings.warn(f"device={str(device)!r}: clapsearch runs on the CPU (its engine has no {kind} code); "
                           "the embeddings are the same", RuntimeWarning, stacklevel=2)
        if amodel not in _AMODELS:
            raise InvalidInputError(f"amodel={amodel!r}: LAION's audio models are {', '.join(_AMODELS)}")
        if tmodel not in _TMODELS:
            raise InvalidInputError(f"tmodel={tmodel!r}: LAION's text models are {', '.join(_TMODELS)}")
        self.enable_fusion = bool(enable_fusion)
        self.amodel = amodel
        self.tmodel = tmodel
        self._precision = _precision(precision, "precision")
        _threads(threads)  # refused here, not at load_ckpt
        self._threads = threads
        self.model: Optional[Model] = None

    def load_ckpt(self, ckpt: Optional[str] = None, model_id: int = -1, verbose: bool = True) -> None:
        """Loads a checkpoint: a LAION ``.pt`` file, any model ``clapsearch --model`` accepts,
        or (``None``) LAION's default model from the Hugging Face cache.

        Args:
            ckpt: the checkpoint, or None for the default (see the module's documentation).
            model_id: LAION's index of its published checkpoints, read (as by LAION) only when
                ``ckpt`` is None: -1 or the default's own id (1, or 3 with ``enable_fusion``);
                for the others pass the file or hub id instead.
            verbose: log what was loaded at INFO level, as LAION's does (``logging.info``: silent
                unless logging is configured to show INFO).
        """
        # LAION's load_ckpt reads model_id only without a checkpoint (a named file wins, whatever
        # model_id says), and its -1 means 1 (630k-audioset-best.pt) or, fused, 3
        # (630k-audioset-fusion-best.pt): those two are the Hugging Face conversions loaded here.
        default_id = 3 if self.enable_fusion else 1
        # LAION indexes its list of checkpoints with model_id: '1' or 1.0 fail there (TypeError).
        # '1' was refused here as "model_id=1: only LAION's default checkpoint (model_id=1, ...)",
        # and 1.0 taken (hostile pass 22, H22P-4).
        if ckpt is None and (not isinstance(model_id, (int, _np.integer)) or isinstance(model_id, bool)):
            raise InvalidInputError(f"model_id must be an integer, LAION's index of its published checkpoints (got {model_id!r})")
        if ckpt is None and model_id not in (-1, default_id):
            raise InvalidInputError(
                f"model_id={model_id}: only LAION's default checkpoint (model_id={default_id}, "
                f"{'630k-audioset-fusion-best.pt' if self.enable_fusion else '630k-audioset-best.pt'}) is available "
                f"without a file; name the checkpoint instead (a LAION .pt file or a hub id such as {DEFAULT_UNFUSED})"
            )
        config = tokenizer = None
        if ckpt is None:
            spec = DEFAULT_FUSED if self.enable_fusion else DEFAULT_UNFUSED
        elif not _is_path(ckpt):
            # os.fspath's own TypeError named no argument (H22P-3).
            raise InvalidInputError(f"ckpt must be a checkpoint file, a model folder or a hub id: a str, bytes or os.PathLike "
                                    f"(got {type(ckpt).__name__})")
        else:
            # A str from here on (bytes from os.fsencode too): the folder checks below join str names.
            spec = _os.fsdecode(_os.fspath(ckpt))
            if _os.path.isfile(spec):
                folder = _os.path.dirname(_os.path.abspath(spec))
                if _os.path.isfile(_os.path.join(folder, "config.json")):
                    config = folder
                if _os.path.isfile(_os.path.join(folder, "vocab.json")) and _os.path.isfile(_os.path.join(folder, "merges.txt")):
                    tokenizer = folder
        model = Model(spec, precision=self._precision, threads=self._threads, config=config, tokenizer=tokenizer)
        fused = bool(model.config.get("audio_config", {}).get("enable_fusion", False))
        if fused != self.enable_fusion:
            raise Error(
                f"{model.name}: a {'fused' if fused else 'non-fused'} model, and this CLAP_Module was made with "
                f"enable_fusion={self.enable_fusion}"
            )
        self.model = model
        if verbose:
            _log.info("Load the specified checkpoint %s from users.", model.name)

    def _model(self) -> Model:
        if self.model is None:
            raise Error("no checkpoint loaded: call load_ckpt() first")
        return self.model

    def get_audio_embedding_from_filelist(self, x: Sequence[str], use_tensor: bool = False):
        """Embeddings (N, 512) of audio files, each decoded at 48 kHz and quantised to 16 bits
        as LAION's does, then processed as one clip."""
        _refuse_tensors(use_tensor, "get_audio_embedding_from_filelist")
        model = self._model()
        # One path (bytes too, as os.fsencode gives it: bytes were iterated as numbers, "expected
        # str, bytes or os.PathLike object, not int", H22P-3) is a list of one.
        if _is_path(x):
            x = [x]
        if not hasattr(x, "__iter__"):
            raise InvalidInputError(f"get_audio_embedding_from_filelist: x must be a path or a list of paths (got {type(x).__name__})")
        files = list(x)
        for i, f in enumerate(files):
            if not _is_path(f):
                raise InvalidInputError(f"get_audio_embedding_from_filelist: file {i} must be a path: a str, bytes or "
                                        f"os.PathLike (got {type(f).__name__})")
        files = [_os.fspath(f) for f in files]
        if not files:
            raise InvalidInputError("get_audio_embedding_from_filelist: no files")
        clips = [_int16_to_float32(_float32_to_int16(load_audio(f, 48000))) for f in files]
        rows = [model.embed_audio(c, 48000) for c in clips]
        return _np.concatenate(rows, axis=0)

    def get_audio_embedding_from_data(self, x, use_tensor: bool = False):
        """Embeddings (N, 512) of audio at 48 kHz: a (N, T) or (T,) float32 or float64 array in
        [-1, 1], quantised through 16 bits as LAION's module does; an int16 array (scaled by
        1/32767 as LAION's int16_to_float32); or a torch tensor (converted to numpy first)."""
        _refuse_tensors(use_tensor, "get_audio_embedding_from_data")
        model = self._model()
        if isinstance(x, (list, tuple)):
            # LAION's loop (`for audio_waveform in x`) takes a list of clips too, each of its own
            # length, each quantised and padded alone: so is each here, one row per clip.
            if not x:
                raise InvalidInputError("get_audio_embedding_from_data: no clips (an empty list)")
            clips = [_as_array(c, f"clip {i}") for i, c in enumerate(x)]
            for i, c in enumerate(clips):
                if c.ndim != 1:
                    raise InvalidInputError(f"clip {i}: each clip of a list must be 1-D samples (got {c.ndim} dimensions)")
            return _np.concatenate([model.embed_audio(_quantised(c), 48000) for c in clips], axis=0)
        return model.embed_audio(_quantised(_as_array(x, "audio")), 48000)

    def eval(self) -> "CLAP_Module":
        """LAION's module is a torch.nn.Module, and scripts call ``model.eval()``: inference is
        all clapsearch does, so this is a no-op that returns the module, as torch's does."""
        return self

    def get_text_embedding(self, x: Sequence[str], tokenizer=None, use_tensor: bool = False):
        """Embeddings (N, 512) of texts, each cut at 77 tokens as LAION's tokenizer cuts it."""
        _refuse_tensors(use_tensor, "get_text_embedding")
        if tokenizer is not None:
            raise InvalidInputError("tokenizer: clapsearch uses the model's own tokenizer (leave it None)")
        model = self._model()
        texts = _texts(x, "get_text_embedding")
        if not texts:
            raise InvalidInputError("get_text_embedding: no texts")
        return model._m.embed_text(texts, 16, LAION_TEXT_TOKENS)
