// Browser-test harness: the real vigil server (via web/e2e/lib/server.mjs)
// serving a dashboard build, headless Debian Chromium via playwright-core,
// and simulated students over socket.io-client.

import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { VigilServer, connect, vigilBin } from '../../../e2e/lib/server.mjs';

export { connect, request, sleep, collect } from '../../../e2e/lib/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const pkgRoot = resolve(here, '../..');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const VIEWPORT = { width: 1280, height: 720 };

export function haveVigil() {
  return existsSync(vigilBin);
}

/**
 * The vigil server with `--web-dir` pointing at a temp dir holding a copy of
 * `build` (dist or dist-profiling) as dashboard/dist. The harness keeps the
 * port across restarts, so the page can reconnect.
 */
export class DashboardServer extends VigilServer {
  static async startWith(build) {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-dash-'));
    const web = join(dir, 'web');
    mkdirSync(join(web, 'dashboard'), { recursive: true });
    cpSync(join(pkgRoot, build), join(web, 'dashboard', 'dist'), { recursive: true });
    mkdirSync(join(dir, 'data'), { recursive: true });
    const s = new DashboardServer(join(dir, 'data'), true, { webDir: web });
    s.root = dir;
    await s.launch();
    return s;
  }

  async stop() {
    await super.stop();
    rmSync(this.root, { recursive: true, force: true });
  }

  dashboardUrl(token, extra = '') {
    return `${this.url}/dashboard/#token=${token}${extra}`;
  }

  /** Adds many students quickly (in parallel batches); returns their ids. */
  async addStudents(exam, ids, batch = 50) {
    for (let i = 0; i < ids.length; i += batch) {
      await Promise.all(ids.slice(i, i + batch).map(async (id) => {
        const r = await this.api('POST', `/exams/${exam}/students`, { body: { id, name: `Name ${id}` } });
        if (r.status !== 201) throw new Error(`add ${id}: ${JSON.stringify(r.data)}`);
      }));
    }
  }

  async links(exam, role, ids, batch = 50) {
    const out = {};
    for (let i = 0; i < ids.length; i += batch) {
      await Promise.all(ids.slice(i, i + batch).map(async (id) => {
        const r = await this.api('POST', `/exams/${exam}/links`, { body: { role, subject: id } });
        if (r.status !== 201 && r.status !== 200) throw new Error(`link ${id}: ${JSON.stringify(r.data)}`);
        out[id] = r.data.token;
      }));
    }
    return out;
  }
}

/** Headless Debian Chromium with a fresh profile; `close()` removes it. */
export async function launchBrowser() {
  const userDataDir = mkdtempSync(join(tmpdir(), 'vigil-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: VIEWPORT,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Scoring with moderate weights so a mix of levels shows. */
export function scoring(patch = {}) {
  return {
    half_life_s: 120,
    weights: { no_face: 1.5, multiple_faces: 4, looking_away: 1, tab_hidden: 2, window_blur: 0.5, copy_paste: 3 },
    watch_at: 4,
    alert_at: 8,
    ...patch,
  };
}

let incCounter = 0;
/** A simulated student: sends incident reports with increasing seq. */
export class SimStudent {
  constructor(id, socket) {
    this.id = id;
    this.socket = socket;
    this.seq = 0;
    this.acks = { accepted: 0, duplicate: 0, rejected: 0, reasons: {} };
  }
  static async connect(server, id, token) {
    return new SimStudent(id, await connect(server, '/student', token));
  }
  async report(kind = 'no_face', extra = {}) {
    this.seq += 1;
    incCounter += 1;
    const now = Date.now();
    const body = { id: `sim-${this.id}-${incCounter}`, seq: this.seq, kind, started_at: now - 300, ended_at: now - 50, confidence: 0.9, ...extra };
    try {
      const ack = await this.socket.timeout(10_000).emitWithAck('incident', body);
      this.acks[ack.status] += 1;
      if (ack.status === 'rejected') this.acks.reasons[ack.reason] = (this.acks.reasons[ack.reason] ?? 0) + 1;
      return ack;
    } catch {
      this.acks.rejected += 1;
      this.acks.reasons.timeout = (this.acks.reasons.timeout ?? 0) + 1;
      return null;
    }
  }
  close() { this.socket.close(); }
}

/**
 * A 1280×720 PNG screenshot, shrunk to a 64-colour palette when Python's PIL
 * is around (≈50 kB instead of ≈150 kB, for the README); kept as is otherwise.
 */
export async function screenshot(page, path) {
  await page.screenshot({ path });
  spawnSync('python3', ['-c', [
    'import sys',
    'from PIL import Image',
    'p = sys.argv[1]',
    'Image.open(p).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(p, optimize=True)',
  ].join('\n'), path], { stdio: 'ignore' });
}
