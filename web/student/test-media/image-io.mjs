// Tiny image helpers shared by the test-media scripts and Node tests: decode
// PNG/JPEG to RGBA (pure-JS pngjs / jpeg-js, so `npm ci` needs no native
// build), encode JPEG, and resample with bilinear interpolation.

import fs from 'node:fs';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';

/** @typedef {{width: number, height: number, data: Uint8Array}} RGBAImage */

/** @returns {RGBAImage} */
export function readImage(file) {
  const buf = fs.readFileSync(file);
  if (buf[0] === 0x89 && buf.toString('ascii', 1, 4) === 'PNG') {
    const png = PNG.sync.read(buf);
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
  }
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
    return { width: img.width, height: img.height, data: img.data };
  }
  throw new Error(`${file}: not a PNG or JPEG`);
}

export function writeJpeg(file, img, quality = 85) {
  fs.writeFileSync(file, jpeg.encode({ width: img.width, height: img.height, data: img.data }, quality).data);
}

export function writePng(file, img) {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length);
  fs.writeFileSync(file, PNG.sync.write(png));
}

/**
 * Bilinear sample of `src` at continuous pixel-centre coordinates (x, y);
 * writes RGBA into out[o..o+3]. Coordinates outside the image clamp to the edge.
 */
export function sampleBilinear(src, x, y, out, o) {
  const { width: w, height: h, data } = src;
  const fx = Math.min(Math.max(x - 0.5, 0), w - 1);
  const fy = Math.min(Math.max(y - 0.5, 0), h - 1);
  const x0 = Math.floor(fx), y0 = Math.floor(fy);
  const x1 = Math.min(x0 + 1, w - 1), y1 = Math.min(y0 + 1, h - 1);
  const ax = fx - x0, ay = fy - y0;
  for (let c = 0; c < 4; c++) {
    const a = data[(y0 * w + x0) * 4 + c], b = data[(y0 * w + x1) * 4 + c];
    const d = data[(y1 * w + x0) * 4 + c], e = data[(y1 * w + x1) * 4 + c];
    out[o + c] = (a * (1 - ax) + b * ax) * (1 - ay) + (d * (1 - ax) + e * ax) * ay;
  }
}

/**
 * Area-averaging downscale (box filter, then bilinear for the remainder), so
 * large reductions don't alias the way plain bilinear does.
 * @returns {RGBAImage}
 */
export function resize(src, width, height) {
  let cur = src;
  // Halve while more than 2x too big: a 2x2 box filter per step.
  while (cur.width >= 2 * width && cur.height >= 2 * height) {
    const w = cur.width >> 1, h = cur.height >> 1;
    const data = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 4; c++) {
      const i = (yy, xx) => cur.data[((2 * y + yy) * cur.width + 2 * x + xx) * 4 + c];
      data[(y * w + x) * 4 + c] = (i(0, 0) + i(0, 1) + i(1, 0) + i(1, 1) + 2) >> 2;
    }
    cur = { width: w, height: h, data };
  }
  const out = new Uint8Array(width * height * 4);
  const sx = cur.width / width, sy = cur.height / height;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    sampleBilinear(cur, (x + 0.5) * sx, (y + 0.5) * sy, out, (y * width + x) * 4);
  }
  return { width, height, data: out };
}
