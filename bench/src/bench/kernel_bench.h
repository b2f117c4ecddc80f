// How close the GEMM kernels come to what the CPU can do: `clapsearch bench --kernels`.
//
// Two measurements, one core each (the audio tower runs one chunk of rows per thread):
// - the instruction peaks: register-only loops of independent multiply-adds (vfmadd231ps,
//   vdpbf16ps, vpdpbusd on 512-bit registers, where the CPU has them), in operations per second;
//   no kernel can beat them;
// - linear() of each precision at the audio tower's own layer shapes (rows of one chunk, the
//   widths of every stage), as a rate and as a share of that precision's instruction peak.
// The gap between the two is what a faster kernel can win; the gap between the shapes' rates
// and the tower's whole rate (`clapsearch bench`) is what lies outside the GEMMs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace clap {

struct InstructionPeak {
  std::string instruction;  // "vfmadd231ps zmm" ...
  std::string precision;    // the linear() precision it bounds: "fp32", "bf16", "int8"
  double gops = 0;          // operations (a multiply-add is two) per second, one core, x 1e9
  bool ceiling = true;      // false: linear() of this precision runs past it (int8 or bf16 on AMX tiles)
};

struct LayerShapeRate {
  std::string layer;  // "stage 0 qkv" ...
  int64_t rows = 0, in = 0, out = 0;
  double gops[3] = {0, 0, 0};  // fp32, bf16, int8: one core, x 1e9
};

struct KernelBenchReport {
  std::vector<InstructionPeak> peaks;  // empty where not measured (no AVX-512: said in `note`)
  std::vector<LayerShapeRate> shapes;
  std::string note;
};

KernelBenchReport bench_kernels(const AudioConfig& audio);

}  // namespace clap
