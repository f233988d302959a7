// Page events become incidents at the real server (tab hidden, full screen
// left, window blur, copy/paste), and proctor actions reach the page
// (warn, message, pause, resume, terminate).

import test from 'node:test';
import assert from 'node:assert/strict';

import { connect, request } from '../../e2e/lib/server.mjs';
import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, joinAndStart, metrics, examSettings } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Makes the page believe it is hidden (or visible again) and tells it so. */
function setHidden(page, hidden) {
  return page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

test('page events and proctor actions', { timeout: 180_000 }, async (t) => {
  requireBuilt();
  const { file } = oneFaceVideo();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: ['second_screen'] });
  const { tokens } = await server.exam({ id: 'events', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinAndStart(page, server, tokens.student.s1);
  const byKind = async (kind, pred = () => true, ms = 10_000) => {
    const until = Date.now() + ms;
    for (;;) {
      const found = (await server.incidents('events', 's1', tokens.proctor.p1)).filter((r) => r.kind === kind && pred(r));
      if (found.length || Date.now() > until) return found;
      await sleep(200);
    }
  };

  await t.test('hiding the tab: tab_hidden from hide to show, with evidence', async () => {
    const t0 = Date.now();
    await setHidden(page, true);
    const open = await byKind('tab_hidden', () => true, 3_000);
    assert.equal(open.length, 1, 'reported within 3 s');
    assert.ok(open[0].started_at >= t0 - 100);
    await sleep(1200);
    await setHidden(page, false);
    const [r] = await byKind('tab_hidden', (x) => x.ended_at && x.evidence_sha256);
    assert.ok(r, 'ended and with evidence');
    assert.ok(r.ended_at - r.started_at >= 1000, `${r.ended_at - r.started_at} ms`);
  });

  await t.test('leaving full screen: fullscreen_exit', async () => {
    assert.equal(await page.evaluate(() => !!document.fullscreenElement), true, 'the start button entered full screen');
    await page.evaluate(() => document.exitFullscreen());
    const [r] = await byKind('fullscreen_exit', () => true, 3_000);
    assert.ok(r, 'reported within 3 s');
    assert.equal(r.ended_at, undefined, 'still out of full screen');
    await page.getByRole('button', { name: 'Go full screen' }).click();
    const [ended] = await byKind('fullscreen_exit', (x) => x.ended_at);
    assert.ok(ended, 'ends on return to full screen');
  });

  await t.test('window blur ≥ 2 s: window_blur; a short blur: nothing', async () => {
    await page.evaluate(() => window.dispatchEvent(new Event('blur')));
    await sleep(500);
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    await sleep(500);
    await page.evaluate(() => window.dispatchEvent(new Event('blur')));
    await sleep(2600);
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    const all = await byKind('window_blur', (x) => x.ended_at);
    assert.equal(all.length, 1);
    assert.ok(all[0].ended_at - all[0].started_at >= 2000);
  });

  await t.test('paste: copy_paste, closed at once', async () => {
    await page.evaluate(() => document.dispatchEvent(new Event('paste')));
    const [r] = await byKind('copy_paste', () => true, 3_000);
    assert.ok(r);
    assert.equal(r.ended_at, r.started_at);
  });

  await t.test('a worker that dies is restarted, and counted', async () => {
    await page.evaluate(() => window.__vigil.crashWorker());
    await page.waitForFunction(() => window.__vigil.vision().restarts === 1, null, { timeout: 15_000 });
    const frames = await page.evaluate(() => window.__vigil.metrics.frames.length);
    await page.waitForFunction((n) => window.__vigil.metrics.frames.length > n + 5 && window.__vigil.vision().healthy, frames, { timeout: 60_000 });
  });

  await t.test('proctor actions: warn, message, pause, resume, terminate', async () => {
    const proctor = await connect(server, '/proctor', tokens.proctor.p1);
    t.after(() => proctor.close());
    const act = (kind, text) => request(proctor, 'action', { student_id: 's1', kind, ...(text ? { text } : {}) });
    assert.deepEqual(await act('warn', 'Eyes on your own screen'), { status: 'ok' });
    await page.getByRole('alert').filter({ hasText: 'Eyes on your own screen' }).waitFor();
    await act('message', '10 minutes left');
    await page.getByRole('status').filter({ hasText: '10 minutes left' }).waitFor();
    await act('pause', 'Hold on');
    await page.getByRole('alertdialog', { name: 'Your exam is paused' }).waitFor();
    assert.equal(await page.evaluate(() => document.getElementById('exam').inert), true);
    await act('resume');
    await page.getByRole('alertdialog').waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.getElementById('exam').inert), false);
    await act('terminate', 'Rules broken');
    await page.getByRole('heading', { name: 'Exam over' }).waitFor();
    await page.getByText('Everything has been sent.').waitFor();
  });

  const m = await metrics(page);
  const stored = await server.clientIncidents('events', 's1', tokens.proctor.p1);
  assert.deepEqual(m.raised.map((r) => r.id).sort(), stored.map((r) => r.id).sort(), 'every raised incident stored once');
  assert.ok(stored.every((r) => r.ended_at !== undefined), 'terminate ends everything open');
  // The short test video loops every 2 s, so two captures can be the very
  // same frame: the server refuses the second as a replay, rightly.
  assert.deepEqual(m.dropped.filter((d) => !(d.type === 'evidence' && d.reason === 'replayed_frame')), []);
  assert.deepEqual(errors, []);
});

test('a refused join link says why, in plain words', { timeout: 60_000 }, async (t) => {
  requireBuilt();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const browser = await launchWithCamera(oneFaceVideo().file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/student/#token=not.a.valid-token`);
  await page.getByRole('heading', { name: 'You cannot join right now' }).waitFor();
  await page.getByText('This join link is not valid').waitFor();
  await page.getByText(/Reason: invalid_token/).waitFor();
  // No token at all: the join screen asks for the link.
  await page.goto(`${server.url}/student/`);
  await page.getByRole('heading', { name: 'Join your exam' }).waitFor();
  await page.getByLabel('Your join link (or its token)').waitFor();
});
