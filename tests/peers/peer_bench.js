#!/usr/bin/env node
// A reference runtime kept running beside a benchmark, so that Panoptes' engine and the peer are
// timed in turns in one process tree and see the same machine load (bench/bench_engine_ort.c).
//
//   node tests/peers/peer_bench.js ort|tfjs MODEL INPUT.bin d0,d1,... THREADS OUTDIR
//
// ort:  ONNX Runtime (onnxruntime-node, CPU execution provider, graph optimisation 'all',
//       intraOpNumThreads THREADS, interOpNumThreads 1), the input fed as one batch.
// tfjs: @tensorflow/tfjs on its wasm backend (single-threaded in Node: the build has no
//       multithread support there), image by image (converted graphs are fixed at batch 1).
// At start it loads the model, runs once, writes each output as raw float32 to OUTDIR/<i>.bin
// (ort: the session's output order; tfjs: sorted names, as Panoptes lists them) and prints
// {"ready": true, "version": "...", "outputs": [[dims]...]}. Then for each stdin line "run N" it runs N times and
// prints {"ms": [wall ms of each run], "cpu_ms": CPU ms of the process over them (all threads)};
// "quit" (or end of input) exits.
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

function readF32(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

async function ortPeer(model, input, dims, threads) {
  const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads,
    interOpNumThreads: 1 };
  const sess = await ort.InferenceSession.create(model, opts);
  const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', input, dims) };
  return {
    version: `onnxruntime-node ${require(path.join(__dirname, 'node_modules', 'onnxruntime-node', 'package.json')).version}`,
    run: async () => {
      const r = await sess.run(feeds);
      return sess.outputNames.map((n) => r[n]);
    },
    outputs: (r) => r.map((t) => ({ dims: t.dims, data: t.data })),
  };
}

async function tfjsPeer(model, input, dims) {
  const { tf, loadModel } = require('./tfjs_model');
  await tf.setBackend('wasm');
  await tf.ready();
  const m = await loadModel(model);
  const names = m.outputs.map((o) => o.name).sort();
  const per = input.length / dims[0];
  const feeds = [];
  for (let b = 0; b < dims[0]; b++)
    feeds.push({ [m.inputs[0].name]: tf.tensor(input.subarray(b * per, (b + 1) * per), [1, ...dims.slice(1)]) });
  return {
    version: `tfjs ${tf.version.tfjs} wasm`,
    run: async () => {
      const all = [];
      for (const f of feeds) {
        let o = m.execute(f, names);
        if (!Array.isArray(o)) o = [o];
        const d = [];
        for (const t of o) d.push({ dims: t.shape, data: await t.data() });
        tf.dispose(o);
        all.push(d);
      }
      return all;
    },
    // batch 1 in the benchmark: the first image's outputs
    outputs: (r) => r[0],
  };
}

async function main() {
  const [kind, model, inputFile, dimStr, threadStr, outDir] = process.argv.slice(2);
  if (!outDir || (kind !== 'ort' && kind !== 'tfjs')) {
    console.error('usage: peer_bench.js ort|tfjs MODEL INPUT.bin d0,d1,... THREADS OUTDIR');
    process.exit(2);
  }
  const dims = dimStr.split(',').map(Number);
  const input = readF32(inputFile);
  const peer = kind === 'ort' ? await ortPeer(model, input, dims, parseInt(threadStr, 10) || 1)
    : await tfjsPeer(model, input, dims);
  const outs = peer.outputs(await peer.run());
  fs.mkdirSync(outDir, { recursive: true });
  outs.forEach((o, i) => {
    const d = Float32Array.from(o.data, Number);
    fs.writeFileSync(path.join(outDir, `${i}.bin`), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  });
  console.log(JSON.stringify({ ready: true, version: peer.version, outputs: outs.map((o) => Array.from(o.dims, Number)) }));
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const m = /^run (\d+)/.exec(line.trim());
    if (!m) break;
    const ms = [];
    const c0 = process.cpuUsage();
    for (let i = 0; i < parseInt(m[1], 10); i++) {
      const t0 = process.hrtime.bigint();
      await peer.run();
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const c = process.cpuUsage(c0);
    console.log(JSON.stringify({ ms, cpu_ms: (c.user + c.system) / 1e3 }));
  }
  process.exit(0);
}

main().catch((e) => { console.error('peer_bench.js:', e && e.stack ? e.stack : e); process.exit(1); });
