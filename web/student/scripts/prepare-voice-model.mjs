#!/usr/bin/env node
// Prepares the voice detector's run-time files from npm packages (nothing is
// downloaded at run time):
//
//   <outDir>/voice/silero_vad_v5.onnx    Silero VAD v5 (MIT), as shipped in
//                                        @ricky0123/vad-web (devDependency: a
//                                        build-time source only)
//   <outDir>/ort/ort-wasm-simd-threaded.wasm, .mjs
//                                        onnxruntime-web's WASM and its glue, served
//                                        same-origin (src/voice.worker.ts)
//
// prepareVoiceModel(outDir) returns { sources: {pkg: version}, files: {relative path: {bytes, sha256}} }
// for the caller's manifest. Usage alone: node scripts/prepare-voice-model.mjs [--out DIR]

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageDir, packageVersion } from './package-dir.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const FILES = [
  { pkg: '@ricky0123/vad-web', from: 'dist/silero_vad_v5.onnx', to: 'voice/silero_vad_v5.onnx' },
  { pkg: 'onnxruntime-web', from: 'dist/ort-wasm-simd-threaded.wasm', to: 'ort/ort-wasm-simd-threaded.wasm' },
  // The WASM's JavaScript glue, which onnxruntime-web imports at run time from beside the WASM.
  { pkg: 'onnxruntime-web', from: 'dist/ort-wasm-simd-threaded.mjs', to: 'ort/ort-wasm-simd-threaded.mjs' },
];

export function prepareVoiceModel(outDir) {
  const sources = {};
  const files = {};
  for (const f of FILES) {
    const dir = packageDir(f.pkg);
    sources[f.pkg] = packageVersion(dir);
    const data = fs.readFileSync(path.join(dir, f.from));
    const dst = path.join(outDir, f.to);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.writeFileSync(dst, data);
    files[f.to] = { bytes: data.length, sha256: crypto.createHash('sha256').update(data).digest('hex') };
  }
  return { sources, files };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const outDir = i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : path.join(here, '..', 'public', 'models');
  const { files } = prepareVoiceModel(outDir);
  for (const [name, { bytes }] of Object.entries(files)) console.log(`prepare-voice-model: ${name} ${bytes} bytes`);
}
