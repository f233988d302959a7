// Extracts single files from an Emscripten "packed assets" bundle, as shipped
// by the legacy @mediapipe/<solution> npm packages: a `.data` file that is the
// plain concatenation of several files, plus a loader `.js` whose final
// `loadPackage({...})` call lists every file's name and byte range.
//
// We parse the ranges from the loader instead of hard-coding them so a
// different package version cannot silently give us the wrong bytes.

import fs from 'node:fs';
import path from 'node:path';

/**
 * @param {string} loaderJs  text of *_packed_assets_loader.js
 * @returns {{filename: string, start: number, end: number}[]}
 */
export function parsePackedAssetsIndex(loaderJs) {
  const m = loaderJs.match(/loadPackage\((\{\s*"files"\s*:[\s\S]*?\})\);/);
  if (!m) throw new Error('no loadPackage({"files": ...}) call found in loader');
  const meta = JSON.parse(m[1]);
  if (!Array.isArray(meta.files)) throw new Error('loadPackage metadata has no files array');
  for (const f of meta.files) {
    if (typeof f.filename !== 'string' || !(f.end >= f.start && f.start >= 0)) {
      throw new Error(`bad entry in packed assets index: ${JSON.stringify(f)}`);
    }
  }
  return meta.files;
}

/**
 * Reads one file (matched by basename) out of a packed `.data` bundle.
 * @param {string} dataPath    path of the .data file
 * @param {string} loaderPath  path of the matching loader .js
 * @param {string} basename    e.g. "face_landmark_with_attention.tflite"
 * @returns {Uint8Array}
 */
export function extractPackedAsset(dataPath, loaderPath, basename) {
  const index = parsePackedAssetsIndex(fs.readFileSync(loaderPath, 'utf8'));
  const hits = index.filter((f) => path.posix.basename(f.filename) === basename);
  if (hits.length !== 1) {
    const names = index.map((f) => path.posix.basename(f.filename)).join(', ');
    throw new Error(`${basename}: ${hits.length} matches in ${path.basename(loaderPath)} (has: ${names})`);
  }
  const data = fs.readFileSync(dataPath);
  const { start, end } = hits[0];
  if (end > data.length) throw new Error(`${basename}: range ${start}-${end} beyond ${data.length}-byte bundle`);
  return new Uint8Array(data.buffer, data.byteOffset + start, end - start).slice();
}
