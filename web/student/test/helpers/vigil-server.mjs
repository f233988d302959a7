// The real vigil server for the student browser tests, started the way
// web/e2e/lib/server.mjs does it, with two differences: it serves this
// package's built app (`--web-dir web/`, so /student/ is web/student/dist)
// and a restart reuses the same port, so a page can reconnect after kill -9.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilServer, ADMIN_TOKEN, vigilBin } from '../../../e2e/lib/server.mjs';

export { ADMIN_TOKEN, vigilBin };
const here = path.dirname(fileURLToPath(import.meta.url));
export const studentRoot = path.resolve(here, '../..');
export const webDir = path.resolve(studentRoot, '..');

export function requireBuilt() {
  if (!fs.existsSync(vigilBin)) throw new Error(`${vigilBin} missing (build the server: cargo build -p vigil)`);
  if (!fs.existsSync(path.join(studentRoot, 'dist', 'index.html'))) throw new Error('web/student/dist missing: npm run build');
}

export class StudentTestServer extends VigilServer {
  static async start({ dataDir } = {}) {
    const owns = !dataDir;
    const s = new StudentTestServer(dataDir ?? fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'vigil-student-')), owns);
    s.listen = '127.0.0.1:0';
    await s.launch();
    // Pin the port the OS chose, for restarts.
    s.listen = new URL(s.url).host;
    return s;
  }

  async launch() {
    const args = [
      'serve',
      '--data-dir', this.dataDir,
      '--http', this.listen,
      '--admin-token', ADMIN_TOKEN,
      '--web-dir', webDir,
    ];
    const proc = spawn(vigilBin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    this.proc = proc;
    proc.stderr.on('data', (d) => { this.stderr += d; });
    this.url = await new Promise((resolveUrl, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`vigil did not start in 30 s:\n${this.stderr}`)), 30_000);
      proc.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/vigil listening on (http:\/\/[0-9.:]+)/);
        if (m) { clearTimeout(timer); resolveUrl(m[1]); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`vigil exited with ${code}:\n${this.stderr}`)); });
    });
  }

  /** Restarts on the same port; the port may linger briefly after kill -9. */
  async restart() {
    for (let i = 0; ; i++) {
      try {
        await this.launch();
        return;
      } catch (e) {
        if (i >= 20) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Incidents the server stored for a student (read with a proctor token). */
  async incidents(examId, studentId, proctorToken) {
    const r = await this.api('GET', `/exams/${examId}/students/${studentId}/incidents`, { token: proctorToken });
    if (r.status !== 200) throw new Error(`incidents: ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  }
}
