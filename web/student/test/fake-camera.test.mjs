// The scripted .y4m video played through Chromium's fake camera: the page
// must read back valid frame indices, and the prepared models must see what
// the ground truth says each segment shows (faces, no face, two faces, a
// turned head, darkness). This is the path the proctoring tests build on.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startStaticServer } from './helpers/static-server.mjs';
import { launchChromium } from './helpers/chromium.mjs';
import { makeY4m, DEFAULT_SCRIPT } from '../test-media/make-y4m.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// 0.3 × the scenario's length keeps the run short (~8 s of video) while
// leaving several analysed frames per segment at ~50 ms per analysis.
const TIME_SCALE = 0.3;

test('scripted video through the fake camera matches its ground truth', { timeout: 300_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-cam-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const video = path.join(dir, 'camera.y4m');
  const truth = makeY4m(JSON.parse(fs.readFileSync(DEFAULT_SCRIPT, 'utf8')), video, { timeScale: TIME_SCALE });

  const server = await startStaticServer({
    '/': path.join(root, 'public'),
    '/__test__/': path.join(root, 'test', 'browser'),
    '/media/': path.join(root, 'test-media'),
    '/vendor/tasks-vision/': path.dirname(fileURLToPath(import.meta.resolve('@mediapipe/tasks-vision'))),
  });
  t.after(() => server.close());
  const browser = await launchChromium({
    extraArgs: [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${video}`,
    ],
  });
  t.after(() => browser.close());

  const page = await browser.context.newPage();
  await page.goto(`${server.origin}/__test__/index.html`);
  await page.waitForFunction(() => window.vigilReady === true);
  const call = (fn, ...args) => page.evaluate(([f, a]) => window.vigilTest[f](...a), [fn, args]);
  await call('init', {
    wasmBase: `${server.origin}/models/wasm`,
    detectorUrl: `${server.origin}/models/face/face_detector.tflite`,
    landmarkerUrl: `${server.origin}/models/face/face_landmarker.task`,
  });

  // One full pass of the video plus slack (Chromium loops the file).
  const ms = (truth.frames / truth.fps) * 1000 + 1500;
  const run = await call('cameraRun', ms);
  assert.deepEqual([run.width, run.height], [truth.width, truth.height]);
  assert.ok(run.samples.length > 20, `analysed ${run.samples.length} frames`);
  const undecoded = run.samples.filter((s) => s.index === null).length;
  assert.ok(undecoded <= 1, `${undecoded} frames without a readable index`);

  const bySegment = new Map(truth.segments.map((s) => [s.name, []]));
  for (const s of run.samples) {
    if (s.index === null) continue;
    assert.ok(s.index < truth.frames, `index ${s.index} in range`);
    const seg = truth.segments.find((g) => s.index >= g.startFrame && s.index < g.endFrame);
    bySegment.get(seg.name).push(s);
  }
  for (const seg of truth.segments) {
    const samples = bySegment.get(seg.name);
    const { faces, yaw } = seg.expect;
    const ok = samples.filter((s) => s.faces === faces && s.landmarkFaces === faces &&
      (yaw === 'right' ? s.yaw > 8 : yaw === 'left' ? s.yaw < -8 : true));
    t.diagnostic(`${seg.name}: ${ok.length}/${samples.length} analysed frames as expected ` +
      `(faces ${samples.map((s) => s.faces).join(',')}${yaw ? `; yaw ${samples.map((s) => s.yaw?.toFixed(0)).join(',')}` : ''})`);
    assert.ok(samples.length >= 2, `${seg.name}: only ${samples.length} frames analysed`);
    // Allow one miss per segment: a frame grabbed at a segment boundary can
    // still show the previous scene for a frame's time.
    assert.ok(ok.length >= samples.length - 1, `${seg.name}: ${ok.length}/${samples.length} as expected`);
  }
});
