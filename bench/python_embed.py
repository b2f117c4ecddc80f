#!/usr/bin/env python3
"""Embedding 64 ten-second clips: clapsearch from Python (numpy in, numpy out) against the
same clips through the CLI (`clapsearch embed --audio ... --format npy`).

    PYTHONPATH=build/python /usr/bin/python3 bench/python_embed.py --cli build/clapsearch [--threads 1]

The model is a full-size architecture with generated weights (bench/configs/, made once by
`clapsearch bench --config`, cached in $XDG_CACHE_HOME/clapsearch/bench/): it ranks nothing,
so only speed is reported. The CLI's time includes starting the process and loading the
model; that part is measured apart (the CLI on one clip) and subtracted, so both sides are the
time spent embedding the clips. Rounds alternate Python and the CLI (a shared machine's busy
minutes hit both); each round prints wall and CPU time (user + system) per clip, and the
ratio. Python, embed_audio_files and the CLI give bit-identical embeddings (checked).
"""

import argparse
import hashlib
import os
import platform
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

import clapsearch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def model_dir(cli, config, tokenizer):
    """The cached random-weight snapshot of `config` (made by `clapsearch bench` when missing)."""
    with open(config, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    d = os.path.join(cache, "clapsearch", "bench", digest)
    if not os.path.isfile(os.path.join(d, "model.safetensors")):
        subprocess.run([cli, "bench", "--config", config, "--tokenizer", tokenizer, "--windows", "1", "--repeat", "1"],
                       check=True, stdout=subprocess.DEVNULL)
    return d


def clips(n, seconds, rate=48000):
    """n deterministic clips: tones over noise, each different."""
    rng = np.random.default_rng(0)
    t = np.arange(seconds * rate, dtype=np.float64) / rate
    out = np.empty((n, t.size), dtype=np.float32)
    for i in range(n):
        f = 110.0 * 2 ** (i / 12)
        out[i] = (0.3 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    return out


def write_wav(path, samples, rate):
    samples = np.ascontiguousarray(samples, dtype="<f4")
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + samples.nbytes) + b"WAVEfmt ")
        f.write(struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32))
        f.write(b"data" + struct.pack("<I", samples.nbytes) + samples.tobytes())


def timed(fn, repeat):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "clapsearch"))
    p.add_argument("--config", default=os.path.join(ROOT, "bench", "configs", "clap-htsat-unfused", "config.json"))
    p.add_argument("--tokenizer", default=os.path.join(ROOT, "tests", "data", "tiny-unfused"))
    p.add_argument("--model", help="a model folder instead of the generated one")
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3, help="alternating rounds")
    p.add_argument("--threads", type=int, default=0, help="threads of both (0 = every core)")
    a = p.parse_args()

    model_path = a.model or model_dir(a.cli, a.config, a.tokenizer)
    data = clips(a.clips, a.seconds)
    tmp = tempfile.mkdtemp(prefix="clapsearch-bench-")
    try:
        paths = []
        for i, c in enumerate(data):
            paths.append(os.path.join(tmp, f"clip{i:03d}.wav"))
            write_wav(paths[-1], c, 48000)

        model = clapsearch.Model(model_path, threads=a.threads or None)
        model.embed_audio(data[:1])  # packs the audio tower's weights (first call), as the CLI does inside its run
        out = os.path.join(tmp, "out.npy")
        cmd = [a.cli, "embed", "--model", model_path, "--threads", str(a.threads), "--batch", str(a.batch), "--format", "npy",
               "--output", out]
        for f in paths:
            cmd += ["--audio", f]
        one = [a.cli, "embed", "--model", model_path, "--threads", str(a.threads), "--audio", paths[0], "--format", "npy",
               "--output", out + "1"]

        def cpu(who):
            r = resource.getrusage(who)
            return r.ru_utime + r.ru_stime

        def run(c):
            start, cpu0 = time.perf_counter(), cpu(resource.RUSAGE_CHILDREN)
            subprocess.run(c, check=True)
            return time.perf_counter() - start, cpu(resource.RUSAGE_CHILDREN) - cpu0

        # Rounds alternate the three measurements, so a busy minute on a shared machine hits
        # both sides; each round's ratio is reported, and the median.
        rounds = []
        for _ in range(a.repeat):
            start, cpu0 = time.perf_counter(), cpu(resource.RUSAGE_SELF)
            emb_py = model.embed_audio(data, 48000, batch=a.batch)
            t_py, c_py = time.perf_counter() - start, cpu(resource.RUSAGE_SELF) - cpu0
            t_cli, c_cli = run(cmd)
            t_one, c_one = run(one)  # process start + model load + one clip
            n = a.clips - 1
            rounds.append((t_py / a.clips, (t_cli - t_one) / n, c_py / a.clips, (c_cli - c_one) / n))
        emb_cli = np.load(out)
        assert np.array_equal(emb_py, emb_cli), "Python and the CLI disagree"
        t_files, emb_files = timed(lambda: model.embed_audio_files(paths, batch=a.batch), 1)
        assert np.array_equal(emb_files, emb_cli), "embed_audio_files and the CLI disagree"

        print(f"model      {model_path} ({os.path.basename(os.path.dirname(a.config)) if not a.model else a.model}, random weights)")
        print(f"machine    {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"clips      {a.clips} x {a.seconds:g} s, batch {a.batch}, {a.repeat} alternating rounds")
        print(f"threads    {a.threads or 'every core'}; per clip: wall ms and CPU ms (user + system), python / cli")
        wall, cpu_r = [], []
        for i, (py, cl, cpy, ccl) in enumerate(rounds, 1):
            wall.append(py / cl)
            cpu_r.append(cpy / ccl)
            print(f"round {i}    wall {1000 * py:7.1f} / {1000 * cl:7.1f} = {py / cl:.3f}    "
                  f"cpu {1000 * cpy:7.1f} / {1000 * ccl:7.1f} = {cpy / ccl:.3f}")
        print(f"median     wall python/cli {float(np.median(wall)):.3f}   cpu python/cli {float(np.median(cpu_r)):.3f}")
        print(f"files      embed_audio_files {1000 * t_files / a.clips:7.1f} ms/clip (one pass)")
        print("identical  yes (bit for bit: numpy, files and the CLI)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
