#!/usr/bin/env node
// The labelled face set for test/detection-accuracy.test.mjs, built at test
// time from the labels in faces.json:
//
//   - every labelled face becomes a webcam-like 640×480 frame: the face box
//     scaled to FACE_FRACTION of the frame height and centred (areas outside
//     the source photo are mid-grey);
//   - every frame comes in four lighting conditions (CONDITIONS below): as is,
//     dim, backlit/overexposed, low-contrast and noisy, plus two stress
//     conditions (very dim, washed out);
//   - negatives (no face): background crops of the same photos and the
//     scikit-image coffee fixture, framed and conditioned the same way.
//
// Sources (licences and versions in faces.json):
//   - @vladmandic/face-api@1.7.15 demo/sample1..6.jpg, read from node_modules
//     (a devDependency): nothing committed;
//   - face-recognition 1.3.0 and facetorch 0.6.2 (PyPI sdists), paper-kit-2
//     2.1.0 and soft-ui-dashboard 1.0.1 (npm; UI templates whose dependency
//     trees we do not want): small derived 640×480 JPEG crops (< 100 KB each)
//     are committed in test-media/faces/ (see its LICENSES.md), made by
//     `node test-media/make-face-images.mjs --extract DIR --package NAME`
//     from the unpacked package (DIR holds the paths in faces.json);
//   - scikit-image 0.26.0 astronaut and coffee: test-media/fixtures/ (see its LICENSES.md).
//
// Everything here is deterministic (seeded noise), so the test's numbers do
// not change from run to run.
//
// Usage alone: node test-media/make-face-images.mjs [--out DIR]  writes every
// frame as PNG with its label box drawn in green (default test-media/out/faces/).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { readImage, resize, sampleBilinear, writeJpeg, writePng } from './image-io.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const studentRoot = path.resolve(here, '..');
const require = createRequire(import.meta.url);

export const FRAME = { width: 640, height: 480 };
/** Face box height as a fraction of the frame height (typical webcam framing). */
export const FACE_FRACTION = 0.35;

/** @typedef {{width: number, height: number, data: Uint8Array}} RGBAImage */

export function loadLabels() {
  return JSON.parse(fs.readFileSync(path.join(here, 'faces.json'), 'utf8'));
}

/** Seeded PRNG (mulberry32) and a standard normal from it. */
function rng(seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

const clamp = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Per-pixel RGB maps; alpha untouched. */
export const CONDITIONS = {
  normal: (img) => img,
  // Dim room: gamma 1.3 (shadows sink more than highlights), then × 0.35.
  dim: (img) => mapRgb(img, (v) => 255 * 0.35 * Math.pow(v / 255, 1.3)),
  // Backlit / overexposed: × 1.6, clipped at 255.
  backlit: (img) => mapRgb(img, (v) => v * 1.6),
  // Two stress conditions beyond the four, so the numbers show where
  // the models start to fail: a room lit only by the screen (× 0.15 after
  // gamma 1.6), and a camera facing a window (× 2.4, clipped).
  verydim: (img) => mapRgb(img, (v) => 255 * 0.15 * Math.pow(v / 255, 1.6)),
  washedout: (img) => mapRgb(img, (v) => v * 2.4),
  // Low contrast and sensor noise: contrast halved about mid-grey, plus
  // Gaussian noise σ = 12 per channel (seeded, so repeatable).
  noisy: (img, seed) => {
    const normal = rng(seed);
    const out = new Uint8Array(img.data.length);
    for (let i = 0; i < img.data.length; i += 4) {
      for (let c = 0; c < 3; c++) out[i + c] = clamp(Math.round(128 + 0.5 * (img.data[i + c] - 128) + 12 * normal()));
      out[i + 3] = 255;
    }
    return { width: img.width, height: img.height, data: out };
  },
};

function mapRgb(img, f) {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = clamp(Math.round(f(v)));
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < img.data.length; i += 4) {
    out[i] = lut[img.data[i]];
    out[i + 1] = lut[img.data[i + 1]];
    out[i + 2] = lut[img.data[i + 2]];
    out[i + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * The part of `src` at source pixel rect (sx, sy, sw, sh) drawn into a
 * width×height frame; outside the source is mid-grey.
 * @returns {RGBAImage}
 */
export function frameFrom(src, sx, sy, sw, sh, width = FRAME.width, height = FRAME.height) {
  // Pre-shrink by whole halvings so bilinear sampling does not alias.
  let img = src;
  let k = 1;
  while (sw / (k * 2) >= width && sh / (k * 2) >= height) k *= 2;
  if (k > 1) img = resize(src, Math.round(src.width / k), Math.round(src.height / k));
  const fx = img.width / src.width, fy = img.height / src.height;
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const px = sx + ((x + 0.5) * sw) / width, py = sy + ((y + 0.5) * sh) / height;
      if (px < 0 || py < 0 || px >= src.width || py >= src.height) {
        out[o] = out[o + 1] = out[o + 2] = 128;
        out[o + 3] = 255;
      } else {
        sampleBilinear(img, px * fx, py * fy, out, o);
        out[o + 3] = 255;
      }
    }
  }
  return { width, height, data: out };
}

/**
 * The webcam-like view of one face: the face box (normalised to `src`) scaled
 * to FACE_FRACTION of the frame height and centred. Returns the frame and the
 * box normalised to the frame.
 */
export function faceFrame(src, box) {
  const [bx, by, bw, bh] = [box[0] * src.width, box[1] * src.height, box[2] * src.width, box[3] * src.height];
  const scale = (FACE_FRACTION * FRAME.height) / bh; // frame px per source px
  const sw = FRAME.width / scale, sh = FRAME.height / scale;
  const sx = bx + bw / 2 - sw / 2, sy = by + bh / 2 - sh / 2;
  const image = frameFrom(src, sx, sy, sw, sh);
  const truth = [(bx - sx) / sw, (by - sy) / sh, bw / sw, bh / sh];
  return { image, truth };
}

/** Resolves one image entry of faces.json to a file on disk. */
export function imageFile(entry) {
  if (entry.committed) return path.join(studentRoot, entry.committed);
  if (entry.registry !== 'npm') throw new Error(`${entry.package}: no committed copy and not an npm package`);
  let pj;
  try {
    pj = require.resolve(`${entry.package}/package.json`);
  } catch (e) {
    throw new Error(`${entry.package} is not installed (npm ci in web/student)`, { cause: e });
  }
  const version = JSON.parse(fs.readFileSync(pj, 'utf8')).version;
  if (version !== entry.version) throw new Error(`${entry.package} is ${version}, faces.json was labelled on ${entry.version}`);
  return path.join(path.dirname(pj), entry.path);
}

function hash(s) {
  let h = 2166136261;
  for (const ch of s) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

/**
 * Every frame of the set:
 *   {id, kind: 'face'|'negative', faceId?, image (source key), bucket?, mst?,
 *    condition, truth?: [x, y, w, h] normalised to the frame, frame: RGBAImage}
 */
export function faceSet(labels = loadLabels()) {
  const cache = new Map();
  const load = (key) => {
    if (!cache.has(key)) {
      const entry = labels.images[key];
      if (!entry) throw new Error(`faces.json: unknown image ${key}`);
      cache.set(key, readImage(imageFile(entry)));
    }
    return cache.get(key);
  };
  const bases = [];
  for (const f of labels.faces) {
    const { image, truth } = faceFrame(load(f.image), f.box);
    bases.push({ id: f.id, kind: 'face', faceId: f.id, image: f.image, bucket: f.bucket, mst: f.mst, truth, frame: image });
  }
  for (const n of labels.negatives) {
    const src = load(n.image);
    const [cx, cy, cw, ch] = n.crop ?? [0, 0, 1, 1];
    const frame = frameFrom(src, cx * src.width, cy * src.height, cw * src.width, ch * src.height);
    bases.push({ id: n.id, kind: 'negative', image: n.image, frame });
  }
  const out = [];
  for (const b of bases) {
    for (const [condition, f] of Object.entries(CONDITIONS)) {
      out.push({ ...b, id: `${b.id}.${condition}`, condition, frame: f(b.frame, hash(`${b.id}.${condition}`)) });
    }
  }
  return out;
}

/** Checks faces.json for shape errors a hand edit could make. */
export function validateLabels(labels) {
  const errors = [];
  const ids = new Set();
  for (const f of labels.faces) {
    if (ids.has(f.id)) errors.push(`duplicate id ${f.id}`);
    ids.add(f.id);
    if (!labels.images[f.image]) errors.push(`${f.id}: unknown image ${f.image}`);
    if (!Array.isArray(f.box) || f.box.length !== 4 || f.box.some((v) => !(v >= 0 && v <= 1)) || f.box[0] + f.box[2] > 1 || f.box[1] + f.box[3] > 1) errors.push(`${f.id}: bad box ${JSON.stringify(f.box)}`);
    if (!(Number.isInteger(f.mst) && f.mst >= 1 && f.mst <= 10)) errors.push(`${f.id}: bad mst ${f.mst}`);
    const want = Object.entries(labels.buckets).find(([, [lo, hi]]) => f.mst >= lo && f.mst <= hi)?.[0];
    if (f.bucket !== want) errors.push(`${f.id}: bucket ${f.bucket} but MST ${f.mst} is ${want}`);
  }
  for (const [key, e] of Object.entries(labels.images)) {
    for (const k of ['package', 'registry', 'version', 'path', 'licence']) if (!e[k]) errors.push(`image ${key}: no ${k}`);
  }
  return errors;
}

/**
 * One-off: makes the committed 640×480 crops of package `pkg`'s photos from
 * the unpacked package (DIR = .../face_recognition-1.3.0, or an npm
 * tarball's package/), using each face's `sourceBox` (pixels in the
 * original) from faces.json; prints each crop's normalised box for `box`.
 */
function extract(dir, pkg) {
  const labels = loadLabels();
  for (const f of labels.faces) {
    const entry = labels.images[f.image];
    if (!entry.committed || !f.sourceBox || !entry.committed.startsWith('test-media/faces/')) continue;
    if (pkg && entry.package !== pkg) continue;
    const src = readImage(path.join(dir, entry.path));
    const [x, y, w, h] = f.sourceBox;
    const { image, truth } = faceFrame(src, [x / src.width, y / src.height, w / src.width, h / src.height]);
    const file = path.join(studentRoot, entry.committed);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeJpeg(file, image, 85);
    console.log(`${f.id} ${entry.committed}: ${fs.statSync(file).size} bytes, box ${JSON.stringify(truth.map((v) => +v.toFixed(3)))}`);
  }
}

function drawBox(img, [x, y, w, h]) {
  const W = img.width, H = img.height;
  const x0 = Math.round(x * W), y0 = Math.round(y * H), x1 = Math.round((x + w) * W), y1 = Math.round((y + h) * H);
  const put = (px, py) => { if (px >= 0 && py >= 0 && px < W && py < H) img.data.set([0, 255, 0, 255], (py * W + px) * 4); };
  for (let px = x0; px <= x1; px++) { put(px, y0); put(px, y1); }
  for (let py = y0; py <= y1; py++) { put(x0, py); put(x1, py); }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  if (arg('--extract')) {
    extract(path.resolve(arg('--extract')), arg('--package'));
  } else {
    const errors = validateLabels(loadLabels());
    if (errors.length) throw new Error(errors.join('\n'));
    const out = path.resolve(arg('--out') ?? path.join(here, 'out', 'faces'));
    fs.mkdirSync(out, { recursive: true });
    for (const s of faceSet()) {
      const img = { ...s.frame, data: Uint8Array.from(s.frame.data) };
      if (s.truth) drawBox(img, s.truth);
      writePng(path.join(out, `${s.id}.png`), img);
    }
    console.log(`make-face-images: wrote frames to ${path.relative(process.cwd(), out)}`);
  }
}
