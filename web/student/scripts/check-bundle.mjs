#!/usr/bin/env node
// The test hook (`window.__vigil`, src/test-hooks.ts) belongs to the test
// build only. Run after each build:
//
//   node scripts/check-bundle.mjs dist                  fails if the production bundle mentions it
//   node scripts/check-bundle.mjs dist-test --has-hook  fails unless the test bundle does (so the
//                                                       search is known to find what it looks for)
//
// models/ is left out: it is copied verbatim from public/ (prepare-models), not built from src/.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HOOK = '__vigil';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Files under `dir` (relative paths), models/ excluded. */
function files(dir, rel = '') {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = path.join(rel, e.name);
    if (e.isDirectory()) return p === 'models' ? [] : files(dir, p);
    return [p];
  });
}

/** The built files of `dir` that contain the hook's name. */
export function filesWithHook(dir) {
  return files(dir).filter((f) => fs.readFileSync(path.join(dir, f)).includes(HOOK));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [target, flag] = process.argv.slice(2);
  if (!target || (flag !== undefined && flag !== '--has-hook')) {
    console.error('usage: check-bundle.mjs <dist dir> [--has-hook]');
    process.exit(2);
  }
  const dir = path.resolve(root, target);
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    console.error(`check-bundle: ${dir} has no index.html (build it first)`);
    process.exit(1);
  }
  const found = filesWithHook(dir);
  if (flag === '--has-hook' && found.length === 0) {
    console.error(`check-bundle: no file in ${target} mentions ${HOOK}: the test build lost its hook, or this check no longer finds it`);
    process.exit(1);
  }
  if (flag === undefined && found.length > 0) {
    console.error(`check-bundle: the production bundle contains the test hook ${HOOK} in ${found.join(', ')}`);
    process.exit(1);
  }
  console.log(`check-bundle: ${target} ${found.length ? `has ${HOOK} (${found.join(', ')})` : `is free of ${HOOK}`}`);
}
