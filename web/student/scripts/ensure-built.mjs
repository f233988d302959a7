#!/usr/bin/env node
// Builds the test build (dist-test/: `vite build --mode test`, the app with
// its window.__vigil hook) when it is missing or older than the sources, so
// the browser tests and the benchmark always run the app as it is now.
// Models are prepared by ensure-models.mjs before this runs.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist-test', 'index.html');

function newest(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...fs.readdirSync(p).map((f) => newest(path.join(p, f))));
}

const sources = ['src', 'index.html', 'vite.config.ts', 'scripts/hash-models.mjs', 'public', '../proto/vigil.ts'].map((p) => path.join(root, p));
const stale = !fs.existsSync(built) || Math.max(...sources.map(newest)) > fs.statSync(built).mtimeMs;
if (stale) {
  console.log('ensure-built: building dist-test/ (vite build --mode test)');
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--mode', 'test'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(root, 'scripts', 'check-bundle.mjs'), 'dist-test', '--has-hook'], { cwd: root, stdio: 'inherit' });
}
