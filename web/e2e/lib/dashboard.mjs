// The built dashboard (web/dashboard/dist) for browser tests: built when
// missing or older than its sources, and served by a test server from a
// web directory of its own.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dashboardDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../dashboard');

/** The newest modification time under `p`. */
export function newest(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((f) => newest(join(p, f))));
}

/** Runs the dashboard's own `npm run build` when its dist is missing or stale. */
export function ensureDashboardBuilt(label = 'browser test') {
  const built = join(dashboardDir, 'dist/index.html');
  const sources = ['src', 'index.html', 'vite.config.ts', '../proto/vigil.ts'].map((p) => join(dashboardDir, p)).filter(existsSync);
  if (!existsSync(built) || Math.max(...sources.map(newest)) > statSync(built).mtimeMs) {
    console.log(`${label}: building web/dashboard/dist`);
    execFileSync('npm', ['run', 'build'], { cwd: dashboardDir, stdio: 'inherit' });
  }
}

/** A `--web-dir` holding only the built dashboard (served at /dashboard/). */
export function dashboardWebDir() {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-dashboard-web-'));
  mkdirSync(join(dir, 'dashboard'));
  symlinkSync(join(dashboardDir, 'dist'), join(dir, 'dashboard', 'dist'), 'dir');
  return dir;
}
