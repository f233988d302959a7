#!/usr/bin/env node
// Runs prepare-models only when public/models is missing or was produced from
// different package versions (or object-model recipe) than the ones installed now (e.g. after
// `npm ci` on a fresh checkout, or after a dependency bump). Used by `npm test`.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODELS_LAYOUT, prepareModels, packageDir, packageVersion } from './prepare-models.mjs';
import { MODEL_PKG, MODEL_VERSION, PREPARED_SHA256 } from './prepare-object-model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, '..', 'public', 'models');

function upToDate() {
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8'));
  } catch {
    return false;
  }
  if (manifest.layout !== MODELS_LAYOUT) return false;
  for (const [pkg, version] of Object.entries(manifest.sources ?? {})) {
    // The object model is pinned, not installed (prepare-object-model.mjs).
    const installed = pkg === MODEL_PKG ? MODEL_VERSION : packageVersion(packageDir(pkg));
    if (installed !== version) return false;
  }
  // The object model is made from its pinned source by a recipe
  // (quantize-weights.mjs): a file's hash other than the recipe's output is
  // an older recipe.
  for (const [name, sum] of Object.entries(PREPARED_SHA256)) {
    if (manifest.files?.[`objects/${name}`]?.sha256 !== sum) return false;
  }
  const files = Object.keys(manifest.files ?? {});
  return files.length > 0 && files.every((f) => fs.existsSync(path.join(outDir, f)));
}

if (upToDate()) {
  console.log('ensure-models: public/models is up to date');
} else {
  console.log('ensure-models: (re)building public/models');
  prepareModels(outDir);
}
