import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import laion_clap as laion_clap

_Path = Union[str, os.PathLike[str]]
ProgressCallback = Callable[[int, int, float, float, float], None]

DEFAULT_MODEL: str
DEFAULT_EXCLUDE_RULE: str
MIN_SAMPLE_RATE: int
MAX_SAMPLE_RATE: int
MAX_THREADS: int
MIN_HOP_SECONDS: float

class Error(Exception): ...
class NotFoundError(Error, FileNotFoundError): ...
class InvalidInputError(Error, ValueError): ...

class Model:
    def __init__(
        self,
        model: _Path = ...,
        precision: str = ...,
        threads: Optional[int] = ...,
        *,
        text_precision: str = ...,
        config: Optional[_Path] = ...,
        tokenizer: Optional[_Path] = ...,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def precision(self) -> str: ...
    @property
    def text_precision(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def logit_scale(self) -> float: ...
    @property
    def logit_scale_text(self) -> float: ...
    @property
    def config(self) -> dict: ...
    def embed_text(self, texts: Union[str, Sequence[str]], *, batch: int = ...) -> npt.NDArray[np.float32]: ...
    def embed_audio(self, data: npt.NDArray[np.float32], sr: int = ..., *, batch: int = ...) -> npt.NDArray[np.float32]: ...
    def embed_audio_files(
        self, paths: Union[_Path, Sequence[_Path]], *, hop: float = ..., batch: int = ...
    ) -> npt.NDArray[np.float32]: ...
    def embed_song(
        self,
        song: Union[_Path, npt.NDArray[np.float32]],
        sr: Optional[int] = ...,
        *,
        window: float = ...,
        hop: float = ...,
        silence_db: float = ...,
        batch: int = ...,
    ) -> Dict[str, object]: ...

def load_audio(path: _Path, sr: int = ...) -> npt.NDArray[np.float32]: ...
def index(
    paths: Union[_Path, Sequence[_Path]],
    db: Optional[_Path] = ...,
    model: Optional[str] = ...,
    *,
    progress: Union[bool, ProgressCallback] = ...,
    on_file: Optional[Callable[[str, str, str], None]] = ...,
    window: Optional[float] = ...,
    hop: Optional[float] = ...,
    precision: Optional[str] = ...,
    threads: Optional[int] = ...,
    batch: int = ...,
    rebuild: bool = ...,
    config: Optional[_Path] = ...,
    tokenizer: Optional[_Path] = ...,
) -> dict: ...

class Library:
    def __init__(
        self,
        db: Optional[_Path] = ...,
        model: Optional[str] = ...,
        *,
        threads: Optional[int] = ...,
        text_precision: str = ...,
        config: Optional[_Path] = ...,
        tokenizer: Optional[_Path] = ...,
        exclude_rule: str = ...,
        retry_for: float = ...,
    ) -> None: ...
    @property
    def db_path(self) -> str: ...
    @property
    def dim(self) -> int: ...
    def index(self, paths: Union[_Path, Sequence[_Path]], *, progress: Union[bool, ProgressCallback] = ..., **options: object) -> dict: ...
    def search(
        self,
        text: Union[str, Sequence[str], None],
        k: int = ...,
        *,
        aggregate: str = ...,
        high: float = ...,
        moderate: float = ...,
        where: str = ...,
        per_artist: int = ...,
        per_album: int = ...,
        diversity: Optional[float] = ...,
        include_excluded: bool = ...,
        seeds: Sequence[Union[_Path, int]] = ...,
        nots: Sequence[str] = ...,
        not_likes: Sequence[Union[_Path, int]] = ...,
    ) -> List[dict]: ...
    def like(
        self,
        query: Union[_Path, int, npt.NDArray[np.float32], None],
        k: int = ...,
        *,
        sr: Optional[int] = ...,
        track: bool = ...,
        per_chunk: int = ...,
        vote_weight: float = ...,
        exclude_self: bool = ...,
        chunk: float = ...,
        hop: float = ...,
        where: str = ...,
        per_artist: int = ...,
        per_album: int = ...,
        diversity: Optional[float] = ...,
        include_excluded: bool = ...,
        seeds: Sequence[Union[_Path, int]] = ...,
        texts: Sequence[str] = ...,
        nots: Sequence[str] = ...,
        not_likes: Sequence[Union[_Path, int]] = ...,
    ) -> List[dict]: ...
    def similar(
        self,
        track: Union[_Path, int, None] = ...,
        k: int = ...,
        *,
        where: str = ...,
        per_artist: int = ...,
        per_album: int = ...,
        seeds: Sequence[Union[_Path, int]] = ...,
        texts: Sequence[str] = ...,
        nots: Sequence[str] = ...,
        not_likes: Sequence[Union[_Path, int]] = ...,
        diversity: Optional[float] = ...,
        include_excluded: bool = ...,
    ) -> List[dict]: ...
    def artists(
        self, text: Optional[str] = ..., k: int = ..., *, like: Optional[str] = ..., where: str = ..., include_excluded: bool = ...
    ) -> List[dict]: ...
    def albums(
        self,
        text: Optional[str] = ...,
        k: int = ...,
        *,
        like: Optional[str] = ...,
        artist: str = ...,
        where: str = ...,
        include_excluded: bool = ...,
    ) -> List[dict]: ...
    def playlist(
        self,
        seeds: Sequence[Union[str, int]] = ...,
        texts: Union[str, Sequence[str]] = ...,
        length: int = ...,
        *,
        diversity: float = ...,
        where: str = ...,
        per_artist: int = ...,
        per_album: int = ...,
        include_excluded: bool = ...,
    ) -> List[dict]: ...
    def path(
        self, start: Union[str, int], end: Union[str, int], length: int = ..., *, where: str = ..., include_excluded: bool = ...
    ) -> List[dict]: ...
    def duplicates(self, *, threshold: float = ..., min_duration_ratio: float = ...) -> List[dict]: ...
    def tracks(self) -> List[dict]: ...
    def search_vectors(self, queries: npt.NDArray[np.float32], k: int = ...) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...
