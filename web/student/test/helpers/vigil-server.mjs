// The real vigil server for the student browser tests: web/e2e's harness,
// serving this package's test build (dist-test/, the app with
// window.__vigil) as /student/.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilServer, ADMIN_TOKEN, vigilBin } from '../../../e2e/lib/server.mjs';

export { ADMIN_TOKEN, vigilBin };
const here = path.dirname(fileURLToPath(import.meta.url));
export const studentRoot = path.resolve(here, '../..');
export const webDir = path.resolve(studentRoot, '..');

export function requireBuilt() {
  if (!fs.existsSync(vigilBin)) throw new Error(`${vigilBin} missing (build the server: cargo build -p vigil)`);
  if (!fs.existsSync(path.join(studentRoot, 'dist-test', 'index.html'))) {
    throw new Error('web/student/dist-test missing: node scripts/ensure-built.mjs (or npm run build:test)');
  }
}

/**
 * A `--web-dir` for tests: a temp dir whose student/dist links to the
 * student test build and whose dashboard/dist links to the dashboard's
 * production build (when built). Remove it with `fs.rmSync(dir, {recursive: true})`
 * (the links go, their targets stay).
 */
export function testWebDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-test-web-'));
  for (const [app, build] of [['student', path.join(studentRoot, 'dist-test')], ['dashboard', path.join(webDir, 'dashboard', 'dist')]]) {
    fs.mkdirSync(path.join(dir, app));
    fs.symlinkSync(build, path.join(dir, app, 'dist'), 'dir');
  }
  return dir;
}

export class StudentTestServer extends VigilServer {
  static start({ dataDir } = {}) {
    return super.start({ dataDir: dataDir ?? fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'vigil-student-')), webDir: testWebDir() });
  }

  async stop() {
    await super.stop();
    fs.rmSync(this.webDir, { recursive: true, force: true });
  }

  /** Incidents the server stored for a student (read with a proctor token). */
  async incidents(examId, studentId, proctorToken) {
    const r = await this.api('GET', `/exams/${examId}/students/${studentId}/incidents`, { token: proctorToken });
    if (r.status !== 200) throw new Error(`incidents: ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  }

  /**
   * The stored incidents the page raised. The server raises incidents of its
   * own (heartbeats lost, worker stalled, media health) from what it
   * observes; these tests are about what the page reports.
   */
  async clientIncidents(examId, studentId, proctorToken) {
    return (await this.incidents(examId, studentId, proctorToken)).filter((r) => r.source === 'client');
  }
}
