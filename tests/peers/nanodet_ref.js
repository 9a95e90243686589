#!/usr/bin/env node
// Reference NanoDet detections: the TF.js graph model run by @tensorflow/tfjs (wasm backend) on a
// preprocessed input, then the official NanoDet (GFL head) post-processing written here
// independently of Panoptes' C code, from RangiLyu/nanodet:
//   gfl_head.py get_bboxes_single: per level, priors at ((x+0.5)*s, (y+0.5)*s), index y*W+x;
//     distribution_project = softmax over reg_max+1 bins, sum p_i*i, times the stride;
//     nms_pre = 1000: keep the 1000 priors with the highest max-over-classes score;
//     distance2bbox clamped to the input (W, H);
//   nms.py multiclass_nms: candidates (prior, class) above the score threshold, class-wise NMS
//     (torchvision nms: suppress IoU > thr), sorted by score, first max_num kept.
// Scores come out of this TF.js graph already sigmoid-ed. Boxes are finally mapped back through
// the letterbox described in meta.json and clamped to the source frame.
//
//   node tests/peers/nanodet_ref.js MODEL.json INPUT.bin META.json OUT.json
// INPUT.bin: float32 [B,3,H,W] (the preprocessed batch). META.json: {"batch": B, "score": 0.35,
// "iou": 0.6, "top_k": 100, "nms_pre": 1000, "letterbox": [{"sx","sy","ox","oy","w","h"}, ...]}.
// OUT.json: [[{"box": [x1,y1,x2,y2], "score": s, "class": c}, ...] per image].
'use strict';
const fs = require('fs');
const path = require('path');
const { tf, loadModel } = require('./tfjs_model');

function iou(a, b) {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return u > 0 ? inter / u : 0;
}

// levels: [{stride, cls: Float32Array [N*C], reg: Float32Array [N*4*bins], n}]
function postprocess(levels, C, bins, W, H, meta) {
  const cands = [];
  for (const L of levels) {
    const s = L.stride;
    const fw = Math.ceil(W / s);
    let priors = [];
    for (let i = 0; i < L.n; i++) {
      let mx = -Infinity;
      for (let c = 0; c < C; c++) mx = Math.max(mx, L.cls[i * C + c]);
      priors.push({ i, mx });
    }
    if (priors.length > meta.nms_pre) {
      priors.sort((a, b) => b.mx - a.mx || a.i - b.i);
      priors = priors.slice(0, meta.nms_pre);
    }
    for (const { i } of priors) {
      const cx = (i % fw + 0.5) * s;
      const cy = (Math.floor(i / fw) + 0.5) * s;
      const dist = [];
      for (let side = 0; side < 4; side++) {
        const off = i * 4 * bins + side * bins;
        let m = -Infinity;
        for (let k = 0; k < bins; k++) m = Math.max(m, L.reg[off + k]);
        let sum = 0;
        let acc = 0;
        for (let k = 0; k < bins; k++) {
          const e = Math.exp(L.reg[off + k] - m);
          sum += e;
          acc += e * k;
        }
        dist.push((acc / sum) * s);
      }
      const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
      const box = [clamp(cx - dist[0], W), clamp(cy - dist[1], H), clamp(cx + dist[2], W), clamp(cy + dist[3], H)];
      for (let c = 0; c < C; c++) {
        const sc = L.cls[i * C + c];
        if (sc >= meta.score) cands.push({ box, score: sc, cls: c });
      }
    }
  }
  cands.sort((a, b) => b.score - a.score);
  const keep = [];
  const dead = new Uint8Array(cands.length);
  for (let i = 0; i < cands.length && keep.length < meta.top_k; i++) {
    if (dead[i]) continue;
    keep.push(cands[i]);
    for (let j = i + 1; j < cands.length; j++)
      if (!dead[j] && cands[j].cls === cands[i].cls && iou(cands[i].box, cands[j].box) > meta.iou) dead[j] = 1;
  }
  return keep;
}

async function main() {
  const [modelFile, inputFile, metaFile, outFile] = process.argv.slice(2);
  if (!outFile) {
    console.error('usage: nanodet_ref.js MODEL.json INPUT.bin META.json OUT.json');
    process.exit(2);
  }
  await tf.setBackend('wasm');
  await tf.ready();
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
  const model = await loadModel(modelFile);
  const inShape = model.inputs[0].shape; // [1, 3, H, W]
  const H = inShape[2];
  const W = inShape[3];
  const buf = fs.readFileSync(inputFile);
  const per = 3 * H * W;
  const result = [];
  for (let b = 0; b < meta.batch; b++) {
    const data = new Float32Array(per);
    for (let i = 0; i < per; i++) data[i] = buf.readFloatLE((b * per + i) * 4);
    const x = tf.tensor(data, [1, 3, H, W]);
    const outs = model.execute(x);
    const arrs = outs.map((t) => ({ shape: t.shape, data: t.dataSync() }));
    tf.dispose(outs);
    x.dispose();
    // pair outputs by prior count: the wider last dim is the class scores (80 > 44)
    const byN = new Map();
    for (const a of arrs) {
      const n = a.shape[1];
      if (!byN.has(n)) byN.set(n, []);
      byN.get(n).push(a);
    }
    const levels = [];
    let C = 0;
    let bins = 0;
    for (const s of [8, 16, 32, 64, 128]) {
      const n = Math.ceil(W / s) * Math.ceil(H / s);
      const pair = byN.get(n);
      if (!pair || pair.length !== 2) continue;
      const [cls, reg] = pair[0].shape[2] > pair[1].shape[2] ? pair : [pair[1], pair[0]];
      C = cls.shape[2];
      bins = reg.shape[2] / 4;
      levels.push({ stride: s, n, cls: cls.data, reg: reg.data });
    }
    const lb = meta.letterbox[b];
    const dets = postprocess(levels, C, bins, W, H, meta).map((d) => {
      const clampTo = (v, hi) => Math.min(Math.max(v, 0), hi);
      return {
        box: [clampTo((d.box[0] - lb.ox) / lb.sx, lb.w), clampTo((d.box[1] - lb.oy) / lb.sy, lb.h),
          clampTo((d.box[2] - lb.ox) / lb.sx, lb.w), clampTo((d.box[3] - lb.oy) / lb.sy, lb.h)],
        score: d.score,
        class: d.cls,
      };
    });
    result.push(dets);
  }
  fs.writeFileSync(outFile, JSON.stringify(result));
}

main().catch((e) => {
  console.error('nanodet_ref.js:', e && e.message ? e.message : e);
  process.exit(1);
});
