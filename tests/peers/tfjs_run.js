#!/usr/bin/env node
// Runs a TF.js graph model with @tensorflow/tfjs (wasm backend) on raw float32 inputs and writes
// every output as raw float32: the peer Panoptes' engine is compared with.
//
//   node tests/peers/tfjs_run.js MODEL.json OUTDIR INPUT.bin[:d0,d1,...] [more inputs...]
//     [--repeat N]   run N more times after a warm-up and report the mean time
//
// Inputs bind to the model's inputs in order (model.inputs); a ":dims" suffix overrides the
// shape (default: the model's declared shape). Outputs are written as OUTDIR/<i>.bin in the order
// of the *sorted* output names (Identity, Identity_1, ...; the order Panoptes uses), and
// OUTDIR/outputs.json lists {name, shape} per file plus {"ms": mean ms per image} when --repeat
// is given. A batch > 1 runs image by image (the converted graph is fixed at batch 1). Weight shards are read from beside MODEL.json (tf.io.fromMemory: no fetch needed).
'use strict';
const fs = require('fs');
const path = require('path');
const { tf, loadModel } = require('./tfjs_model');

async function main() {
  const args = process.argv.slice(2);
  let repeat = 0;
  const ri = args.indexOf('--repeat');
  if (ri >= 0) { repeat = parseInt(args[ri + 1], 10) || 0; args.splice(ri, 2); }
  if (args.length < 3) {
    console.error('usage: tfjs_run.js MODEL.json OUTDIR INPUT.bin[:dims] ... [--repeat N]');
    process.exit(2);
  }
  const [modelPath, outDir, ...inputs] = args;
  await tf.setBackend('wasm');
  await tf.ready();
  const model = await loadModel(modelPath);
  // The converted graph is fixed at batch 1 (NanoDet's Reshape targets say 1): a batch of B is
  // run image by image and the outputs are concatenated along axis 0.
  const feedsList = [];
  let batch = 1;
  inputs.forEach((spec, i) => {
    const [file, dimStr] = spec.split(':');
    const info = model.inputs[i];
    const shape = dimStr ? dimStr.split(',').map(Number) : info.shape;
    const buf = fs.readFileSync(file);
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    batch = shape[0];
    const per = data.length / shape[0];
    for (let b = 0; b < shape[0]; b++) {
      feedsList[b] = feedsList[b] || {};
      feedsList[b][info.name] = tf.tensor(data.subarray(b * per, (b + 1) * per), [1, ...shape.slice(1)], 'float32');
    }
  });
  const names = model.outputs.map((o) => o.name).sort();
  const perImage = [];
  for (let b = 0; b < batch; b++) {
    let o = model.execute(feedsList[b], names);
    if (!Array.isArray(o)) o = [o];
    perImage.push(o);
  }
  const outs = names.map((_, i) => (batch === 1 ? perImage[0][i] : tf.concat(perImage.map((o) => o[i]), 0)));
  fs.mkdirSync(outDir, { recursive: true });
  const meta = { outputs: [] };
  for (let i = 0; i < outs.length; i++) {
    const d = await outs[i].data();
    fs.writeFileSync(path.join(outDir, `${i}.bin`), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    meta.outputs.push({ name: names[i].replace(/:0$/, ''), shape: outs[i].shape });
  }
  perImage.forEach((o) => tf.dispose(o));
  tf.dispose(outs);
  if (repeat > 0) {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < repeat; r++) {
      const o = model.execute(feedsList[r % batch], names);
      for (const t of o) await t.data();
      tf.dispose(o);
    }
    meta.ms = Number(process.hrtime.bigint() - t0) / 1e6 / repeat;
    meta.backend = tf.getBackend();
  }
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(meta));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
