#!/usr/bin/env node
// Precompresses a built web app for the server, as a CDN would: next to every
// compressible file of at least MIN_BYTES it writes FILE.br and FILE.gz, and
// the server (tower-http's ServeDir, precompressed_br/gzip) sends the one the
// browser's Accept-Encoding takes, with Vary: Accept-Encoding. A copy that
// saves less than a tenth is not written (the server then sends the file).
//
// Written here with Node's zlib (brotli and gzip built in) rather than a
// Vite plugin because it must also cover what Vite copies untouched from
// public/ (the models and their WASM, most of the page's bytes).
//
// Brotli at quality 11 takes about 45 s for one 13 MB WASM on this machine;
// files over 1 MB get quality 9 (about 3 s, 15 % larger than 11, still 25 %
// smaller than gzip -9).
//
// Usage: node precompress.mjs DIR...

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const COMPRESSIBLE = /\.(js|mjs|css|html|json|svg|txt|wasm|task|tflite|onnx|bin|map)$/i;
const MIN_BYTES = 1024;
const BIG = 1 << 20;

function* files(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile() && COMPRESSIBLE.test(e.name)) yield p;
  }
}

function brotli(bytes) {
  const quality = bytes.length > BIG ? 9 : 11;
  return zlib.brotliCompressSync(bytes, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  });
}

export function precompress(dir) {
  let before = 0;
  let br = 0;
  let gz = 0;
  for (const file of files(dir)) {
    const bytes = fs.readFileSync(file);
    if (bytes.length < MIN_BYTES) continue;
    before += bytes.length;
    for (const [ext, compressed] of [['.br', brotli(bytes)], ['.gz', zlib.gzipSync(bytes, { level: 9 })]]) {
      const worth = compressed.length < bytes.length * 0.9;
      if (worth) fs.writeFileSync(file + ext, compressed);
      else fs.rmSync(file + ext, { force: true });
      const size = worth ? compressed.length : bytes.length;
      if (ext === '.br') br += size;
      else gz += size;
    }
  }
  const mb = (n) => (n / 1e6).toFixed(1);
  console.log(`precompress ${dir}: ${mb(before)} MB → brotli ${mb(br)} MB, gzip ${mb(gz)} MB`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) {
    console.error('usage: node precompress.mjs DIR...');
    process.exit(2);
  }
  for (const d of dirs) precompress(d);
}
