// Drives the built student app in headless Chromium against the real server.

import { launchChromium } from './chromium.mjs';

export async function launchWithCamera(y4m) {
  return launchChromium({
    extraArgs: [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** Exam settings with the window open now; `patch` overrides. */
export async function examSettings(server, patch = {}) {
  return server.defaultSettings({ stall_after_s: 30, ...patch });
}

/**
 * Opens the join link and walks the system check and consent; returns the
 * page's uncaught errors (collected from then on).
 */
export async function joinThroughConsent(page, server, token, { query = '' } = {}) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/student/${query}#token=${token}`);
  await passedSystemCheck(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('I have read this and agree').check();
  await page.getByRole('button', { name: 'I agree, continue' }).click();
  return errors;
}

/** Waits for the system check to let the student go on (its Continue button enabled). */
export async function passedSystemCheck(page) {
  await page.getByRole('heading', { name: 'System check' }).waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Continue');
    return b && !b.disabled;
  }, null, { timeout: 90_000 });
}

/** Opens the join link and walks system check → consent → preview → exam. */
export async function joinAndStart(page, server, token, opts = {}) {
  const errors = await joinThroughConsent(page, server, token, opts);
  await page.getByRole('heading', { name: 'Check your camera' }).waitFor();
  await page.getByRole('button', { name: /Start the exam/ }).click();
  await page.waitForFunction(() => window.__vigil.phase() === 'exam');
  return errors;
}

export const metrics = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.__vigil.metrics)));

/**
 * The page's metrics and the server's copy of the page's incidents once the
 * server has every incident the page raised so far (the page keeps raising
 * while we look).
 */
export async function settled(page, server, examId, studentId, proctorToken, { earlier = [], ms = 15_000 } = {}) {
  const until = Date.now() + ms;
  for (;;) {
    const m = await metrics(page);
    const stored = await server.clientIncidents(examId, studentId, proctorToken);
    const have = new Set(stored.map((r) => r.id));
    const raised = [...earlier, ...m.raised];
    if (raised.every((r) => have.has(r.id)) || Date.now() > until) return { m, stored, raised };
    await new Promise((r) => setTimeout(r, 250));
  }
}
