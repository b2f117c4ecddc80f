#!/usr/bin/env python3
"""Exports a CLAP audio tower to ONNX, fp32 and ONNX Runtime's dynamic int8 form (bench/onnx/README.md).

usage: export.py CONFIG_JSON OUT_DIR
Needs transformers' ClapModel and PyTorch (the reference environment) and Debian's python3-onnx.
Writes OUT_DIR/audio_fp32.onnx and OUT_DIR/audio_int8.onnx: mel features [batch, 1, 1001, 64] in,
L2-normalised 512-d embeddings out, the graph `clapsearch embed` computes after its own mel step.

Weights are random (seed 0): the comparison is of speed, and each engine's fidelity to its own fp32
is measured by that engine's tools. The int8 model is what onnxruntime.quantization.quantize_dynamic
makes with its defaults (that tool is Python-only and not packaged by Debian): every MatMul with a
constant weight becomes DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(x_scale * w_scale),
weights int8 symmetric per tensor, activations uint8 asymmetric per call. ONNX Runtime's optimiser
fuses that pattern into its MLAS integer GEMM (VNNI where the CPU has it).
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from transformers import ClapConfig, ClapModel


class AudioTower(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_features):
        e = self.model.get_audio_features(input_features=input_features)
        return e / e.norm(dim=-1, keepdim=True)


def export_fp32(config_path, path):
    torch.manual_seed(0)
    model = ClapModel(ClapConfig.from_dict(json.load(open(config_path)))).eval()
    x = torch.randn(2, 1, 1001, 64) * 20 - 40
    with torch.inference_mode():
        want = AudioTower(model)(x).numpy()
    torch.onnx.export(AudioTower(model), (x,), path, input_names=["input_features"], output_names=["embedding"],
                      dynamic_axes={"input_features": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=17)
    return x.numpy(), want


def quantize_dynamic(src, dst):
    """Rewrites each MatMul whose second input is a constant 2-D float tensor, as quantize_dynamic does."""
    m = onnx.load(src)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    nodes, converted = [], 0
    for n in g.node:
        w = inits.get(n.input[1]) if n.op_type == "MatMul" and len(n.input) == 2 else None
        if w is None or len(w.dims) != 2 or w.data_type != onnx.TensorProto.FLOAT:
            nodes.append(n)
            continue
        wf = numpy_helper.to_array(w)
        w_scale = max(float(np.abs(wf).max()), 1e-12) / 127.0
        wq = np.clip(np.round(wf / w_scale), -127, 127).astype(np.int8)
        p = f"{n.name or n.output[0]}_q"
        g.initializer.extend([numpy_helper.from_array(wq, p + "_w"),
                              numpy_helper.from_array(np.array(w_scale, np.float32), p + "_w_scale"),
                              numpy_helper.from_array(np.array(0, np.int8), p + "_w_zero")])
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [n.input[0]], [p + "_x", p + "_x_scale", p + "_x_zero"]),
            helper.make_node("MatMulInteger", [p + "_x", p + "_w", p + "_x_zero", p + "_w_zero"], [p + "_acc"]),
            helper.make_node("Cast", [p + "_acc"], [p + "_accf"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", [p + "_x_scale", p + "_w_scale"], [p + "_scale"]),
            helper.make_node("Mul", [p + "_accf", p + "_scale"], [n.output[0]]),
        ]
        converted += 1
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    return converted


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    config, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    fp32, int8 = os.path.join(out, "audio_fp32.onnx"), os.path.join(out, "audio_int8.onnx")
    x, want = export_fp32(config, fp32)
    np.save(os.path.join(out, "check_input.npy"), x)
    np.save(os.path.join(out, "check_output.npy"), want)
    n = quantize_dynamic(fp32, int8)
    print(f"export.py: {fp32}, {int8} ({n} MatMuls in int8)")


if __name__ == "__main__":
    main()
