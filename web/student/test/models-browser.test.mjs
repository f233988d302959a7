// End-to-end check that the models produced by scripts/prepare-models.mjs
// load and run in MediaPipe Tasks Vision inside a module Web Worker in real
// (headless, software-GL) Chromium, the way the student app runs them.
// Also prints median per-frame inference times measured in that worker.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startStaticServer } from './helpers/static-server.mjs';
import { launchChromium } from './helpers/chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modelsDir = path.join(root, 'public', 'models');
const BENCH_RUNS = 50;

test('prepared models load and run in Tasks Vision (module worker, Chromium)', { timeout: 300_000 }, async (t) => {
  for (const f of ['face/face_detector.tflite', 'face/face_landmarker.task', 'wasm/vision_wasm_module_internal.wasm']) {
    assert.ok(fs.existsSync(path.join(modelsDir, f)), `${f} missing: run npm run prepare-models`);
  }
  const server = await startStaticServer({
    '/': path.join(root, 'public'),
    '/__test__/': path.join(root, 'test', 'browser'),
    '/fixtures/': path.join(root, 'test-media', 'fixtures'),
    '/vendor/tasks-vision/': path.dirname(fileURLToPath(import.meta.resolve('@mediapipe/tasks-vision'))),
  });
  t.after(() => server.close());
  const browser = await launchChromium();
  t.after(() => browser.close());

  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Nothing may leave 127.0.0.1: the app must work with no third-party fetches.
  const offOrigin = [];
  browser.context.on('request', (r) => { if (!r.url().startsWith(server.origin)) offOrigin.push(r.url()); });

  await page.goto(`${server.origin}/__test__/index.html`);
  await page.waitForFunction(() => window.vigilReady === true);
  const call = (fn, ...args) => page.evaluate(([f, a]) => window.vigilTest[f](...a), [fn, args]);

  const origin = server.origin;
  const init = await call('init', {
    wasmBase: `${origin}/models/wasm`,
    detectorUrl: `${origin}/models/face/face_detector.tflite`,
    landmarkerUrl: `${origin}/models/face/face_landmarker.task`,
  });
  t.diagnostic(`WebGL in worker: ${init.webgl}`);
  await call('prepareImages', '/fixtures');

  const detect = (task, name) => call('detect', task, name);

  await t.test('FaceDetector: astronaut 1 face, coffee 0, two astronauts 2', async () => {
    const one = await detect('detector', 'astronaut');
    assert.equal(one.faces, 1, JSON.stringify(one));
    assert.ok(one.detections[0].score > 0.7);
    assert.equal(one.detections[0].keypoints, 6);
    // Face box of the 320x320 fixture is at about x 111-170, y 52-111.
    const box = one.detections[0].box;
    assert.ok(Math.abs(box.x + box.w / 2 - 140) < 20 && Math.abs(box.y + box.h / 2 - 82) < 25, JSON.stringify(box));
    assert.equal((await detect('detector', 'coffee')).faces, 0);
    assert.equal((await detect('detector', 'two_astronauts')).faces, 2);
  });

  let frontalYaw;
  await t.test('FaceLandmarker: 478 landmarks, transformation matrix, frontal yaw', async () => {
    const r = await detect('landmarker', 'astronaut');
    assert.equal(r.faces, 1);
    assert.deepEqual(r.landmarkCounts, [478]);
    assert.deepEqual(r.matrices, [{ rows: 4, columns: 4 }]);
    frontalYaw = r.pose[0].yaw;
    t.diagnostic(`astronaut pose: ${JSON.stringify(r.pose[0], (k, v) => (typeof v === 'number' ? +v.toFixed(1) : v))}`);
    assert.ok(Math.abs(frontalYaw) < 15, `yaw ${frontalYaw}`);
    // Layout sanity: iris centres (468 left, 473 right) sit between their eye corners.
    const p = r.points[0];
    const between = (v, a, b) => v > Math.min(a, b) && v < Math.max(a, b);
    assert.ok(between(p[468][0], p[33][0], p[133][0]), 'left iris between 33 and 133');
    assert.ok(between(p[473][0], p[362][0], p[263][0]), 'right iris between 362 and 263');
    assert.equal((await detect('landmarker', 'coffee')).faces, 0);
    assert.equal((await detect('landmarker', 'two_astronauts')).faces, 2);
  });

  await t.test('FaceLandmarker: mirrored and turned faces change yaw as expected', async () => {
    const mirrored = (await detect('landmarker', 'astronaut_mirrored')).pose[0].yaw;
    assert.ok(Math.abs(mirrored + frontalYaw) < 3, `mirror flips yaw: ${frontalYaw} vs ${mirrored}`);
    const left = (await detect('landmarker', 'astronaut_turned_left')).pose[0].yaw;
    const right = (await detect('landmarker', 'astronaut_turned_right')).pose[0].yaw;
    t.diagnostic(`yaw: frontal ${frontalYaw.toFixed(1)}°, turned left ${left.toFixed(1)}°, turned right ${right.toFixed(1)}°`);
    assert.ok(left < frontalYaw - 8, `turned left: ${left}`);
    assert.ok(right > frontalYaw + 8, `turned right: ${right}`);
  });

  await t.test(`median inference time over ${BENCH_RUNS} runs (worker, CPU delegate)`, async () => {
    const det = await call('bench', 'detector', 'astronaut', BENCH_RUNS);
    const lm = await call('bench', 'landmarker', 'astronaut', BENCH_RUNS);
    const line = `median per-frame inference: FaceDetector ${det.medianMs.toFixed(1)} ms, ` +
      `FaceLandmarker ${lm.medianMs.toFixed(1)} ms (320x320 image, ${BENCH_RUNS} runs)`;
    t.diagnostic(line);
    console.log(line);
    assert.ok(det.medianMs > 0 && lm.medianMs > 0);
  });

  assert.deepEqual(errors, [], 'no page errors');
  assert.deepEqual(offOrigin, [], 'no requests outside the test server');
});
