#!/usr/bin/env node
// Runs ONNX models with ONNX Runtime (CPU, onnxruntime-node from tests/peers/node_modules) on
// float32 inputs read from .bin files and writes every output as raw little-endian float32.
//
//   node tests/peers/ort_run.js manifest.json [--time N]
//
// manifest.json: [{"model": "a.onnx", "inputs": [{"name": "x", "file": "x.bin", "dims": [1,3,8,8]}],
//                  "outputs": [{"name": "y", "file": "y.ort.bin"}], "split_batch": false}, ...]
//   (paths relative to the manifest; split_batch: run a batch-1 model image by image and concatenate)
// With --time N each model is also run N times after one warm-up and the mean wall time per run
// (milliseconds) is printed as JSON: {"model": ..., "ms": ...}, one line per model.
// Threads: intra-op threads = PANOPTES_ORT_THREADS or 0 (ORT's default: one per core).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

function readF32(file, numel) {
  const buf = fs.readFileSync(file);
  if (buf.length !== numel * 4) throw new Error(`${file}: ${buf.length} bytes, expected ${numel * 4}`);
  const out = new Float32Array(numel);
  for (let i = 0; i < numel; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 1) {
    console.error('usage: ort_run.js manifest.json [--time N]');
    process.exit(2);
  }
  const manifestPath = args[0];
  const timeIdx = args.indexOf('--time');
  const reps = timeIdx >= 0 ? parseInt(args[timeIdx + 1], 10) : 0;
  const dir = path.dirname(path.resolve(manifestPath));
  const entries = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const threads = parseInt(process.env.PANOPTES_ORT_THREADS || '0', 10);
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  if (threads > 0) { opts.intraOpNumThreads = threads; opts.interOpNumThreads = 1; }
  const sessions = new Map();
  for (const e of entries) {
    const modelPath = path.resolve(dir, e.model);
    let sess = sessions.get(modelPath);
    if (!sess) {
      sess = await ort.InferenceSession.create(modelPath, opts);
      sessions.set(modelPath, sess);
    }
    const feeds = {};
    for (const inp of e.inputs) {
      const numel = inp.dims.reduce((a, b) => a * b, 1);
      feeds[inp.name] = new ort.Tensor('float32', readF32(path.resolve(dir, inp.file), numel), inp.dims);
    }
    // split_batch: a model exported with batch 1 is run image by image and its outputs concatenated
    // along dim 0 (what Panoptes computes in one batch).
    const B = e.inputs[0].dims[0];
    const runs = [];
    if (e.split_batch && B > 1) {
      for (let b = 0; b < B; b++) {
        const f = {};
        for (const inp of e.inputs) {
          const per = inp.dims.slice(1).reduce((a, c) => a * c, 1);
          f[inp.name] = new ort.Tensor('float32', feeds[inp.name].data.slice(b * per, (b + 1) * per),
            [1, ...inp.dims.slice(1)]);
        }
        runs.push(await sess.run(f));
      }
    } else {
      runs.push(await sess.run(feeds));
    }
    for (const o of e.outputs) {
      const parts = runs.map((r) => r[o.name]);
      if (parts.some((t) => !t)) throw new Error(`${e.model}: no output named ${o.name}`);
      const data = Float32Array.from(parts.flatMap((t) => Array.from(t.data, Number)));
      fs.writeFileSync(path.resolve(dir, o.file), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
    if (reps > 0) {
      await sess.run(feeds);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) await sess.run(feeds);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6 / reps;
      console.log(JSON.stringify({ model: e.model, batch: e.inputs[0].dims[0], ms }));
    }
  }
}

main().catch((err) => {
  console.error('ort_run.js:', err && err.message ? err.message : err);
  process.exit(1);
});
