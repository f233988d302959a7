// Nothing is lost: the server is killed (-9) mid-exam while the page keeps
// raising incidents, it restarts on the same data dir and port, and the page
// is reloaded before its outbox could drain. Every incident the page raised,
// in either page life, is at the server exactly once, and evidence follows.

import test from 'node:test';
import assert from 'node:assert/strict';

import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, joinAndStart, metrics, settled, examSettings } from './helpers/student-page.mjs';
import { scriptedVideo } from './helpers/media.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function setHidden(page, hidden) {
  return page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** The vision loop's state, for the diagnostics: frames analysed, the last one's age, worker restarts. */
const visionState = (page) =>
  page.evaluate(() => {
    const frames = window.__vigil.metrics.frames;
    const v = window.__vigil.vision();
    const last = frames.at(-1);
    return { framesAnalysed: frames.length, lastFrameAgeMs: last ? Date.now() - last.at : null, restarts: v?.restarts, healthy: v?.healthy };
  });

test('kill -9 mid-exam, restart, reload: every incident arrives exactly once', { timeout: 240_000 }, async (t) => {
  requireBuilt();
  const { file } = scriptedVideo();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: ['window_blur', 'second_screen', 'fullscreen_exit'] });
  const { tokens } = await server.exam({ id: 'crash', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinAndStart(page, server, tokens.student.s1, { query: '?yaw_limit=12' });

  // Some incidents reach the server while it is up.
  await setHidden(page, true);
  await sleep(300);
  await setHidden(page, false);
  await page.waitForFunction(() => window.__vigil.metrics.raiseToAck.length >= 1 && window.__vigil.pending() === 0);

  t.diagnostic(`vision at the kill: ${JSON.stringify(await visionState(page))}`);
  await server.kill9();
  // The page keeps working and queues what happens while the server is gone.
  for (let i = 0; i < 3; i++) {
    await setHidden(page, true);
    await sleep(400);
    await setHidden(page, false);
    await sleep(300);
  }
  await page.evaluate(() => document.dispatchEvent(new Event('paste')));
  // Let the camera video raise a vision incident or two while offline.
  await sleep(9_000);
  t.diagnostic(`vision before the reload: ${JSON.stringify(await visionState(page))}`);
  // Hold the page's socket back, so the reload happens with a full outbox.
  await page.evaluate(() => window.__vigil.stopReconnecting());
  const pendingBefore = await page.evaluate(() => window.__vigil.pending());
  t.diagnostic(`pending at reload: ${pendingBefore}`);
  assert.ok(pendingBefore >= 4, `outbox holds the offline incidents (${pendingBefore})`);

  await server.restart();
  await page.reload();
  await page.waitForFunction(() => window.__vigil?.phase() === 'exam', null, { timeout: 90_000 });
  await sleep(2_000);
  await page.waitForFunction(() => window.__vigil.pending() === 0, null, { timeout: 30_000 });
  // What page life 1 raised, up to the reload itself (the page keeps it in sessionStorage).
  const life1Raised = await page.evaluate(() => window.__vigil.raisedEarlier());
  t.diagnostic(`raised in page life 1: ${life1Raised.length}`);
  const { stored, raised: all } = await settled(page, server, 'crash', 's1', tokens.proctor.p1, { earlier: life1Raised });
  const raised = all.map((r) => r.id);
  t.diagnostic(`raised ${raised.length} (${all.map((r) => r.kind).join(', ')}); stored ${stored.length}`);
  assert.equal(new Set(raised).size, raised.length, 'ids are unique');
  assert.deepEqual(stored.map((r) => r.id).sort(), [...raised].sort(), 'each raised incident stored exactly once');
  // Incidents left open by page life 1 were ended by page life 2.
  const life1Ids = new Set(life1Raised.map((r) => r.id));
  const openAfter = stored.filter((r) => life1Ids.has(r.id) && r.ended_at === undefined);
  assert.deepEqual(openAfter, [], 'nothing from the first page life is left open');
  // Evidence queued in page life 1 was delivered by page life 2: stored, or
  // read and refused by the server as a frame it already holds (when the
  // vision loop analysed no new frame between two incidents, they carry the
  // same one, and the server keeps a frame once). Either way it survived
  // the kill and the reload, which is what this test is about.
  const withEvidence = stored.filter((r) => life1Ids.has(r.id) && r.evidence_sha256).length;
  const { dropped } = await metrics(page);
  const replayed = dropped.filter((d) => d.type === 'evidence' && life1Ids.has(d.id) && d.reason === 'replayed_frame').length;
  t.diagnostic(`page-life-1 incidents with evidence: ${withEvidence} stored, ${replayed} refused as replayed, of ${life1Ids.size}`);
  t.diagnostic(`dropped after the reload: ${JSON.stringify(dropped)}`);
  assert.ok(withEvidence >= 1, 'some evidence from page life 1 stored');
  assert.ok(withEvidence + replayed >= life1Ids.size - 1, 'evidence survives the reload (one may have had no frame to capture)');
  assert.deepEqual(dropped.filter((d) => d.type === 'evidence' && d.reason !== 'replayed_frame'), [], 'no evidence refused for any other reason');
  assert.deepEqual(errors, []);
});
