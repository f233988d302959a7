// The server holds the exam session, and the real page follows it: a
// reload during a pause comes back paused, a terminated student's reload is
// refused with its own reason, and the server's timer ends the exam.

import test from 'node:test';
import assert from 'node:assert/strict';

import { connect, request } from '../../e2e/lib/server.mjs';
import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, joinAndStart, examSettings } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';

// Only what these tests look at: the scripted video and headless Chromium
// must not raise incidents that pop notices over the screens checked.
const quiet = ['no_face', 'multiple_faces', 'looking_away', 'window_blur', 'fullscreen_exit', 'copy_paste', 'second_screen', 'tab_hidden'];

test('a reload during a pause stays paused; a terminated session cannot be rejoined', { timeout: 180_000 }, async (t) => {
  requireBuilt();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: quiet });
  const { tokens } = await server.exam({ id: 'held', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(oneFaceVideo().file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinAndStart(page, server, tokens.student.s1);
  const proctor = await connect(server, '/proctor', tokens.proctor.p1);
  t.after(() => proctor.close());
  const act = (kind, text) => request(proctor, 'action', { student_id: 's1', kind, ...(text ? { text } : {}) });
  const phaseOnServer = async () => (await request(proctor, 'snapshot')).students[0].session.phase;

  // The page's start reached the server: its clock runs.
  for (let i = 0; i < 100 && (await phaseOnServer()) !== 'in_progress'; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await phaseOnServer(), 'in_progress');

  assert.deepEqual(await act('pause', 'Hold on'), { status: 'ok' });
  const paused = page.getByRole('alertdialog', { name: 'Your exam is paused' });
  await paused.waitFor();
  // A reload does not escape the pause.
  await page.reload();
  await paused.waitFor({ timeout: 60_000 });
  await paused.getByText('Hold on').waitFor();
  assert.deepEqual(await act('resume'), { status: 'ok' });
  await paused.waitFor({ state: 'detached' });

  assert.deepEqual(await act('terminate', 'Rules broken'), { status: 'ok' });
  await page.getByRole('heading', { name: 'Exam over' }).waitFor();
  await page.getByText('Your proctor ended your exam: Rules broken').waitFor();
  // A reload after the end: refused, with its own reason.
  await page.reload();
  await page.getByRole('heading', { name: 'You cannot join right now' }).waitFor({ timeout: 30_000 });
  await page.getByText(/Reason: session_terminated/).waitFor();
  assert.deepEqual(await act('resume'), { status: 'rejected', reason: 'session_terminated', message: 'the session was terminated' });
  assert.deepEqual(errors, []);
});

test("the server's timer ends the exam, and the page shows the time left", { timeout: 180_000 }, async (t) => {
  requireBuilt();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: quiet, duration_s: 25 });
  const { tokens } = await server.exam({ id: 'timed', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(oneFaceVideo().file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinAndStart(page, server, tokens.student.s1);
  await page.locator('#status', { hasText: /Time left 0:[0-2]\d/ }).waitFor({ timeout: 30_000 });
  await page.getByText('Your time is up').waitFor({ timeout: 60_000 });
  const proctor = await connect(server, '/proctor', tokens.proctor.p1);
  t.after(() => proctor.close());
  const [view] = (await request(proctor, 'snapshot')).students;
  assert.equal(view.session.phase, 'expired');
  assert.equal(view.session.time_left_ms, 0);
  assert.deepEqual(errors, []);
});
