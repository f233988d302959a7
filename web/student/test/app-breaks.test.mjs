// Breaks and thresholds, the real page against the real server: the
// student takes a break (after confirming), the exam is hidden and the
// server's session is on_break with its clock held; page events during the
// break raise nothing; "Back to the exam" returns; the last break's time
// runs out and the server ends it by itself. And the exam's detector
// thresholds reach the page's detectors, at the welcome and when changed.

import test from 'node:test';
import assert from 'node:assert/strict';

import { connect, request, sleep, until } from '../../e2e/lib/server.mjs';
import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, joinAndStart, examSettings, metrics } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';

// tab_hidden stays on: it shows that nothing is raised during a break.
const quiet = ['no_face', 'multiple_faces', 'looking_away', 'window_blur', 'fullscreen_exit', 'copy_paste', 'second_screen'];

function setHidden(page, hidden) {
  return page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

test('breaks: take one, the exam is hidden, come back; the last one ends by itself', { timeout: 240_000 }, async (t) => {
  requireBuilt();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: quiet, duration_s: 1800, breaks: { count: 2, minutes: 1 } });
  const { tokens } = await server.exam({ id: 'breaks', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(oneFaceVideo().file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinAndStart(page, server, tokens.student.s1);
  const proctor = await connect(server, '/proctor', tokens.proctor.p1);
  t.after(() => proctor.close());
  const sessionOnServer = async () => (await request(proctor, 'snapshot')).students[0].session;
  const waitForPhase = (phase) => until(`the server's session in ${phase}`, async () => (await sessionOnServer()).phase === phase, 30_000, 100);
  await waitForPhase('in_progress');
  assert.equal((await sessionOnServer()).breaks_left, 2);

  const onBreak = page.getByRole('dialog', { name: 'You are on a break' });
  const take = page.getByRole('button', { name: 'Take a break' });

  await t.test('the offer says how many are left and how long one lasts; cancel takes none', async () => {
    await take.click();
    await page.getByText('You have 2 breaks left; this uses one. A break lasts up to 1 minute.').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.getByRole('button', { name: 'Start my break' }).isVisible(), false);
    assert.equal((await sessionOnServer()).phase, 'in_progress');
  });

  await t.test('on a break: the exam is hidden, the server is on_break, the clock held, nothing raised', async () => {
    await take.click();
    await page.getByRole('button', { name: 'Start my break' }).click();
    await onBreak.waitFor();
    assert.equal(await page.locator('#exam').isVisible(), false, 'the exam is hidden');
    assert.equal(await page.locator('#exam').evaluate((e) => e.inert), true, 'and inert');
    await waitForPhase('on_break');
    const s = await sessionOnServer();
    assert.equal(s.breaks_left, 1);
    assert.ok(s.break_ends_at > Date.now() && s.break_ends_at <= Date.now() + 61_000, `break_ends_at ${s.break_ends_at - Date.now()} ms ahead`);
    // The countdown, by the server's clock: under a minute.
    await page.locator('#break-countdown', { hasText: /^Your break ends in 0:[0-5]\d\.$/ }).waitFor();
    // The exam's time left is held while on the break.
    const held = await page.locator('#status').textContent();
    assert.match(held, /Time left \d+:\d\d/);
    const timeLeft = held.match(/Time left ([\d:]+)/)[1];
    await sleep(2_500);
    assert.equal((await page.locator('#status').textContent()).match(/Time left ([\d:]+)/)[1], timeLeft, 'time left held');
    // Leaving the tab during the break is the student's own time.
    await setHidden(page, true);
    await sleep(500);
    await setHidden(page, false);
  });

  await t.test('"Back to the exam": the exam shows again and its clock runs', async () => {
    await page.getByRole('button', { name: 'Back to the exam' }).click();
    await onBreak.waitFor({ state: 'detached' });
    await waitForPhase('in_progress');
    assert.equal(await page.locator('#exam').isVisible(), true);
    assert.equal(await page.locator('#exam').evaluate((e) => e.inert), false);
    // Monitoring is back: hiding the tab now is an incident, the only one.
    await setHidden(page, true);
    await page.waitForFunction(() => window.__vigil.metrics.raised.some((r) => r.kind === 'tab_hidden'), null, { timeout: 10_000 });
    await setHidden(page, false);
    const m = await metrics(page);
    assert.equal(m.raised.filter((r) => r.kind === 'tab_hidden').length, 1, 'nothing was raised during the break');
  });

  await t.test('the last break runs out: the server ends it, and no break is offered any more', async () => {
    await take.click();
    await page.getByText('This is your last break.', { exact: false }).waitFor();
    await page.getByRole('button', { name: 'Start my break' }).click();
    await onBreak.waitFor();
    await waitForPhase('on_break');
    // A minute later the server ends it by itself.
    await onBreak.waitFor({ state: 'detached', timeout: 90_000 });
    const s = await sessionOnServer();
    assert.equal(s.phase, 'in_progress');
    assert.equal(s.breaks_left, 0);
    assert.equal(await page.locator('#exam').isVisible(), true);
    assert.equal(await take.count(), 0, 'no break left to offer');
  });
  assert.deepEqual(errors, []);
});

test("thresholds: the exam's reach the page's detectors, at the welcome and when changed", { timeout: 180_000 }, async (t) => {
  requireBuilt();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: quiet, thresholds: { no_face_after_ms: 7000, yaw_limit_deg: 40 } });
  const { tokens } = await server.exam({ id: 'thresholds', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(oneFaceVideo().file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinAndStart(page, server, tokens.student.s1);
  const thresholds = () => page.evaluate(() => window.__vigil.thresholds());
  let c = await thresholds();
  assert.equal(c.debounce.no_face, 7000);
  assert.equal(c.yawLimitDeg, 40);
  assert.equal(c.debounce.looking_away, 2000, 'not set: the page default');

  // Changed during the exam: exam_settings carries the new ones.
  const changed = await server.api('PUT', '/exams/thresholds/settings', { body: { ...settings, thresholds: { looking_away_after_ms: 9000 } } });
  assert.equal(changed.status, 200, JSON.stringify(changed.data));
  await page.waitForFunction(() => window.__vigil.thresholds().debounce.looking_away === 9000, null, { timeout: 15_000 });
  c = await thresholds();
  assert.equal(c.debounce.no_face, 2000, 'no longer set: back to the default');
  assert.equal(c.yawLimitDeg, 25);

  // The student's accommodations go over the exam's, field by field.
  const accommodations = { extra_time_pct: 0, extra_time_min: 0, disabled_detectors: [], extra_breaks: 0, thresholds: { yaw_limit_deg: 60 } };
  const set = await server.api('PUT', '/exams/thresholds/students/s1/accommodations', { body: accommodations });
  assert.equal(set.status, 200, JSON.stringify(set.data));
  await page.waitForFunction(() => window.__vigil.thresholds().yawLimitDeg === 60, null, { timeout: 15_000 });
  assert.equal((await thresholds()).debounce.looking_away, 9000, "the exam's still applies where the student's says nothing");
  assert.deepEqual(errors, []);
});
