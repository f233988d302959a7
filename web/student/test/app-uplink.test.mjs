// The built student app in headless Chromium against the real vigil server:
// the system check measures the uplink (POST /api/v1/uplink-probe) and its
// "Upload speed" row says the rate and the video it allows; on a slow uplink
// (Chromium's own network emulation, through CDP, throttling what the page
// uploads) the student still goes on, the camera is published with the
// larger simulcast layers off and a lower frame rate (read back from the
// browser's RTCRtpSender), and the status line says the video is reduced.

import test from 'node:test';
import assert from 'node:assert/strict';

import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, examSettings, passedSystemCheck } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';

/** The "Upload speed" row once measured: its class and text. */
async function uploadRow(page) {
  const handle = await page.waitForFunction(() => {
    const li = [...document.querySelectorAll('.checks li')].find((l) => l.querySelector('.what')?.textContent === 'Upload speed');
    const res = li?.querySelector('span:not(.what)');
    return res && res.className !== 'pending' ? { cls: res.className, text: res.textContent } : null;
  }, null, { timeout: 60_000 });
  return handle.jsonValue();
}

test('the system check measures the uplink and says the video it allows', { timeout: 180_000 }, async (t) => {
  requireBuilt();
  const { file } = oneFaceVideo();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: ['window_blur', 'second_screen'] });
  const { tokens } = await server.exam({ id: 'up', students: ['s1', 's2'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(file);
  t.after(() => browser.close());

  // Loopback: as fast as a link gets.
  const fast = await browser.context.newPage();
  await fast.goto(`${server.url}/student/#token=${tokens.student.s1}`);
  const row = await uploadRow(fast);
  t.diagnostic(`loopback: ${JSON.stringify(row)}`);
  assert.equal(row.cls, 'ok', JSON.stringify(row));
  const mbit = Number(row.text.match(/^(\d+(?:\.\d+)?) Mbit\/s — enough for full video$/)?.[1]);
  assert.ok(mbit >= 1.9, `a measured rate and the full plan: ${JSON.stringify(row)}`);
  await fast.close();

  // 30 kB/s up (240 kbit/s), downloads untouched: the quarter layer alone, at 10 frames a second.
  const page = await browser.context.newPage();
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 30_000 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/student/#token=${tokens.student.s2}`);
  const slow = await uploadRow(page);
  t.diagnostic(`throttled: ${JSON.stringify(slow)}`);
  assert.equal(slow.cls, 'reduced', JSON.stringify(slow));
  const rate = Number(slow.text.match(/^(\d\.\d+) Mbit\/s — your video will be sent at low resolution, 10 frames a second; the exam works normally$/)?.[1]);
  assert.ok(rate >= 0.15 && rate <= 0.5, `a throttled rate near 0.24 Mbit/s and its plan: ${JSON.stringify(slow)}`);

  // The student goes on as anyone does: the uplink holds nobody back.
  await passedSystemCheck(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('I have read this and agree').check();
  await page.getByRole('button', { name: 'I agree, continue' }).click();
  await page.getByRole('heading', { name: 'Check your camera' }).waitFor();
  // The camera is published with the plan: the browser's own sender parameters.
  const encodings = (await page.waitForFunction(() => {
    const e = window.__vigil.publisher()?.encodings();
    return e && e.length === 3 ? e : null;
  }, null, { timeout: 30_000 })).jsonValue();
  const byRid = Object.fromEntries((await encodings).map((e) => [e.rid, e]));
  t.diagnostic(`encodings: ${JSON.stringify(byRid)}`);
  assert.equal(byRid.q.active, true);
  assert.equal(byRid.q.maxFramerate, 10);
  assert.equal(byRid.h.active, false);
  assert.equal(byRid.f.active, false);
  // Once the video is live, the status line says it is reduced for the connection.
  await page.waitForFunction(() => /Video live \(.*low resolution, 10\/s, for your connection\)/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 60_000 });
  // Only the quarter layer leaves the browser: bytes sent by layer, read until the quarter layer has sent some.
  const layerBytes = () => page.evaluate(async () => {
    const stats = await window.__vigil.publisher()?.stats();
    const out = {};
    stats?.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') out[s.rid ?? '-'] = s.bytesSent ?? 0;
    });
    return out;
  });
  let bytes = await layerBytes();
  for (const until = Date.now() + 60_000; (bytes.q ?? 0) < 20_000 && Date.now() < until; bytes = await layerBytes()) {
    await new Promise((r) => setTimeout(r, 500));
  }
  t.diagnostic(`bytes sent by layer: ${JSON.stringify(bytes)}`);
  assert.ok(bytes.q >= 20_000, JSON.stringify(bytes));
  assert.equal(bytes.h ?? 0, 0, JSON.stringify(bytes));
  assert.equal(bytes.f ?? 0, 0, JSON.stringify(bytes));
  assert.deepEqual(errors, []);
});
