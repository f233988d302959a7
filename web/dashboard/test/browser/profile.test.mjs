// Re-render and latency profile on the PROFILING build (react-dom/profiling,
// one <Profiler id={student}> per tile): 1,000 students, ~500 incidents/s
// through the real server from simulated students, spread over 300 of them.
//
// Asserts: only tiles whose student changed re-rendered, and never more
// often than their student changed. Prints long tasks, long animation
// frames, frame gaps and "painted" latency (server emitted_at -> tile DOM
// changed), and writes them to test/browser/results/profile.json.
// No wall-clock assertions: these are measurements.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DashboardServer, SimStudent, haveVigil, launchBrowser, pkgRoot, scoring, sleep } from './harness.mjs';

const skip = haveVigil() ? false : 'target/debug/vigil is missing (build it with cargo build -p vigil)';
const N = 1000;
const SENDERS = Number(process.env.PROFILE_SENDERS ?? 300);
const RATE = Number(process.env.PROFILE_RATE ?? 500); // incidents per second, all senders together
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 10);
const KINDS = ['no_face', 'looking_away', 'tab_hidden', 'window_blur', 'copy_paste', 'multiple_faces'];

let server, browser, tokens;

before(async () => {
  if (skip) return;
  server = await DashboardServer.startWith('dist-profiling');
  const settings = await server.defaultSettings({ scoring: scoring({ half_life_s: 60 }) });
  const made = await server.exam({ id: 'big', students: [], proctors: ['p1'], settings });
  const ids = Array.from({ length: N }, (_, i) => `s${String(i).padStart(4, '0')}`);
  await server.addStudents('big', ids);
  tokens = { proctor: made.tokens.proctor.p1, student: await server.links('big', 'student', ids.slice(0, SENDERS)) };
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Page-side instrumentation, installed before the app runs. */
function instrument() {
  const P = (window.__prof = {
    measuring: false, renders: {}, mounts: 0, scoresReceived: 0, scoresApplied: {}, incidents: {}, ticks: {},
    pending: {}, latency: [], longtasks: [], loafs: [], gaps: [], frames: 0,
  });
  const now = () => performance.timeOrigin + performance.now();
  window.__vigilOnRender = (id, phase) => {
    if (!P.measuring) return;
    if (phase === 'mount') P.mounts++;
    else P.renders[id] = (P.renders[id] ?? 0) + 1;
  };
  window.__vigilOnScore = (u, applied) => {
    if (!P.measuring) return;
    P.scoresReceived++;
    if (!applied) return;
    P.scoresApplied[u.student_id] = (P.scoresApplied[u.student_id] ?? 0) + 1;
    P.pending[u.student_id] = { emitted: u.emitted_at, received: now() };
  };
  window.__vigilOnIncident = (r) => {
    if (P.measuring) P.incidents[r.student_id] = (P.incidents[r.student_id] ?? 0) + 1;
  };
  window.__vigilOnTick = (ids) => {
    if (P.measuring) for (const id of ids) P.ticks[id] = (P.ticks[id] ?? 0) + 1;
  };
  for (const type of ['longtask', 'long-animation-frame']) {
    try {
      new PerformanceObserver((list) => {
        if (!P.measuring) return;
        for (const e of list.getEntries()) (type === 'longtask' ? P.longtasks : P.loafs).push({ start: e.startTime, duration: e.duration, blocking: e.blockingDuration });
      }).observe({ type, buffered: false });
    } catch { /* not supported */ }
  }
  let last = 0;
  const loop = (t) => {
    if (P.measuring) {
      P.frames++;
      if (last && t - last > 50) P.gaps.push(t - last);
    }
    last = t;
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
  const mo = new MutationObserver((records) => {
    if (!P.measuring) return;
    const t = now();
    const seen = new Set();
    for (const r of records) {
      const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      const tile = node?.closest?.('[data-student]');
      const id = tile?.getAttribute('data-student');
      if (!id || seen.has(id)) continue;
      seen.add(id);
      const p = P.pending[id];
      if (!p) continue;
      delete P.pending[id];
      const rec = { id, serverToPage: p.received - p.emitted, serverToDom: t - p.emitted };
      P.latency.push(rec);
      // The frame that paints this DOM: next rAF, then after it (paint follows rAF).
      requestAnimationFrame(() => setTimeout(() => { rec.serverToPaint = now() - p.emitted; }, 0));
    }
  });
  const start = () => mo.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['class', 'aria-label'] });
  if (document.body) start(); else addEventListener('DOMContentLoaded', start);
}

const pct = (xs, p) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
};
const summary = (xs) => ({ n: xs.length, p50: pct(xs, 50), p95: pct(xs, 95), p99: pct(xs, 99), max: pct(xs, 100) });

test(`1,000 tiles, ~${RATE} updates/s through the real server: one render per changed tile`, { skip, timeout: 180_000 }, async () => {
  const page = await browser.context.newPage();
  await page.addInitScript(instrument);
  await page.goto(server.dashboardUrl(tokens.proctor));
  await page.locator('[data-status="live"]').waitFor({ timeout: 20_000 });
  assert.equal(await page.locator('[data-count="total"]').textContent(), String(N));
  const visible = await page.evaluate(() => [...document.querySelectorAll('[data-student]')].map((e) => e.getAttribute('data-student')));
  console.log(`tiles in the DOM (virtualised, 1280×720): ${visible.length} of ${N}`);

  const sims = [];
  for (let i = 0; i < SENDERS; i += 50) {
    sims.push(...await Promise.all(Object.entries(tokens.student).slice(i, i + 50).map(([id, tok]) => SimStudent.connect(server, id, tok))));
  }
  await sleep(500);
  await page.evaluate(() => { window.__prof.measuring = true; });
  // PROFILE_CPU=1: a CDP CPU profile of the page, summarised by self time.
  const cdp = process.env.PROFILE_CPU ? await browser.context.newCDPSession(page) : null;
  if (cdp) { await cdp.send('Profiler.enable'); await cdp.send('Profiler.start'); }

  // Each sender reports every SENDERS/RATE seconds (≤ 2/s: the refill rate), staggered.
  const period = (SENDERS / RATE) * 1000;
  const t0 = Date.now();
  let sent = 0;
  const acks = [];
  await Promise.all(sims.map(async (s, i) => {
    await sleep((i / sims.length) * period);
    let k = 0;
    while (Date.now() - t0 < SECONDS * 1000) {
      const due = t0 + (i / sims.length) * period + k * period;
      k++;
      if (due > Date.now()) await sleep(due - Date.now());
      sent++;
      acks.push(s.report(KINDS[(i + k) % KINDS.length]));
    }
  }));
  await Promise.all(acks);
  const elapsed = (Date.now() - t0) / 1000;
  await sleep(1500); // let the last updates paint
  const prof = await page.evaluate(() => { window.__prof.measuring = false; return window.__prof; });
  if (cdp) {
    const { profile } = await cdp.send('Profiler.stop');
    const self = new Map();
    const dt = new Map();
    profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
    for (const n of profile.nodes) {
      const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
      self.set(k, (self.get(k) ?? 0) + (dt.get(n.id) ?? 0) / 1000);
    }
    console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${v.toFixed(0).padStart(7)} ms  ${k}`).join('\n'));
  }
  const endVisible = new Set(await page.evaluate(() => [...document.querySelectorAll('[data-student]')].map((e) => e.getAttribute('data-student'))));
  for (const s of sims) s.close();

  const ackTotals = sims.reduce((a, s) => ({ accepted: a.accepted + s.acks.accepted, duplicate: a.duplicate + s.acks.duplicate, rejected: a.rejected + s.acks.rejected }), { accepted: 0, duplicate: 0, rejected: 0 });
  const reasons = {};
  for (const s of sims) for (const [r, n] of Object.entries(s.acks.reasons)) reasons[r] = (reasons[r] ?? 0) + n;

  // --- re-render assertions -------------------------------------------------
  const changes = (id) => (prof.scoresApplied[id] ?? 0) + (prof.incidents[id] ?? 0) + (prof.ticks[id] ?? 0);
  const rendered = Object.keys(prof.renders);
  const totalRenders = rendered.reduce((a, id) => a + prof.renders[id], 0);
  const applied = Object.values(prof.scoresApplied).reduce((a, b) => a + b, 0);
  const unchangedRendered = rendered.filter((id) => changes(id) === 0);
  const overRendered = rendered.filter((id) => prof.renders[id] > changes(id));
  assert.deepEqual(unchangedRendered, [], 'no tile re-rendered whose student did not change');
  assert.deepEqual(overRendered, [], 'no tile re-rendered more often than its student changed');
  assert.ok(applied > 0 && totalRenders > 0, 'updates reached the page and visible tiles re-rendered');
  // Every visible, changed tile did re-render (at least once).
  const missed = [...endVisible].filter((id) => visible.includes(id) && (prof.scoresApplied[id] ?? 0) > 0 && !prof.renders[id]);
  assert.deepEqual(missed, [], 'every visible tile whose score changed re-rendered');
  assert.equal(prof.mounts, 0, 'no tile remounted while scores streamed');

  // --- measurements -----------------------------------------------------------
  const result = {
    at: new Date().toISOString(),
    students: N, senders: SENDERS, targetRate: RATE, seconds: Math.round(elapsed * 10) / 10,
    incidentsSent: sent, sendRate: Math.round(sent / elapsed), acks: ackTotals, rejectReasons: reasons,
    page: {
      scoresReceived: prof.scoresReceived,
      scoresApplied: applied,
      receiveRate: Math.round(prof.scoresReceived / elapsed),
      incidentNotices: Object.values(prof.incidents).reduce((a, b) => a + b, 0),
      decayTickChanges: Object.values(prof.ticks).reduce((a, b) => a + b, 0),
      tilesInDom: visible.length,
      tileRenders: totalRenders,
      tilesRendered: rendered.length,
      rendersPerAppliedVisibleUpdate: Math.round((totalRenders / Math.max(1, visible.reduce((a, id) => a + changes(id), 0))) * 1000) / 1000,
      frames: prof.frames,
    },
    longTasks: { count: prof.longtasks.length, over50ms: prof.longtasks.filter((x) => x.duration > 50).length, max: pct(prof.longtasks.map((x) => x.duration), 100) },
    longAnimationFrames: { count: prof.loafs.length, max: pct(prof.loafs.map((x) => x.duration), 100), maxBlocking: pct(prof.loafs.map((x) => x.blocking ?? 0), 100) },
    frameGapsOver50ms: { count: prof.gaps.length, max: pct(prof.gaps, 100) },
    latencyMs: {
      serverEmitToPageReceive: summary(prof.latency.map((x) => x.serverToPage)),
      serverEmitToTileDom: summary(prof.latency.map((x) => x.serverToDom)),
      serverEmitToPaintFrame: summary(prof.latency.filter((x) => x.serverToPaint != null).map((x) => x.serverToPaint)),
    },
  };
  const dir = join(pkgRoot, 'test/browser/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'profile.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
  await page.close();
});
