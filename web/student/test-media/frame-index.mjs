// Machine-readable frame index stamped into every synthetic camera frame, so
// a test can tell exactly which frame of the scripted video the browser
// (or the proctoring pipeline) was looking at.
//
// Layout: a strip along the bottom 1/30 of the frame (16 rows at 480p),
// divided into 20 equal blocks, each all-white (1) or all-black (0):
//
//   [1 0] start | 16 data bits, MSB first | even parity | [1] stop
//
// Everything is defined relative to frame size, so the code still decodes
// after the browser rescales the camera track. No dependencies: works in
// Node and in browsers (ImageData) alike.

export const BLOCKS = 20;
export const DATA_BITS = 16;
export const STRIP_FRACTION = 1 / 30;
export const MAX_INDEX = 2 ** DATA_BITS - 1;
const START = [1, 0];
const STOP = [1];

/** The 20 block values (0/1) encoding `index`. */
export function frameIndexBlocks(index) {
  if (!Number.isInteger(index) || index < 0 || index > MAX_INDEX) {
    throw new RangeError(`frame index ${index} outside 0..${MAX_INDEX}`);
  }
  const bits = [];
  for (let i = DATA_BITS - 1; i >= 0; i--) bits.push((index >> i) & 1);
  const parity = bits.reduce((a, b) => a ^ b, 0);
  return [...START, ...bits, parity, ...STOP];
}

/** Rows [y0, y1) of the strip for a frame of the given height. */
export function stripRows(height) {
  const rows = Math.max(1, Math.round(height * STRIP_FRACTION));
  return [height - rows, height];
}

/** Column range [x0, x1) of block `i`. */
function blockCols(i, width) {
  return [Math.round((i * width) / BLOCKS), Math.round(((i + 1) * width) / BLOCKS)];
}

/**
 * Paints the strip into an RGBA (4 channels) or luma (1 channel) buffer.
 * @param {{width: number, height: number, data: Uint8Array | Uint8ClampedArray}} img
 */
export function drawFrameIndex(img, index) {
  const { width, height, data } = img;
  const ch = data.length / (width * height);
  const blocks = frameIndexBlocks(index);
  const [y0, y1] = stripRows(height);
  for (let i = 0; i < BLOCKS; i++) {
    const v = blocks[i] ? 255 : 0;
    const [x0, x1] = blockCols(i, width);
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const p = (y * width + x) * ch;
        for (let c = 0; c < Math.min(ch, 3); c++) data[p + c] = v;
        if (ch === 4) data[p + 3] = 255;
      }
    }
  }
}

/**
 * Reads the frame index back.
 * @param {{width: number, height: number, data: ArrayLike<number>}} imageData
 *   RGBA (browser ImageData), RGB, or a single luma plane (e.g. the Y plane of
 *   an I420 frame); the channel count is inferred from the buffer size.
 * @returns {number | null}  null if no valid strip is found (bad start/stop/parity)
 */
export function decodeFrameIndex(imageData) {
  const { width, height, data } = imageData;
  const ch = Math.round(data.length / (width * height));
  if (![1, 3, 4].includes(ch)) throw new Error(`cannot infer channels from ${data.length} bytes for ${width}x${height}`);
  const [y0, y1] = stripRows(height);
  // Sample the middle half of each block in both directions: avoids block
  // edges blurred by scaling or chroma subsampling.
  const sy0 = y0 + Math.floor((y1 - y0) / 4);
  const sy1 = Math.max(sy0 + 1, y1 - Math.floor((y1 - y0) / 4));
  const blocks = [];
  for (let i = 0; i < BLOCKS; i++) {
    const [x0, x1] = blockCols(i, width);
    const sx0 = x0 + Math.floor((x1 - x0) / 4);
    const sx1 = Math.max(sx0 + 1, x1 - Math.floor((x1 - x0) / 4));
    let sum = 0;
    let n = 0;
    for (let y = sy0; y < sy1; y++) {
      for (let x = sx0; x < sx1; x++) {
        const p = (y * width + x) * ch;
        sum += ch === 1 ? data[p] : 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
        n++;
      }
    }
    blocks.push(sum / n >= 128 ? 1 : 0);
  }
  const ok = (pattern, at) => pattern.every((v, k) => blocks[at + k] === v);
  if (!ok(START, 0) || !ok(STOP, BLOCKS - STOP.length)) return null;
  const bits = blocks.slice(START.length, START.length + DATA_BITS);
  const parity = blocks[START.length + DATA_BITS];
  if (bits.reduce((a, b) => a ^ b, 0) !== parity) return null;
  return bits.reduce((acc, b) => (acc << 1) | b, 0);
}
