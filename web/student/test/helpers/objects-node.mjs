// Runs src/objects.ts in Node for tests: bundles it with Vite (library mode,
// tfjs left external so the test and the module share one tfjs engine), and
// loads the prepared CenterNet model from disk on the tfjs WASM backend.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import jpeg from 'jpeg-js';

export const studentRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Bundles src/objects.ts to an ES module in a temp dir under node_modules/.cache and imports it. */
export async function importObjectsModule() {
  const { build } = await import('vite');
  const cacheRoot = path.join(studentRoot, 'node_modules', '.cache');
  fs.mkdirSync(cacheRoot, { recursive: true });
  const outDir = fs.mkdtempSync(path.join(cacheRoot, 'vigil-objects-'));
  await build({
    configFile: false,
    root: studentRoot,
    logLevel: 'warn',
    publicDir: false,
    build: {
      outDir,
      emptyOutDir: true,
      target: 'node20',
      minify: false,
      lib: { entry: path.join(studentRoot, 'src', 'objects.ts'), formats: ['es'], fileName: () => 'objects.mjs' },
      rollupOptions: { external: [/^@tensorflow\//] },
    },
  });
  const mod = await import(pathToFileURL(path.join(outDir, 'objects.mjs')).href);
  return { mod, cleanup: () => fs.rmSync(outDir, { recursive: true, force: true }) };
}

/** A tfjs IO handler reading a graph model JSON and its weight files from disk. */
export function fileModelHandler(jsonPath) {
  return {
    async load() {
      const json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
      const dir = path.dirname(jsonPath);
      const buffers = json.weightsManifest.flatMap((g) => g.paths).map((p) => fs.readFileSync(path.join(dir, p)));
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

/** Decodes a JPEG file to {data (RGBA), width, height}. */
export function readJpegRgba(file) {
  const img = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
  return { data: img.data, width: img.width, height: img.height };
}

/** The prepared models dir (public/models by default, as prepare-object-model writes it). */
export function preparedModelsDir() {
  return process.env.VIGIL_MODELS_DIR ?? path.join(studentRoot, 'public', 'models');
}

export { tf };
export const tmpdir = os.tmpdir;
