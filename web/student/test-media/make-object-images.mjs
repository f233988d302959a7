#!/usr/bin/env node
// Test images for the phone/book object detector (test/objects-model.test.mjs),
// derived at test time from photos that ship in the npm package
// @vladmandic/face-api@1.7.15 (devDependency; MIT, files demo/sample*.jpg):
// nothing binary is committed. Each scene is a crop (a webcam-like 640×480
// view) or a whole photo, decoded with jpeg-js to RGBA.
//
//   phone-in-hand   demo/sample4.jpg (1920×1448) crop x 572, y 620, 640×480:
//                   a hand holding a white smartphone, centre of the crop
//   phone-on-couch  demo/sample2.jpg (1920×1367) crop x 0, y 887, 640×480:
//                   a smartphone lying on a couch, bottom left
//   no-phone-group  demo/sample6.jpg (1920×1537) whole: four people, no phone
//
// `truth` is the device's box in the scene, normalised (x, y, width, height),
// read off the images by eye.
//
// Usage alone: node test-media/make-object-images.mjs [--out DIR]  writes the
// scenes as PNG (default test-media/out/objects/) to look at.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const SOURCE_PKG = '@vladmandic/face-api';
export const SOURCE_VERSION = '1.7.15';

export const SCENES = [
  { name: 'phone-in-hand', file: 'demo/sample4.jpg', crop: { x: 572, y: 620, width: 640, height: 480 }, device: true, truth: { x: 0.33, y: 0.39, width: 0.27, height: 0.19 } },
  { name: 'phone-on-couch', file: 'demo/sample2.jpg', crop: { x: 0, y: 887, width: 640, height: 480 }, device: true, truth: { x: 0.11, y: 0.76, width: 0.36, height: 0.19 } },
  { name: 'no-phone-group', file: 'demo/sample6.jpg', crop: null, device: false, truth: null },
];

export function sourceDir() {
  let pj;
  try {
    pj = require.resolve(`${SOURCE_PKG}/package.json`);
  } catch (e) {
    throw new Error(`${SOURCE_PKG} is not installed (npm ci in web/student)`, { cause: e });
  }
  const dir = path.dirname(pj);
  const version = JSON.parse(fs.readFileSync(pj, 'utf8')).version;
  if (version !== SOURCE_VERSION) throw new Error(`${SOURCE_PKG} is ${version}, the scenes were chosen on ${SOURCE_VERSION}`);
  return dir;
}

/** RGBA crop of an RGBA image. */
export function cropRgba(img, { x, y, width, height }) {
  if (x < 0 || y < 0 || x + width > img.width || y + height > img.height) throw new Error(`crop ${x},${y} ${width}×${height} outside ${img.width}×${img.height}`);
  const data = new Uint8ClampedArray(width * height * 4);
  for (let r = 0; r < height; r++) {
    const from = ((y + r) * img.width + x) * 4;
    data.set(img.data.subarray(from, from + width * 4), r * width * 4);
  }
  return { data, width, height };
}

/** The scenes as {name, device, truth, image: {data (RGBA), width, height}, source}. */
export function objectImages() {
  const dir = sourceDir();
  return SCENES.map((s) => {
    const decoded = jpeg.decode(fs.readFileSync(path.join(dir, s.file)), { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
    const full = { data: decoded.data, width: decoded.width, height: decoded.height };
    return {
      name: s.name,
      device: s.device,
      truth: s.truth,
      image: s.crop ? cropRgba(full, s.crop) : full,
      source: `${SOURCE_PKG}@${SOURCE_VERSION}/${s.file}`,
    };
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const out = i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : path.join(here, 'out', 'objects');
  fs.mkdirSync(out, { recursive: true });
  for (const s of objectImages()) {
    const png = new PNG({ width: s.image.width, height: s.image.height });
    png.data.set(s.image.data);
    if (s.truth) {
      // Draw the truth box in red, to check it by eye.
      const { width: w, height: h } = s.image;
      const x0 = Math.round(s.truth.x * w), y0 = Math.round(s.truth.y * h);
      const x1 = Math.round((s.truth.x + s.truth.width) * w), y1 = Math.round((s.truth.y + s.truth.height) * h);
      const put = (x, y) => { if (x >= 0 && y >= 0 && x < w && y < h) png.data.set([255, 0, 0, 255], (y * w + x) * 4); };
      for (let x = x0; x <= x1; x++) { put(x, y0); put(x, y1); }
      for (let y = y0; y <= y1; y++) { put(x0, y); put(x1, y); }
    }
    const file = path.join(out, `${s.name}.png`);
    fs.writeFileSync(file, PNG.sync.write(png));
    console.log(`make-object-images: ${path.relative(process.cwd(), file)} (${s.image.width}×${s.image.height}) from ${s.source}`);
  }
}
