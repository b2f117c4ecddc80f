"""Shared helpers of the Python tests (tests/python/): the golden fixtures of tests/data, the
CLI built beside the module, and real audio made with ffmpeg. Run through CTest (Python.*),
which sets PYTHONPATH to build/python, CLAPSEARCH_CLI and CLAPSEARCH_GOLDEN_DIR."""

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.environ.get("CLAPSEARCH_GOLDEN_DIR") or os.path.join(os.path.dirname(HERE), "data")
CLI = os.environ.get("CLAPSEARCH_CLI", "")
CASES = ["tiny-unfused", "tiny-fused"]

# tests/data/README.md: "How closely the engine must agree" (never loosened).
EMBED_MAX_ABS = 1e-4
EMBED_COSINE = 0.99999


def case_dir(case):
    return os.path.join(GOLDEN, case)


def read_safetensors(path):
    """name -> numpy array of a .safetensors file (F32, F64 and I64 tensors)."""
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[base + start : base + end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


_inputs = None


def golden_clip(x):
    """Clip a..g of tests/data/README.md (f and g are made from the stored ones)."""
    global _inputs
    if _inputs is None:
        _inputs = read_safetensors(os.path.join(GOLDEN, "inputs.safetensors"))
    if x == "f":
        return np.concatenate([golden_clip("b"), golden_clip("c")]).astype(np.float32)
    if x == "g":
        return np.concatenate([golden_clip("b"), golden_clip("a")[:100]]).astype(np.float32)
    return np.ascontiguousarray(_inputs["audio_" + x], dtype=np.float32).reshape(-1)


def cases_json(case):
    with open(os.path.join(case_dir(case), "cases.json"), encoding="utf-8") as f:
        return json.load(f)


def deterministic_clips(case):
    """The clips the reference processed without a random choice (what the public API must
    reproduce as it is; tests/model/parity_test.cpp EndToEndFromSamplesAndStrings)."""
    rnd = cases_json(case)["feature_extractor_randomness"]
    return [x for x in "abcdefg" if not ({"crop_start_sample", "crop_start_frames_front_middle_back"} & set(rnd["audio_" + x]))]


def expect_embedding(got, ref, what):
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    assert got.shape == ref.shape, what
    max_abs = float(np.max(np.abs(got - ref)))
    cosine = float(got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref)))
    assert max_abs <= EMBED_MAX_ABS, f"{what}: max |diff| {max_abs}"
    assert cosine >= EMBED_COSINE, f"{what}: cosine {cosine}"


def ffmpeg(path, args):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cmd = f"ffmpeg -nostdin -hide_banner -loglevel error -y {args} '{path}'"
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return path


def write_wav(path, samples, rate):
    """A mono 32-bit float WAV file (what the tests hand to the CLI)."""
    samples = np.ascontiguousarray(samples, dtype="<f4")
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + samples.nbytes) + b"WAVEfmt ")
        f.write(struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32))
        f.write(b"data" + struct.pack("<I", samples.nbytes) + samples.tobytes())
    return path


def cli(*args, check=True):
    assert CLI, "CLAPSEARCH_CLI is not set (run the tests through ctest -R Python)"
    r = subprocess.run([CLI, *args], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, f"clapsearch {' '.join(args)}: {r.stderr}"
    return r


def make_music(folder):
    """Seven short real recordings, several formats and rates (as tests/cli/search_cli_test.cpp)."""
    ffmpeg(f"{folder}/sine_220.flac", '-f lavfi -i "sine=f=220:d=12:sample_rate=44100" -metadata artist="Test Tones" -metadata title="Low A"')
    ffmpeg(f"{folder}/sine_1760.mp3", '-f lavfi -i "sine=f=1760:d=8:sample_rate=48000" -metadata title="High A"')
    ffmpeg(f"{folder}/white.wav", '-f lavfi -i "anoisesrc=c=white:d=10:a=0.3:r=48000:seed=1"')
    ffmpeg(f"{folder}/pink.ogg", '-f lavfi -i "anoisesrc=c=pink:d=6:a=0.3:r=48000:seed=2"')
    ffmpeg(f"{folder}/brown.flac", '-f lavfi -i "anoisesrc=c=brown:d=12:a=0.5:r=48000:seed=3"')
    ffmpeg(f"{folder}/chirp.wav", '-f lavfi -i "aevalsrc=0.5*sin(2*PI*(100+200*t)*t):d=12:s=48000"')
    ffmpeg(f"{folder}/short_square.wav", '-f lavfi -i "aevalsrc=0.3*sgn(sin(2*PI*330*t)):d=3:s=32000"')
    # The same recording twice (a duplicate group).
    ffmpeg(f"{folder}/chirp_copy.flac", f"-i '{folder}/chirp.wav'")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder))


@pytest.fixture(scope="session")
def unfused():
    import clapsearch

    return clapsearch.Model(case_dir("tiny-unfused"))


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """An index of make_music's recordings built by the CLI (test_library.py, test_library_index.py)."""
    root = tmp_path_factory.mktemp("library")
    music = str(root / "music")
    files = make_music(music)
    db = str(root / "library.db")
    cli("index", music, "--db", db, "--model", case_dir("tiny-unfused"), "--quiet")
    return {"db": db, "music": music, "files": files, "root": str(root)}


def cli_json(lib, *args):
    return json.loads(cli(*args, "--db", lib["db"], "--json").stdout)


def white_path(lib):
    return os.path.join(lib["music"], "white.wav")
