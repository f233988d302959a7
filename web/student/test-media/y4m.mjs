// YUV4MPEG2 (.y4m) writing and reading for Chromium's fake camera
// (`--use-file-for-fake-video-capture=FILE.y4m`). Only the flavour we need:
// progressive 4:2:0, full-range BT.601 ("C420jpeg"), square pixels.

import fs from 'node:fs';

export function y4mHeader({ width, height, fps }) {
  if (width % 2 || height % 2) throw new Error('4:2:0 needs even width and height');
  return `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`;
}

/** Parses a header line into {width, height, fpsNum, fpsDen, colorspace, interlace}. */
export function parseY4mHeader(line) {
  const tokens = line.trim().split(' ');
  if (tokens[0] !== 'YUV4MPEG2') throw new Error('not a YUV4MPEG2 stream');
  const h = { colorspace: '420jpeg', interlace: '?' };
  for (const t of tokens.slice(1)) {
    const v = t.slice(1);
    if (t[0] === 'W') h.width = Number(v);
    else if (t[0] === 'H') h.height = Number(v);
    else if (t[0] === 'F') [h.fpsNum, h.fpsDen] = v.split(':').map(Number);
    else if (t[0] === 'C') h.colorspace = v;
    else if (t[0] === 'I') h.interlace = v;
    else if (t[0] === 'A') h.aspect = v;
  }
  return h;
}

export function frameBytes(width, height) {
  return width * height + 2 * (width / 2) * (height / 2);
}

/**
 * RGBA -> planar I420 with JPEG (full-range BT.601) coefficients; chroma is
 * the average of each 2x2 block (centred siting, as C420jpeg specifies).
 */
export function rgbaToI420({ width, height, data }, out = new Uint8Array(frameBytes(width, height))) {
  const cw = width / 2;
  const uOff = width * height;
  const vOff = uOff + cw * (height / 2);
  for (let i = 0, p = 0; i < width * height; i++, p += 4) {
    out[i] = Math.round(0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2]);
  }
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const p = ((y + dy) * width + x + dx) * 4;
        r += data[p]; g += data[p + 1]; b += data[p + 2];
      }
      r /= 4; g /= 4; b /= 4;
      const c = (y / 2) * cw + x / 2;
      out[uOff + c] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      out[vOff + c] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  }
  return out;
}

function clamp(v) {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Streams frames to `file`. */
export class Y4mWriter {
  constructor(file, { width, height, fps }) {
    this.fd = fs.openSync(file, 'w');
    this.width = width;
    this.height = height;
    this.buf = new Uint8Array(frameBytes(width, height));
    fs.writeSync(this.fd, y4mHeader({ width, height, fps }));
    this.frames = 0;
  }

  /** @param {{width: number, height: number, data: Uint8Array}} rgba */
  writeRgba(rgba) {
    rgbaToI420(rgba, this.buf);
    fs.writeSync(this.fd, 'FRAME\n');
    fs.writeSync(this.fd, this.buf);
    this.frames++;
  }

  close() {
    fs.closeSync(this.fd);
  }
}

/**
 * Iterates the frames of a .y4m file (sync; reads one frame at a time).
 * Yields {index, y, u, v} with views into a reused buffer.
 */
export function* readY4mFrames(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(256);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const nl = head.subarray(0, n).indexOf(0x0a);
    if (nl < 0) throw new Error('no header line');
    const header = parseY4mHeader(head.toString('ascii', 0, nl));
    const { width, height } = header;
    const size = frameBytes(width, height);
    const buf = new Uint8Array(size);
    const tag = Buffer.alloc(6);
    let pos = nl + 1;
    for (let index = 0; ; index++) {
      const got = fs.readSync(fd, tag, 0, 6, pos);
      if (got === 0) return;
      // Frame headers may carry parameters ("FRAME <params>\n"); we write none.
      if (tag.toString('ascii') !== 'FRAME\n') throw new Error(`bad frame marker at byte ${pos}`);
      pos += 6;
      if (fs.readSync(fd, buf, 0, size, pos) !== size) throw new Error(`truncated frame ${index}`);
      pos += size;
      const uLen = (width / 2) * (height / 2);
      yield {
        index, header,
        y: buf.subarray(0, width * height),
        u: buf.subarray(width * height, width * height + uLen),
        v: buf.subarray(width * height + uLen),
      };
    }
  } finally {
    fs.closeSync(fd);
  }
}
