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
