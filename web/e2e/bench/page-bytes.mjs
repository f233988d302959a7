// Page-weight benchmark: the bytes a student's browser takes from vigil to
// start proctoring, on a first visit and on a revisit (same browser, its
// cache kept), for an exam with the default detectors and one with the phone
// detector off. Headless Chromium opens the production build
// (web/student/dist, precompressed by web/tools/precompress.mjs) through the
// system check, consent and camera preview to the exam, through a counting
// proxy (web/student/test/helpers/counting-proxy.mjs), and counts what the
// server sent: status line, headers and the body as encoded, for every
// request of the page and its workers, until the network has been quiet for
// 5 s. What the browser's cache answers never reaches the proxy, so it is
// not counted (the browser's own events cannot tell a cache hit from a
// download). Writes JSON and an SVG bar chart. Loopback only; it stops by itself.
//
//   node web/e2e/bench/page-bytes.mjs [--out docs/bench/page-bytes.json]

import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { VigilServer, repoRoot } from '../lib/server.mjs';
import { CountingProxy } from '../../student/test/helpers/counting-proxy.mjs';
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

/** A served path's file size in the build (0 for the API). */
function builtSize(pathname) {
  const m = pathname.match(/^\/(student|dashboard)\/(.*)$/);
  if (!m) return 0;
  const file = join(repoRoot, 'web', m[1], 'dist', m[2] === '' ? 'index.html' : m[2]);
  return existsSync(file) ? statSync(file).size : 0;
}

/** What one visit took from the server, by the proxy's count. */
function summary(requests) {
  const http = requests.filter((r) => r.status !== 101 && !r.path.startsWith('/socket.io/'));
  const group = (r) => {
    const p = new URL(r.path, 'http://x').pathname;
    if (p.startsWith('/student/models/')) return 'models';
    if (p.startsWith('/student/assets/')) return 'scripts';
    if (p.startsWith('/api/')) return 'api';
    return 'page';
  };
  const byGroup = {};
  for (const r of http) byGroup[group(r)] = (byGroup[group(r)] ?? 0) + r.bytes;
  const pathOf = (r) => new URL(r.path, 'http://x').pathname;
  return {
    bytes: http.reduce((s, r) => s + r.bytes, 0),
    requests: http.length,
    byGroup,
    // What the same files weigh uncompressed (their size in the build), for comparison.
    uncompressedBytes: [...new Set(http.map(pathOf))].reduce((s, p) => s + builtSize(p), 0),
    files: [...http].sort((a, b) => b.bytes - a.bytes).map((r) => ({ path: pathOf(r), bytes: r.bytes, status: r.status, encoding: r.encoding })),
  };
}

async function visit(context, server, proxy, token, first) {
  const page = await context.newPage();
  const from = proxy.requests.length;
  // The page is opened through the proxy, so that every request it and its
  // workers make, and nothing the browser's cache answers, is counted.
  const through = { ...server, url: proxy.url };
  if (first) {
    await joinThroughConsent(page, through, token);
    await page.getByRole('heading', { name: 'Check your camera' }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: /Start the exam/ }).click();
  } else {
    // A revisit: the student comes back to the exam they started (a reload, or the next day's paper).
    await page.goto(`${proxy.url}/student/#token=${token}`);
  }
  await proxy.quiet(QUIET_MS, VISIT_TIMEOUT_MS);
  await page.close();
  return summary(proxy.requests.slice(from));
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
const proxy = await CountingProxy.start(server.url);
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
      const first = await visit(browser.context, server, proxy, tokens.student.s1, true);
      log(`${name}: first visit ${(first.bytes / 1e6).toFixed(2)} MB in ${first.requests} requests (${(first.uncompressedBytes / 1e6).toFixed(2)} MB uncompressed)`);
      const revisit = await visit(browser.context, server, proxy, tokens.student.s1, false);
      log(`${name}: revisit ${(revisit.bytes / 1e3).toFixed(1)} kB in ${revisit.requests} requests`);
      results.push({ name, settingsPatch: patch, first, revisit });
    } finally {
      await browser.close();
    }
  }
} finally {
  await proxy.stop();
  await server.stop();
}
mkdirSync(dirname(outJson), { recursive: true });
writeFileSync(outJson, JSON.stringify({ generated: 'web/e2e/bench/page-bytes.mjs', at: new Date().toISOString(), targets: { firstVisitBytes: 6e6, revisitBytes: 1e5 }, results }, null, 2) + '\n');
writeFileSync(outSvg, svg(results));
log(`wrote ${outJson} and ${outSvg}`);
