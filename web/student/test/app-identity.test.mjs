// The identity check, the real page against the real server: on an exam
// with `identity_check: photo` the page takes the photo (with a retake),
// uploads it and submits; the proctor sees the session waiting for them,
// fetches the photo (a real JPEG of the camera's picture), refuses it with
// a reason that the page shows; the student retakes, the proctor approves,
// and the exam starts.

import test from 'node:test';
import assert from 'node:assert/strict';
import jpeg from 'jpeg-js';

import { connect, request, until } from '../../e2e/lib/server.mjs';
import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, joinThroughConsent, examSettings } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';

const quiet = ['no_face', 'multiple_faces', 'looking_away', 'window_blur', 'fullscreen_exit', 'copy_paste', 'second_screen', 'tab_hidden'];

test('identity check: photo, proctor refuses with a reason, retake, approval, the exam starts', { timeout: 240_000 }, async (t) => {
  requireBuilt();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: quiet, identity_check: 'photo', identity_auto_approve: false });
  const { tokens } = await server.exam({ id: 'idcheck', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(oneFaceVideo().file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const proctor = await connect(server, '/proctor', tokens.proctor.p1);
  t.after(() => proctor.close());
  const act = (kind, text) => request(proctor, 'action', { student_id: 's1', kind, ...(text ? { text } : {}) });
  const phaseOnServer = async () => (await request(proctor, 'snapshot')).students[0].session.phase;
  const waitForPhase = (phase) => until(`the server's session in ${phase}`, async () => (await phaseOnServer()) === phase, 30_000, 100);

  const errors = await joinThroughConsent(page, server, tokens.student.s1);
  await page.getByRole('heading', { name: 'Identity check' }).waitFor();
  assert.equal(await page.evaluate(() => window.__vigil.phase()), 'identity');
  // The camera preview stays on screen while the photo is taken.
  assert.equal(await page.locator('.identity-live video').isVisible(), true);

  /** Takes the photo (once more after a retake) and sends it. */
  const takeAndSend = async ({ retake }) => {
    await page.getByRole('button', { name: 'Take photo' }).click();
    await page.getByRole('img', { name: 'The photo of your face you just took' }).waitFor();
    if (retake) {
      await page.getByRole('button', { name: 'Retake' }).click();
      await page.getByRole('button', { name: 'Take photo' }).click();
      await page.getByRole('img', { name: 'The photo of your face you just took' }).waitFor();
    }
    await page.getByRole('button', { name: 'Use this photo' }).click();
  };

  await takeAndSend({ retake: true });
  await page.getByRole('heading', { name: 'Waiting for approval' }).waitFor({ timeout: 30_000 });
  await waitForPhase('identity_check');

  // The proctor sees the photo: listed, and a real JPEG of the camera's picture.
  const listed = await server.api('GET', '/exams/idcheck/students/s1/identity', { token: tokens.proctor.p1 });
  assert.equal(listed.status, 200, JSON.stringify(listed.data));
  assert.deepEqual(listed.data.photos.map((p) => p.kind), ['face']);
  const res = await fetch(`${server.url}/api/v1/exams/idcheck/students/s1/identity/face`, { headers: { authorization: `Bearer ${tokens.proctor.p1}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^image\/jpeg/);
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 3)], [0xff, 0xd8, 0xff]);
  const img = jpeg.decode(bytes, { useTArray: true });
  assert.deepEqual([img.width, img.height], [listed.data.photos[0].width, listed.data.photos[0].height]);
  assert.ok(img.width >= 160 && img.height >= 120, `${img.width}×${img.height}`);
  // Not a blank frame: the picture varies (the test video's face and background).
  let min = 255;
  let max = 0;
  for (let i = 0; i < img.data.length; i += 4 * 97) {
    min = Math.min(min, img.data[i]);
    max = Math.max(max, img.data[i]);
  }
  assert.ok(max - min > 60, `luma range ${min}..${max}`);
  // The capture time is the server's clock, recent.
  assert.ok(Math.abs(listed.data.photos[0].captured_at - Date.now()) < 60_000);

  // Refused, with a reason: the page says why and asks again.
  assert.deepEqual(await act('reject_identity', 'Your face is partly hidden'), { status: 'ok' });
  await waitForPhase('waiting');
  await page.getByRole('heading', { name: 'Identity check' }).waitFor();
  await page.getByRole('alert').filter({ hasText: 'Your face is partly hidden' }).waitFor();
  assert.equal(await page.getByRole('button', { name: /Start the exam/ }).count(), 0, 'no start before approval');

  // Retake and submit again.
  await takeAndSend({ retake: false });
  await page.getByRole('heading', { name: 'Waiting for approval' }).waitFor({ timeout: 30_000 });
  await waitForPhase('identity_check');
  const again = await server.api('GET', '/exams/idcheck/students/s1/identity', { token: tokens.proctor.p1 });
  assert.notEqual(again.data.photos[0].sha256, listed.data.photos[0].sha256, 'the new photo replaced the old one');

  // Approved: on to the preview, and the exam starts.
  assert.deepEqual(await act('approve_identity'), { status: 'ok' });
  await page.getByRole('heading', { name: 'Check your camera' }).waitFor({ timeout: 30_000 });
  await waitForPhase('ready');
  await page.getByRole('button', { name: /Start the exam/ }).click();
  await page.waitForFunction(() => window.__vigil.phase() === 'exam');
  await waitForPhase('in_progress');
  await page.locator('#exam').waitFor();
  assert.deepEqual(errors, []);
});

test('identity check with auto-approval: the photo, then straight on to the exam', { timeout: 180_000 }, async (t) => {
  requireBuilt();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: quiet, identity_check: 'photo_and_id', identity_auto_approve: true });
  const { tokens } = await server.exam({ id: 'idauto', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(oneFaceVideo().file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinThroughConsent(page, server, tokens.student.s1);
  await page.getByRole('heading', { name: 'Photo 1 of 2: your face' }).waitFor();
  await page.getByRole('button', { name: 'Take photo' }).click();
  await page.getByRole('button', { name: 'Use this photo' }).click();
  await page.getByRole('heading', { name: 'Photo 2 of 2: your ID document' }).waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Take photo' }).click();
  await page.getByRole('img', { name: 'The photo of your ID document you just took' }).waitFor();
  await page.getByRole('button', { name: 'Use this photo' }).click();
  await page.getByRole('heading', { name: 'Check your camera' }).waitFor({ timeout: 30_000 });
  const proctor = await connect(server, '/proctor', tokens.proctor.p1);
  t.after(() => proctor.close());
  assert.equal((await request(proctor, 'snapshot')).students[0].session.phase, 'ready');
  const listed = await server.api('GET', '/exams/idauto/students/s1/identity', { token: tokens.proctor.p1 });
  assert.deepEqual(listed.data.photos.map((p) => p.kind).sort(), ['face', 'id_document']);
  await page.getByRole('button', { name: /Start the exam/ }).click();
  await page.waitForFunction(() => window.__vigil.phase() === 'exam');
  await until('in_progress', async () => (await request(proctor, 'snapshot')).students[0].session.phase === 'in_progress', 30_000, 100);
  assert.deepEqual(errors, []);
});
