// ONNX Runtime peer for bench/run.sh: times one exported model with onnxruntime-node.
// usage: node ort_peer.js MODEL.onnx --batch N --size N --threads N --iters N --warmup N
//        [--input FILE.f32 --logits-out FILE.f32]   (raw little-endian float32, N x 3 x S x S)
// Prints one JSON object: session creation time and the timed passes (ms per batch).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

function parse(argv) {
  const o = { batch: 1, size: 224, threads: 2, iters: 10, warmup: 1 };
  o.model = argv[0];
  for (let i = 1; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-/g, '_');
    o[k] = ['input', 'logits_out'].includes(k) ? argv[i + 1] : Number(argv[i + 1]);
  }
  return o;
}

async function main() {
  const o = parse(process.argv.slice(2));
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(o.model, {
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  let data;
  if (o.input) {
    const buf = fs.readFileSync(o.input);
    data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    o.batch = data.length / (3 * o.size * o.size);
  } else {
    data = new Float32Array(o.batch * 3 * o.size * o.size);
    let s = 12345;
    for (let i = 0; i < data.length; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      data[i] = (s / 2147483648) * 2 - 1;
    }
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [o.batch, 3, o.size, o.size]) };
  const out = session.outputNames[0];
  let y = (await session.run(feeds))[out];
  if (o.logits_out) fs.writeFileSync(o.logits_out, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
  const times = [];
  for (let i = 0; i < o.warmup + o.iters; i++) {
    const s = process.hrtime.bigint();
    y = (await session.run(feeds))[out];
    if (i >= o.warmup) times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const v = ort.env.versions || {};
  console.log(JSON.stringify({ ort: v.node || v.common || '', load_ms: loadMs, batch: o.batch, threads: o.threads,
    times_ms: times, peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
}

main().catch((e) => { console.error(`ort_peer: ${String(e.message || e).split('\n')[0]}`); process.exit(1); });
