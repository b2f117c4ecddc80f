// Times one ONNX model of the CLAP audio tower with ONNX Runtime (bench/onnx/README.md).
//
//   node time.mjs MODEL.onnx [--threads 2] [--batch 8] [--repeat 5] [--check DIR]
//
// Prints one JSON line: the best milliseconds per 10 s window over --repeat timed calls of one
// batch (after two warm-up calls), and with --check the worst cosine between ONNX Runtime's
// embeddings and PyTorch's for the inputs export.py saved in DIR. Settings as a careful user
// would choose them: 2 intra-op threads, 1 inter-op thread, every graph optimisation, and no
// spinning thread pool (spinning slows ONNX Runtime 3-5x when anything else runs on the machine).
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';

function args(argv) {
  const o = {threads: 2, batch: 8, repeat: 5, check: null, model: null};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--threads') o.threads = Number(argv[++i]);
    else if (a === '--batch') o.batch = Number(argv[++i]);
    else if (a === '--repeat') o.repeat = Number(argv[++i]);
    else if (a === '--check') o.check = argv[++i];
    else if (!o.model && !a.startsWith('--')) o.model = a;
    else throw new Error(`time.mjs: unknown argument ${a}`);
  }
  if (!o.model) throw new Error('usage: node time.mjs MODEL.onnx [--threads N] [--batch N] [--repeat N] [--check DIR]');
  return o;
}

// A float32 .npy file (numpy's format 1.0: magic, header length, a Python dict, then the data).
function readNpy(file) {
  const b = fs.readFileSync(file);
  const headerLength = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + headerLength);
  if (!header.includes("'descr': '<f4'")) throw new Error(`${file}: not little-endian float32`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + headerLength, b.byteOffset + b.length));
  return {shape, data};
}

function worstCosine(a, b, dim) {
  let worst = 1;
  for (let r = 0; r < a.length / dim; ++r) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = r * dim; i < (r + 1) * dim; ++i) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
    worst = Math.min(worst, ab / Math.sqrt(aa * bb));
  }
  return worst;
}

const o = args(process.argv.slice(2));
const session = await ort.InferenceSession.create(o.model, {
  intraOpNumThreads: o.threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  extra: {session: {intra_op: {allow_spinning: '0'}}},
});
const result = {model: path.basename(o.model), threads: o.threads, batch: o.batch};
if (o.check) {
  const x = readNpy(path.join(o.check, 'check_input.npy'));
  const want = readNpy(path.join(o.check, 'check_output.npy'));
  const got = await session.run({input_features: new ort.Tensor('float32', x.data, x.shape)});
  result.worst_cosine_vs_pytorch = worstCosine(got.embedding.data, want.data, want.shape[1]);
}
// Mel-like values (dB around -40): the speed of a dense model does not depend on them.
const input = new Float32Array(o.batch * 1001 * 64);
let seed = 1;
for (let i = 0; i < input.length; ++i) { seed = (seed * 1103515245 + 12345) >>> 0; input[i] = (seed / 2 ** 32) * 40 - 60; }
const feeds = {input_features: new ort.Tensor('float32', input, [o.batch, 1, 1001, 64])};
for (let i = 0; i < 2; ++i) await session.run(feeds);
let best = Infinity;
for (let i = 0; i < o.repeat; ++i) {
  const t0 = process.hrtime.bigint();
  await session.run(feeds);
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
}
result.ms_per_window = best / o.batch;
console.log(JSON.stringify(result));
