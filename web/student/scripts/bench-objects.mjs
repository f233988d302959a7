#!/usr/bin/env node
// Measures the phone/book object detector (src/objects.ts) in headless
// Chromium, the way the student app would run it: in a module Web Worker,
// tfjs WASM backend, model and .wasm served same-origin under /student/models/.
//
// Builds a throwaway worker bundle with Vite from a generated entry that
// imports src/objects.ts, serves it on 127.0.0.1, and runs the detector N
// times on a 640×480 frame (an ImageBitmap of the phone-in-hand test scene).
// Prints JSON: model load ms, per-inference ms p50/p95, inferences/s, the
// worker bundle's size, and what the page reported.
//
// Usage: node scripts/bench-objects.mjs [--runs N] [--out FILE]
// The numbers depend on the machine: the project's are 2 shared cores.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

import { prepareObjectModel } from './prepare-object-model.mjs';
import { startStaticServer } from '../test/helpers/static-server.mjs';
import { launchChromium } from '../test/helpers/chromium.mjs';
import { objectImages } from '../test-media/make-object-images.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const runs = Number(arg('--runs', '30'));
const outFile = arg('--out', null);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

const WORKER_ENTRY = `
import { createObjectDetector } from ${JSON.stringify(path.join(root, 'src', 'objects.ts'))};
import * as tf from '@tensorflow/tfjs-core';

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

self.onmessage = async ({ data }) => {
  try {
    const { dirs, imageUrl, runs } = data;
    const t0 = performance.now();
    const det = await createObjectDetector(dirs);
    const loadMs = performance.now() - t0;
    const blob = await (await fetch(imageUrl)).blob();
    const bitmap = await createImageBitmap(blob, { resizeWidth: 640, resizeHeight: 480 });
    const c = new OffscreenCanvas(640, 480).getContext('2d');
    c.drawImage(bitmap, 0, 0);
    const imageData = c.getImageData(0, 0, 640, 480);
    const t1 = performance.now();
    const first = det.detect(bitmap);
    const firstMs = performance.now() - t1;
    const times = [];
    const mem0 = det.memory().numTensors;
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      det.detect(bitmap);
      times.push(performance.now() - s);
    }
    const imageDataTimes = [];
    let fromImageData = [];
    for (let i = 0; i < Math.min(5, runs); i++) {
      const s = performance.now();
      fromImageData = det.detect(imageData);
      imageDataTimes.push(performance.now() - s);
    }
    // The other frame kinds the worker may receive: same pixels, same answer.
    const vf = new VideoFrame(bitmap, { timestamp: 0 });
    const fromVideoFrame = det.detect(vf);
    vf.close();
    const fromCanvas = det.detect(c.canvas);
    const sorted = [...times].sort((a, b) => a - b);
    const sortedId = [...imageDataTimes].sort((a, b) => a - b);
    self.postMessage({ ok: true, result: {
      backend: det.backend,
      simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
      multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
      crossOriginIsolated: self.crossOriginIsolated,
      hardwareConcurrency: navigator.hardwareConcurrency,
      modelLoadMs: loadMs,
      firstInferenceMs: firstMs,
      runs,
      inferenceMs: { p50: pct(sorted, 50), p95: pct(sorted, 95), min: sorted[0], max: sorted[sorted.length - 1], mean: times.reduce((a, b) => a + b, 0) / times.length },
      inferencesPerSecond: 1000 / pct(sorted, 50),
      imageDataPathMs: { p50: pct(sortedId, 50), runs: sortedId.length },
      tensorsBefore: mem0,
      tensorsAfter: det.memory().numTensors,
      detections: first.map((d) => ({ label: d.label, score: +d.score.toFixed(3), box: Object.fromEntries(Object.entries(d.box).map(([k, v]) => [k, +v.toFixed(3)])) })),
      detectionsFromImageData: fromImageData.map((d) => ({ label: d.label, score: +d.score.toFixed(3) })),
      detectionsFromVideoFrame: fromVideoFrame.map((d) => ({ label: d.label, score: +d.score.toFixed(3) })),
      detectionsFromOffscreenCanvas: fromCanvas.map((d) => ({ label: d.label, score: +d.score.toFixed(3) })),
    } });
    det.dispose();
  } catch (e) {
    self.postMessage({ ok: false, error: String(e && e.stack || e) });
  }
};
`;

const PAGE = `<!doctype html><meta charset="utf-8"><title>bench-objects</title><link rel="icon" href="data:,">
<script type="module">
const w = new Worker('./bench-objects.worker.js', { type: 'module' });
window.benchResult = new Promise((resolve) => {
  w.onmessage = (e) => resolve(e.data);
  w.onerror = (e) => resolve({ ok: false, error: 'worker error: ' + (e.message || 'load failed') });
});
w.postMessage({ dirs: { objects: '/student/models/objects/', tfjs: '/student/models/tfjs/' }, imageUrl: '/scene.png', runs: ${runs} });
</script>`;

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-objects-'));
  const modelsDir = path.join(tmp, 'models');
  const prepared = prepareObjectModel(modelsDir);

  // Worker bundle: the entry lives in node_modules/.cache so Vite resolves tfjs from here.
  const cacheDir = path.join(root, 'node_modules', '.cache');
  fs.mkdirSync(cacheDir, { recursive: true });
  const entryDir = fs.mkdtempSync(path.join(cacheDir, 'bench-objects-'));
  const entry = path.join(entryDir, 'bench-objects.worker.js');
  fs.writeFileSync(entry, WORKER_ENTRY);
  const site = path.join(tmp, 'site');
  const { build } = await import('vite');
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    publicDir: false,
    build: {
      outDir: site,
      emptyOutDir: true,
      target: 'es2022',
      minify: true,
      lib: { entry, formats: ['es'], fileName: () => 'bench-objects.worker.js' },
    },
  });
  fs.rmSync(entryDir, { recursive: true, force: true });
  fs.writeFileSync(path.join(site, 'index.html'), PAGE);
  const scene = objectImages().find((s) => s.name === 'phone-in-hand').image;
  const png = new PNG({ width: scene.width, height: scene.height });
  png.data.set(scene.data);
  fs.writeFileSync(path.join(site, 'scene.png'), PNG.sync.write(png));

  const workerJs = fs.readFileSync(path.join(site, 'bench-objects.worker.js'));
  const wasmUsed = prepared.files['tfjs/tfjs-backend-wasm-simd.wasm'].bytes;
  const modelBytes = prepared.files['objects/centernet.json'].bytes + prepared.files['objects/centernet.bin'].bytes;

  const server = await startStaticServer({ '/student/models/': modelsDir, '/': site });
  const browser = await launchChromium();
  let result;
  try {
    const page = await browser.context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') console.error('[page]', m.text()); });
    await page.goto(`${server.origin}/index.html`);
    result = await page.evaluate(() => globalThis.benchResult);
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (!result?.ok) throw new Error(`bench failed in the page: ${result?.error}`);
  const r = result.result;
  const report = {
    machine: { cpus: os.cpus().length, note: 'shared 2-core build machine; no GPU; numbers vary with load' },
    browser: 'Debian chromium, headless',
    frame: '640x480 ImageBitmap (phone-in-hand scene)',
    ...r,
    bundle: {
      workerJsBytes: workerJs.length,
      workerJsGzipBytes: zlib.gzipSync(workerJs).length,
      wasmLoadedBytes: wasmUsed,
      wasmAllFilesBytes: Object.entries(prepared.files).filter(([n]) => n.startsWith('tfjs/')).reduce((a, [, f]) => a + f.bytes, 0),
      modelBytes,
    },
  };
  const text = JSON.stringify(report, (k, v) => (typeof v === 'number' && !Number.isInteger(v) ? +v.toFixed(2) : v), 2);
  if (outFile) fs.writeFileSync(outFile, text + '\n');
  console.log(text);
}

await main();
