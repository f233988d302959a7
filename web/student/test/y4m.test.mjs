// Synthetic camera video: header, frame size, segment bookkeeping and the
// frame-index barcode, decoded back from the raw Y plane of every frame.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { makeY4m, DEFAULT_SCRIPT } from '../test-media/make-y4m.mjs';
import { readY4mFrames, frameBytes, parseY4mHeader } from '../test-media/y4m.mjs';
import { decodeFrameIndex, drawFrameIndex, frameIndexBlocks, MAX_INDEX } from '../test-media/frame-index.mjs';
import { resize } from '../test-media/image-io.mjs';

const script = JSON.parse(fs.readFileSync(DEFAULT_SCRIPT, 'utf8'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-y4m-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

// A short render of the real scenario: every segment, ~1/10 of its length.
const TIME_SCALE = 0.1;
const out = path.join(dir, 'short.y4m');
const truth = makeY4m(script, out, { timeScale: TIME_SCALE });

test('y4m header and frame size', () => {
  const bytes = fs.readFileSync(out);
  const nl = bytes.indexOf(0x0a);
  const line = bytes.toString('ascii', 0, nl);
  assert.equal(line, 'YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg');
  const h = parseY4mHeader(line);
  assert.deepEqual([h.width, h.height, h.fpsNum, h.fpsDen, h.colorspace], [640, 480, 15, 1, '420jpeg']);
  const perFrame = 'FRAME\n'.length + frameBytes(640, 480);
  assert.equal(frameBytes(640, 480), 640 * 480 * 3 / 2);
  assert.equal(bytes.length, nl + 1 + truth.frames * perFrame, 'file = header + frames × (marker + I420)');
});

test('ground truth covers every frame with contiguous segments', () => {
  assert.deepEqual(truth.segments.map((s) => s.name), script.segments.map((s) => s.name));
  let next = 0;
  for (const [i, s] of truth.segments.entries()) {
    assert.equal(s.startFrame, next);
    assert.equal(s.endFrame - s.startFrame, Math.max(1, Math.round(script.segments[i].seconds * TIME_SCALE * 15)));
    assert.ok(s.expect.condition, `${s.name} has an expected condition`);
    next = s.endFrame;
  }
  assert.equal(next, truth.frames);
  const onDisk = JSON.parse(fs.readFileSync(out.replace(/\.y4m$/, '.truth.json'), 'utf8'));
  assert.deepEqual(onDisk, truth);
});

test('decodeFrameIndex recovers every frame index from the raw Y plane', () => {
  let count = 0;
  for (const frame of readY4mFrames(out)) {
    const { width, height } = frame.header;
    assert.equal(decodeFrameIndex({ width, height, data: frame.y }), frame.index, `frame ${frame.index}`);
    count++;
  }
  assert.equal(count, truth.frames);
});

test('scenes differ as scripted: darkness is dark, faces are not', () => {
  const meanLuma = new Map();
  for (const frame of readY4mFrames(out)) {
    const seg = truth.segments.find((s) => frame.index >= s.startFrame && frame.index < s.endFrame);
    // Exclude the barcode strip (bottom 16 rows) from the brightness measure.
    const y = frame.y.subarray(0, 640 * 464);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    meanLuma.set(seg.name, Math.max(meanLuma.get(seg.name) ?? 0, mean));
  }
  assert.ok(meanLuma.get('darkness') < 15, `darkness mean luma ${meanLuma.get('darkness')}`);
  assert.ok(meanLuma.get('one_face') > 80, `one_face mean luma ${meanLuma.get('one_face')}`);
});

test('frame index survives RGBA round trip, rescaling, and rejects garbage', () => {
  for (const index of [0, 1, 2, 255, 256, 4097, 31337, MAX_INDEX]) {
    const img = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 4).fill(127) };
    drawFrameIndex(img, index);
    assert.equal(decodeFrameIndex(img), index);
    // The browser may hand us a downscaled camera frame.
    assert.equal(decodeFrameIndex(resize(img, 320, 240)), index, `${index} at 320x240`);
  }
  assert.equal(frameIndexBlocks(5).length, 20);
  const blank = { width: 64, height: 48, data: new Uint8Array(64 * 48) };
  assert.equal(decodeFrameIndex(blank), null, 'no start pattern -> null');
  const flipped = { width: 640, height: 480, data: new Uint8Array(640 * 480) };
  drawFrameIndex(flipped, 1234);
  // Flip one data block: parity must catch it.
  const [x0, y0] = [Math.round((5 * 640) / 20) + 8, 470];
  const v = flipped.data[y0 * 640 + x0] ? 0 : 255;
  for (let y = 464; y < 480; y++) for (let x = 5 * 32; x < 6 * 32; x++) flipped.data[y * 640 + x] = v;
  assert.equal(decodeFrameIndex(flipped), null, 'parity error -> null');
  assert.throws(() => frameIndexBlocks(MAX_INDEX + 1), RangeError);
});
