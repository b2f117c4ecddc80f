from typing import Any, Optional, Sequence

import numpy as np

from . import Model

DEFAULT_UNFUSED: str
DEFAULT_FUSED: str

class CLAP_Module:
    enable_fusion: bool
    amodel: str
    tmodel: str
    model: Optional[Model]
    def __init__(
        self,
        enable_fusion: bool = ...,
        device: Any = ...,
        amodel: str = ...,
        tmodel: str = ...,
        *,
        precision: str = ...,
        threads: Optional[int] = ...,
    ) -> None: ...
    def load_ckpt(self, ckpt: Optional[str] = ..., model_id: int = ..., verbose: bool = ...) -> None: ...
    def get_audio_embedding_from_filelist(self, x: Sequence[str], use_tensor: bool = ...) -> Any: ...
    def get_audio_embedding_from_data(self, x: Any, use_tensor: bool = ...) -> Any: ...
    def get_text_embedding(self, x: Sequence[str], tokenizer: Any = ..., use_tensor: bool = ...) -> Any: ...
    def eval(self) -> "CLAP_Module": ...
