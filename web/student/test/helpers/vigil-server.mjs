// The real vigil server for the student browser tests: web/e2e's harness,
// serving this package's built app (`--web-dir web/`, so /student/ is
// web/student/dist).

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
  static start({ dataDir } = {}) {
    return super.start({ dataDir: dataDir ?? fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'vigil-student-')), webDir });
  }

  /** Incidents the server stored for a student (read with a proctor token). */
  async incidents(examId, studentId, proctorToken) {
    const r = await this.api('GET', `/exams/${examId}/students/${studentId}/incidents`, { token: proctorToken });
    if (r.status !== 200) throw new Error(`incidents: ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  }
}
