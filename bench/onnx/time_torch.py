#!/usr/bin/env python3
"""Times PyTorch's fp32 audio tower, the reference compare.sh puts beside ORT and clapsearch.

usage: time_torch.py CONFIG_JSON [--threads N] [--batch N] [--repeat N]
Needs transformers' ClapModel and PyTorch (the reference environment; bench/onnx/README.md).
Builds the architecture of CONFIG_JSON with random weights (seed 0), as export.py does, and
times get_audio_features on mel features [batch, 1, 1001, 64] (the input ORT's models take):
the best of --repeat calls after one warm-up call. Prints one JSON line with ms_per_window.
"""
import argparse
import json
import time

import torch
from transformers import ClapConfig, ClapModel


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as clapsearch and ORT: denormals cost ~100 cycles each otherwise
    torch.manual_seed(0)
    with open(args.config) as f:
        model = ClapModel(ClapConfig.from_dict(json.load(f))).eval()
    x = torch.randn(args.batch, 1, 1001, 64) * 20 - 40
    with torch.inference_mode():
        model.get_audio_features(input_features=x)  # warm-up: allocator, kernels' first-call setup
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            model.get_audio_features(input_features=x)
            best = min(best, time.perf_counter() - start)
    print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "threads": args.threads,
                      "batch": args.batch, "ms_per_window": best * 1000 / args.batch}))


if __name__ == "__main__":
    main()
