#!/usr/bin/env node
// Renders a scripted fake-camera video (.y4m) plus its ground truth from the
// committed fixture photos, for Chromium's
// `--use-file-for-fake-video-capture=FILE.y4m`.
//
//   node test-media/make-y4m.mjs [--script test-media/scenario.json]
//        [--out test-media/out/camera.y4m] [--time-scale 1]
//
// Writes FILE.y4m and FILE.truth.json ({fps, frames, segments: [{name,
// startFrame, endFrame (exclusive), expect}]}). Every frame carries its index
// as a barcode strip (see frame-index.mjs), so a consumer can map any frame it
// sees back to a segment.
//
// Scene options per segment (all optional except seconds):
//   background  "#rrggbb" or {image}: colour, or a fixture scaled to cover the frame
//   layers      [{image, crop:[x,y,w,h], dest:[x,y,w,h], mirror, turn:{shift, span:[x0,x1]}}]
//               `turn` fakes a head yaw on a frontal photo: a smooth horizontal
//               warp over fixture columns span that moves the face's centre
//               line by shift × span width while its outline stays put.
//   brightness  multiplier applied to the whole scene (darkness: ~0.03)
//   noise       ± amplitude of per-frame pseudo-random sensor noise
//   sway        horizontal oscillation amplitude in px (2 s period), so frames
//               are never identical, as with a real camera

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImage, sampleBilinear } from './image-io.mjs';
import { drawFrameIndex } from './frame-index.mjs';
import { Y4mWriter } from './y4m.mjs';
import { prng } from './prng.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_SCRIPT = path.join(here, 'scenario.json');
export const FIXTURES_DIR = path.join(here, 'fixtures');

function parseColor(hex) {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`bad colour ${hex}`);
  return [1, 2, 3].map((i) => parseInt(m[i], 16));
}

/** Mirror and/or "turn" a fixture before it is cropped and scaled. */
function preprocess(img, { mirror, turn }) {
  if (!mirror && !turn) return img;
  const { width, height } = img;
  const out = new Uint8Array(img.data);
  const px = new Float32Array(4);
  // Inverse of the warp x' = x + shift·w·sin(π(x−x0)/w), by bisection per column
  // (the forward map is monotonic for |shift·π| < 1).
  const inv = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    let sx = x + 0.5;
    if (turn) {
      const [x0, x1] = turn.span;
      const w = x1 - x0;
      const fwd = (u) => u + turn.shift * w * Math.sin((Math.PI * (u - x0)) / w);
      if (sx > x0 && sx < x1) {
        let lo = x0, hi = x1;
        for (let k = 0; k < 30; k++) { const mid = (lo + hi) / 2; if (fwd(mid) < sx) lo = mid; else hi = mid; }
        sx = (lo + hi) / 2;
      }
    }
    inv[x] = mirror ? width - sx : sx;
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      sampleBilinear(img, inv[x], y + 0.5, px, 0);
      out.set(px, (y * width + x) * 4);
    }
  }
  return { width, height, data: out };
}

/** Draws the `crop` of `src` scaled into `dest` of the RGBA frame. */
function drawScaled(frame, src, crop, dest) {
  const [cx, cy, cw, ch] = crop;
  const [dx, dy, dw, dh] = dest;
  const px = new Float32Array(4);
  for (let y = Math.max(0, dy); y < Math.min(frame.height, dy + dh); y++) {
    for (let x = Math.max(0, dx); x < Math.min(frame.width, dx + dw); x++) {
      sampleBilinear(src, cx + ((x + 0.5 - dx) * cw) / dw, cy + ((y + 0.5 - dy) * ch) / dh, px, 0);
      const p = (y * frame.width + x) * 4;
      frame.data[p] = px[0]; frame.data[p + 1] = px[1]; frame.data[p + 2] = px[2]; frame.data[p + 3] = 255;
    }
  }
}

/** Renders a segment's static scene (before sway, brightness, noise, barcode). */
export function renderScene(scene, { width, height }, loadImage) {
  const frame = { width, height, data: new Uint8Array(width * height * 4) };
  const bg = scene.background ?? '#000000';
  if (typeof bg === 'string') {
    const [r, g, b] = parseColor(bg);
    for (let p = 0; p < frame.data.length; p += 4) frame.data.set([r, g, b, 255], p);
  } else {
    const img = loadImage(bg.image);
    // "cover": scale to fill the frame, centre-crop the overflow.
    const s = Math.max(width / img.width, height / img.height);
    const cw = width / s, ch = height / s;
    drawScaled(frame, img, [(img.width - cw) / 2, (img.height - ch) / 2, cw, ch], [0, 0, width, height]);
  }
  for (const layer of scene.layers ?? []) {
    const img = preprocess(loadImage(layer.image), layer);
    drawScaled(frame, img, layer.crop ?? [0, 0, img.width, img.height], layer.dest);
  }
  return frame;
}


/** Frame `index` of a segment: sway, brightness, noise, then the barcode. */
function finishFrame(base, scene, index, t, out) {
  const { width, height } = base;
  const sway = Math.round((scene.sway ?? 0) * Math.sin((2 * Math.PI * t) / 2));
  const gain = scene.brightness ?? 1;
  const noise = scene.noise ?? 0;
  const rand = prng(index + 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = Math.min(width - 1, Math.max(0, x - sway));
      const s = (y * width + sx) * 4;
      const d = (y * width + x) * 4;
      const n = noise ? (rand() * 2 - 1) * noise : 0;
      for (let c = 0; c < 3; c++) {
        const v = base.data[s + c] * gain + n;
        out.data[d + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
      out.data[d + 3] = 255;
    }
  }
  drawFrameIndex(out, index);
  return out;
}

/**
 * Renders `script` to `outPath` (.y4m) and returns the ground truth.
 * @param {object} script  parsed scenario JSON
 * @param {string} outPath
 * @param {{timeScale?: number, fixturesDir?: string}} [opts] timeScale < 1 makes short test videos
 */
export function makeY4m(script, outPath, { timeScale = 1, fixturesDir = FIXTURES_DIR } = {}) {
  const { width, height, fps } = script;
  const cache = new Map();
  const loadImage = (name) => {
    if (!cache.has(name)) cache.set(name, readImage(path.join(fixturesDir, `${name}.jpg`)));
    return cache.get(name);
  };
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  const writer = new Y4mWriter(outPath, { width, height, fps });
  const out = { width, height, data: new Uint8Array(width * height * 4) };
  const segments = [];
  let index = 0;
  try {
    for (const seg of script.segments) {
      const frames = Math.max(1, Math.round(seg.seconds * timeScale * fps));
      const base = renderScene(seg.scene ?? {}, { width, height }, loadImage);
      const startFrame = index;
      for (let i = 0; i < frames; i++, index++) {
        writer.writeRgba(finishFrame(base, seg.scene ?? {}, index, i / fps, out));
      }
      segments.push({ name: seg.name, startFrame, endFrame: index, expect: seg.expect ?? {} });
    }
  } finally {
    writer.close();
  }
  const truth = { width, height, fps, frames: index, segments };
  fs.writeFileSync(outPath.replace(/\.y4m$/, '') + '.truth.json', JSON.stringify(truth, null, 2) + '\n');
  return truth;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const scriptPath = path.resolve(arg('--script', DEFAULT_SCRIPT));
  const outPath = path.resolve(arg('--out', path.join(here, 'out', 'camera.y4m')));
  const timeScale = Number(arg('--time-scale', '1'));
  const truth = makeY4m(JSON.parse(fs.readFileSync(scriptPath, 'utf8')), outPath, { timeScale });
  console.log(`make-y4m: ${path.relative(process.cwd(), outPath)}: ${truth.frames} frames ${truth.width}x${truth.height} @ ${truth.fps} fps`);
  for (const s of truth.segments) console.log(`  ${s.name.padEnd(16)} frames ${s.startFrame}-${s.endFrame - 1}  ${JSON.stringify(s.expect)}`);
}
