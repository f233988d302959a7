// The gaze calibration on the preview screen, in the built app with a
// scripted camera (one frontal face): the student looks at the dot, the bar
// fills, the page says it is done, and looking away is then judged from
// there (the debouncer's `screen`). A reload mid-exam keeps the calibration.

import test from 'node:test';
import assert from 'node:assert/strict';

import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, joinThroughConsent, examSettings } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';

test('the preview calibrates the gaze, looking away counts from it, and a reload keeps it', { timeout: 180_000 }, async (t) => {
  requireBuilt();
  const { file } = oneFaceVideo();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: ['window_blur', 'second_screen'] });
  const { tokens } = await server.exam({ id: 'gaze', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinThroughConsent(page, server, tokens.student.s1, { query: '?model=landmarker' });
  await page.getByRole('heading', { name: 'Check your camera' }).waitFor();
  assert.ok(await page.locator('.calibration-dot').isVisible(), 'the dot shows');
  await page.getByText('Done: we know where your screen is. You can start.').waitFor({ timeout: 60_000 });
  const screen = await page.evaluate(() => window.__vigil.calibration());
  t.diagnostic(`calibrated screen: yaw ${screen.yawDeg.toFixed(1)}°, pitch ${screen.pitchDeg.toFixed(1)}°`);
  // A frontal photo: the screen is nearly straight ahead.
  assert.ok(Math.abs(screen.yawDeg) < 20 && Math.abs(screen.pitchDeg) < 25, JSON.stringify(screen));
  assert.equal(await page.locator('#calibration-progress').evaluate((el) => el.value), 1);

  await page.getByRole('button', { name: /Start the exam/ }).click();
  await page.waitForFunction(() => window.__vigil.phase() === 'exam');
  assert.deepEqual(await page.evaluate(() => window.__vigil.thresholds().screen), screen, 'the debouncer counts from the calibration');

  await page.reload();
  await page.waitForFunction(() => window.__vigil?.phase() === 'exam', null, { timeout: 60_000 });
  assert.deepEqual(await page.evaluate(() => window.__vigil.thresholds().screen), screen, 'a reload keeps the calibration');
  assert.deepEqual(errors, []);
});
