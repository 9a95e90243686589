// Shared by the TF.js peers (tfjs_run.js, nanodet_ref.js): @tensorflow/tfjs on its wasm backend,
// and a TF.js graph model loaded from MODEL.json with its weight shards read from beside it
// (tf.io.fromMemory: no fetch needed, works offline).
'use strict';
const fs = require('fs');
const path = require('path');
const nm = path.join(__dirname, 'node_modules');
const tf = require(path.join(nm, '@tensorflow/tfjs'));
require(path.join(nm, '@tensorflow/tfjs-backend-wasm'));

async function loadModel(file) {
  const mj = JSON.parse(fs.readFileSync(file, 'utf8'));
  const specs = [];
  const bufs = [];
  for (const g of mj.weightsManifest) {
    for (const w of g.weights) specs.push(w);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(path.dirname(file), p)));
  }
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: mj.modelTopology, weightSpecs: specs, weightData, format: mj.format,
    generatedBy: mj.generatedBy, convertedBy: mj.convertedBy, signature: mj.signature,
  }));
}

module.exports = { tf, loadModel };
