// The review page of one student with thousands of incidents, in the real
// dashboard build, in headless Debian Chromium, against the real server:
// how long from navigation until the page is interactive.
//
// The exam is seeded in-process by the Rust review benchmark (the incident
// budget that protects a live exam would make seeding 2,000 incidents over
// the protocol take 1,000 s); it then serves this dashboard build on
// loopback and waits. Each load is a fresh document (about:blank between),
// so nothing is reused but the browser's HTTP cache.
//
// Three times per load, read in the page from its own clock
// (performance.now(), zero at navigation start) by a MutationObserver
// installed before the page's own script:
// - interactive: the header, the decision panel and the first incidents of
//   the timeline are on the page, and the frame that shows them has been
//   produced (the next animation frame, then a task); the page puts a long
//   record on in steps, so the rest follows while the reviewer works;
// - complete: every incident of the record is on the page;
// - key handled: from the keydown of `n` (next incident), pressed as soon
//   as the page is interactive (while the rest is still being added), to
//   that incident marked current.
//
//   cargo build --release -p vigil-server --example review_bench
//   cd web/dashboard && npm run build && node bench/review-page.mjs [--loads 30] [--students 1000] [--per-student 20] [--incidents 2000] [--out ../../bench-out]

import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../../e2e/lib/server.mjs';
import { launchBrowser, pkgRoot } from '../test/browser/harness.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const loads = Number(arg('loads', '30'));
const students = Number(arg('students', '1000'));
const perStudent = Number(arg('per-student', '20'));
const incidents = Number(arg('incidents', '2000'));
const outDir = resolve(arg('out', join(repoRoot, 'bench-out')));
const benchBin = join(repoRoot, 'target/release/examples/review_bench');

function quantiles(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : null);
  return { n: s.length, p50: q(0.5), p95: q(0.95), max: s.at(-1) ?? null };
}

/** Starts the seeding server; resolves to its URL and a proctor token once it serves. */
function startServer(webDir) {
  const proc = spawn(benchBin, [String(students), String(perStudent), String(incidents), '--serve', webDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((ok, fail) => {
    proc.on('exit', (code) => fail(new Error(`review_bench exited (${code}) before serving`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (!line.startsWith('{"serving"')) return;
      const { serving } = JSON.parse(line);
      ok({ proc, ...serving });
    });
  });
}

/** Installed before the page's own script: notes when the record is on screen and when `n` is answered. */
function watchPage(expected) {
  const marks = { shown: null, interactive: null, complete: null, keydown: null, current: null };
  window.__reviewMarks = marks;
  const check = () => {
    const now = performance.now();
    if (marks.shown === null && document.querySelector('li[data-incident]') && document.querySelector('section.rd [data-decision]')) {
      marks.shown = now;
      requestAnimationFrame(() => setTimeout(() => { marks.interactive = performance.now(); }));
    }
    if (marks.complete === null && document.querySelectorAll('li[data-incident]').length >= expected) marks.complete = now;
    if (marks.keydown !== null && marks.current === null && document.querySelector('.rt--current')) marks.current = now;
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['class'] });
  window.addEventListener('keydown', (e) => {
    if (e.key === 'n' && marks.keydown === null) marks.keydown = performance.now();
  }, { capture: true });
}

async function main() {
  if (!existsSync(benchBin)) throw new Error(`${benchBin} is missing: cargo build --release -p vigil-server --example review_bench`);
  if (!existsSync(join(pkgRoot, 'dist/index.html'))) throw new Error('dist/ is missing: npm run build');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-review-page-'));
  const web = join(dir, 'web');
  mkdirSync(join(web, 'dashboard'), { recursive: true });
  cpSync(join(pkgRoot, 'dist'), join(web, 'dashboard', 'dist'), { recursive: true });
  console.error(`seeding ${students} students × ${perStudent} incidents and one with ${incidents}…`);
  const server = await startServer(web);
  const browser = await launchBrowser();
  const samples = [];
  try {
    const page = await browser.context.newPage();
    await page.addInitScript(watchPage, incidents);
    const url = `${server.url}/dashboard/#token=${server.token}&view=review&student=heavy`;
    for (let i = 0; i < loads; i += 1) {
      await page.goto('about:blank');
      await page.goto(url);
      await page.waitForFunction(() => window.__reviewMarks?.interactive !== null, null, { timeout: 60_000, polling: 5 });
      await page.keyboard.press('n');
      await page.waitForFunction(() => window.__reviewMarks.current !== null && window.__reviewMarks.complete !== null, null, { timeout: 60_000, polling: 20 });
      const m = await page.evaluate(() => ({
        ...window.__reviewMarks,
        // When the record's answer had fully arrived (Resource Timing).
        fetched: performance.getEntriesByType('resource').find((e) => /\/students\/[^/]+\/review$/.test(e.name))?.responseEnd ?? null,
      }));
      const sample = { load: i + 1, fetched_ms: m.fetched, interactive_ms: m.interactive, complete_ms: m.complete, key_ms: m.current - m.keydown };
      samples.push(sample);
      console.error(JSON.stringify(sample));
      // Within the proctor's review budget (10 reads a second after a burst).
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await browser.close();
    server.proc.stdin.end();
    await new Promise((r) => server.proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }

  const warm = samples.slice(1);
  const result = {
    bench: 'review-page',
    students: students + 1,
    incidents_of_reviewed_student: incidents,
    loads,
    first_load: samples[0],
    fetched_ms: quantiles(warm.map((s) => s.fetched_ms)),
    interactive_ms: quantiles(warm.map((s) => s.interactive_ms)),
    complete_ms: quantiles(warm.map((s) => s.complete_ms)),
    key_handled_ms: quantiles(warm.map((s) => s.key_ms)),
    samples,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'review-page.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(outDir, 'review-page.svg'), plot([
    { name: 'record answer arrived', ms: warm.map((s) => s.fetched_ms) },
    { name: 'navigation → interactive', ms: warm.map((s) => s.interactive_ms) },
    { name: 'navigation → all incidents on', ms: warm.map((s) => s.complete_ms) },
    { name: 'key n → incident current', ms: warm.map((s) => s.key_ms) },
  ]));
  console.log(JSON.stringify({ ...result, samples: undefined }, null, 2));
}

/** One row of dots per measure, with p50 and p95 ticks (as docs/bench/review.svg). */
function plot(series) {
  const max = Math.max(1, ...series.flatMap((s) => s.ms)) * 1.1;
  const [w, left, row] = [720, 230, 60];
  const x = (ms) => (left + (w - left - 20) * ms / max).toFixed(1);
  let svg = `<svg xmlns='http://www.w3.org/2000/svg' width='${w}' height='${row * (series.length + 1)}' font-family='sans-serif' font-size='12'>`;
  series.forEach((s, i) => {
    const y = row * (i + 0.7);
    svg += `<text x='8' y='${y + 4}'>${s.name}</text>`;
    for (const ms of s.ms) svg += `<circle cx='${x(ms)}' cy='${y}' r='3' fill='#4a7ab8' fill-opacity='0.5'/>`;
    const q = quantiles(s.ms);
    for (const [v, label] of [[q.p50, 'p50'], [q.p95, 'p95']]) {
      svg += `<line x1='${x(v)}' x2='${x(v)}' y1='${y - 12}' y2='${y + 12}' stroke='#c33'/><text x='${x(v)}' y='${y + 26}' text-anchor='middle'>${label} ${v.toFixed(0)} ms</text>`;
    }
  });
  const axisY = row * (series.length + 0.4);
  svg += `<text x='${left}' y='${axisY}'>0 ms</text><text x='${w - 20}' y='${axisY}' text-anchor='end'>${max.toFixed(0)} ms</text></svg>`;
  return svg;
}

await main();
