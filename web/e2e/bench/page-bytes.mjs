// Page-weight benchmark: the bytes a student's browser takes from vigil to
// start proctoring, on a first visit and on a revisit (same browser, its
// cache kept), for an exam with the default detectors and one with the phone
// detector off. Headless Chromium opens the production build
// (web/student/dist, precompressed by web/tools/precompress.mjs) through the
// system check, consent and camera preview to the exam, and counts what
// crossed the network (Playwright's request sizes: headers and the encoded
// body, as on the wire; the workers' model downloads included) until the
// network has been quiet for 5 s. Writes JSON and an SVG bar chart. Loopback only; it stops by itself.
//
//   node web/e2e/bench/page-bytes.mjs [--out docs/bench/page-bytes.json]

import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { VigilServer, repoRoot } from '../lib/server.mjs';
import { joinThroughConsent, launchWithCamera } from '../../student/test/helpers/student-page.mjs';
import { oneFaceVideo } from '../../student/test/helpers/media.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const outJson = resolve(arg('out', join(repoRoot, 'bench-out/page-bytes.json')));
const outSvg = outJson.replace(/\.json$/, '') + '.svg';
const QUIET_MS = 5_000;
const VISIT_TIMEOUT_MS = 180_000;
const log = (s) => process.stderr.write(`${s}\n`);

/**
 * Counts every response's bytes on the wire (Playwright's request sizes:
 * headers and the encoded body), the workers' requests included, until the
 * network is quiet.
 */
async function watch(page) {
  const requests = new Map();
  let inFlight = 0;
  let last = Date.now();
  const skip = (req) => req.url().includes('/socket.io/') || !req.url().startsWith('http');
  const onRequest = (req) => {
    if (skip(req)) return;
    inFlight += 1;
    requests.set(req, { url: req.url(), status: 0, bytes: 0, encoding: '' });
    last = Date.now();
  };
  const onDone = async (req, failed) => {
    const r = requests.get(req);
    if (!r || r.finished) return;
    r.finished = true;
    try {
      const res = failed ? null : await req.response();
      if (res) {
        const sizes = await req.sizes();
        Object.assign(r, { status: res.status(), bytes: sizes.responseHeadersSize + sizes.responseBodySize, encoding: (await res.allHeaders())['content-encoding'] ?? '' });
      }
    } finally {
      inFlight -= 1;
      last = Date.now();
    }
  };
  const context = page.context();
  context.on('request', onRequest);
  context.on('requestfinished', (req) => void onDone(req, false));
  context.on('requestfailed', (req) => void onDone(req, true));
  return {
    async quiet() {
      const deadline = Date.now() + VISIT_TIMEOUT_MS;
      while (inFlight > 0 || Date.now() - last < QUIET_MS) {
        if (Date.now() > deadline) {
          const open = [...requests.values()].filter((r) => !r.finished).map((r) => r.url);
          throw new Error(`the network never went quiet: ${open.join(', ')}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      context.removeListener('request', onRequest);
      context.removeAllListeners('requestfinished');
      context.removeAllListeners('requestfailed');
      return [...requests.values()];
    },
  };
}

/** A served path's file size in the build (0 for the API). */
function builtSize(pathname) {
  const m = pathname.match(/^\/(student|dashboard)\/(.*)$/);
  if (!m) return 0;
  const file = join(repoRoot, 'web', m[1], 'dist', m[2] === '' ? 'index.html' : m[2]);
  return existsSync(file) ? statSync(file).size : 0;
}

function summary(requests, origin, first) {
  // Chromium reports no body size for a worker's own script (Playwright then
  // gives its headers alone): on a first visit, with nothing cached, count
  // the copy the server sent, which the encoding names. (On a revisit those
  // scripts come from the cache and are counted at their headers' size, a
  // slight overcount.)
  for (const r of first ? requests : []) {
    const ext = { br: '.br', gzip: '.gz' }[r.encoding];
    const sent = ext ? builtSize(new URL(r.url).pathname + ext) : 0;
    if (sent > r.bytes) Object.assign(r, { bytes: r.bytes + sent, bodyFromBuild: true });
  }
  const mine = requests.filter((r) => r.url.startsWith(origin));
  const http = mine.filter((r) => !r.url.includes('/socket.io/'));
  const group = (r) => {
    const p = new URL(r.url).pathname;
    if (p.startsWith('/student/models/')) return 'models';
    if (p.startsWith('/student/assets/')) return 'scripts';
    if (p.startsWith('/api/')) return 'api';
    return 'page';
  };
  const byGroup = {};
  for (const r of http) byGroup[group(r)] = (byGroup[group(r)] ?? 0) + r.bytes;
  return {
    bytes: http.reduce((s, r) => s + r.bytes, 0),
    requests: http.length,
    byGroup,
    // What the same files weigh uncompressed (their size in the build), for comparison.
    uncompressedBytes: [...new Set(http.map((r) => new URL(r.url).pathname))].reduce((s, p) => s + builtSize(p), 0),
    files: [...http].sort((a, b) => b.bytes - a.bytes).map((r) => ({ path: new URL(r.url).pathname, bytes: r.bytes, status: r.status, encoding: r.encoding, ...(r.bodyFromBuild ? { bodyFromBuild: true } : {}) })),
  };
}

async function visit(context, server, token, first) {
  const page = await context.newPage();
  const watcher = await watch(page);
  if (first) {
    await joinThroughConsent(page, server, token);
    await page.getByRole('heading', { name: 'Check your camera' }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: /Start the exam/ }).click();
  } else {
    // A revisit: the student comes back to the exam they started (a reload, or the next day's paper).
    await page.goto(`${server.url}/student/#token=${token}`);
  }
  const requests = await watcher.quiet();
  await page.close();
  return summary(requests, server.url, first);
}

function svg(results) {
  const w = 640;
  const rowH = 28;
  const rows = results.flatMap((r) => [[`${r.name}: first visit`, r.first.bytes], [`${r.name}: revisit`, r.revisit.bytes]]);
  const max = Math.max(...rows.map(([, b]) => b), 6e6);
  const x = (b) => 230 + (b / max) * (w - 250);
  const bars = rows
    .map(([label, b], i) => {
      const y = 30 + i * rowH;
      return `<text x="225" y="${y + 15}" text-anchor="end" font-size="12">${label}</text><rect x="230" y="${y + 3}" width="${Math.max(1, x(b) - 230)}" height="16" fill="#4a78c2"/><text x="${x(b) + 4}" y="${y + 15}" font-size="11">${(b / 1e6).toFixed(2)} MB</text>`;
    })
    .join('');
  const target = `<line x1="${x(6e6)}" x2="${x(6e6)}" y1="25" y2="${30 + rows.length * rowH}" stroke="#c24a4a" stroke-dasharray="4 3"/><text x="${x(6e6)}" y="20" font-size="11" text-anchor="middle" fill="#c24a4a">6 MB target</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${50 + rows.length * rowH}" font-family="sans-serif"><text x="10" y="14" font-size="13">Bytes to start proctoring (on the wire)</text>${target}${bars}</svg>\n`;
}

const server = await VigilServer.start({ webDir: join(repoRoot, 'web') });
const { file: y4m } = oneFaceVideo();
const results = [];
try {
  for (const [name, patch] of [
    ['default detectors', {}],
    ['phone detector off', { disabled_detectors: ['phone_visible'] }],
  ]) {
    const settings = await server.defaultSettings(patch);
    const id = `bytes-${results.length}`;
    const { tokens } = await server.exam({ id, students: ['s1'], proctors: ['p1'], settings });
    // One browser per scenario: the first visit starts with an empty cache.
    const browser = await launchWithCamera(y4m);
    try {
      const first = await visit(browser.context, server, tokens.student.s1, true);
      log(`${name}: first visit ${(first.bytes / 1e6).toFixed(2)} MB in ${first.requests} requests (${(first.uncompressedBytes / 1e6).toFixed(2)} MB uncompressed)`);
      const revisit = await visit(browser.context, server, tokens.student.s1, false);
      // Revalidated files are reported as 200 from the cache: only their 304's headers crossed the network.
      log(`${name}: revisit ${(revisit.bytes / 1e3).toFixed(1)} kB in ${revisit.requests} requests`);
      results.push({ name, settingsPatch: patch, first, revisit });
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.stop();
}
mkdirSync(dirname(outJson), { recursive: true });
writeFileSync(outJson, JSON.stringify({ generated: 'web/e2e/bench/page-bytes.mjs', at: new Date().toISOString(), targets: { firstVisitBytes: 6e6, revisitBytes: 1e5 }, results }, null, 2) + '\n');
writeFileSync(outSvg, svg(results));
log(`wrote ${outJson} and ${outSvg}`);
