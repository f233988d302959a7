// The built student app in headless Chromium against the real vigil server,
// with the scripted video as its camera: the faceless, two-face and
// turned-head segments become no_face, multiple_faces and looking_away
// incidents at the server, each with an accepted evidence frame; the
// frontal-face and dark segments raise nothing.

import test from 'node:test';
import assert from 'node:assert/strict';

import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, joinAndStart, settled, examSettings } from './helpers/student-page.mjs';
import { scriptedVideo } from './helpers/media.mjs';

// The synthetic "turned" faces reach about ±19° of yaw (a warp of a frontal
// photo cannot do more), so this test lowers the 25° default limit.
const QUERY = '?yaw_limit=12';
const EXPECTED = { no_face: 'no_face', multiple_faces: 'two_faces', looking_away: ['turned_right', 'turned_left'] };

test('scripted camera → the right incidents at the server, with evidence', { timeout: 240_000 }, async (t) => {
  requireBuilt();
  const { file, truth } = scriptedVideo();
  const loopMs = (truth.frames / truth.fps) * 1000;
  const seg = Object.fromEntries(truth.segments.map((s) => [s.name, [s.startFrame / truth.fps * 1000, s.endFrame / truth.fps * 1000]]));

  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  // Focus and screens are not what this test is about (headless focus is arbitrary).
  const settings = await examSettings(server, { disabled_detectors: ['window_blur', 'second_screen'] });
  const { tokens } = await server.exam({ id: 'cam', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();

  const errors = await joinAndStart(page, server, tokens.student.s1, { query: QUERY });
  const { cameraStartedAt, offset } = await page.evaluate(() => ({
    cameraStartedAt: window.__vigil.cameraStartedAt(), offset: window.__vigil.clockOffsetMs(),
  }));
  const examStart = Date.now();
  // One whole loop of the video under monitoring, plus the last debounce.
  await new Promise((r) => setTimeout(r, loopMs + 4_000));
  await page.waitForFunction(() => window.__vigil.pending() === 0, null, { timeout: 15_000 });
  const { m, stored } = await settled(page, server, 'cam', 's1', tokens.proctor.p1);

  /** Position in the video loop (ms) of a server timestamp. */
  const videoTime = (at) => (((at - offset - cameraStartedAt) % loopMs) + loopMs) % loopMs;
  const within = (tv, [a, b], slack = 900) => tv >= a - slack && tv <= b + slack;
  const inSegments = (tv, names) => [].concat(names).some((n) => within(tv, seg[n]));

  for (const r of stored) {
    t.diagnostic(`${r.kind}: video ${(videoTime(r.started_at) / 1000).toFixed(1)}–${r.ended_at ? (videoTime(r.ended_at) / 1000).toFixed(1) : '…'} s, evidence ${r.evidence_sha256 ? 'yes' : 'no'}`);
  }
  // Nothing but the three vision kinds, each inside its own segment.
  for (const r of stored) {
    assert.ok(r.kind in EXPECTED, `unexpected ${r.kind} at video ${videoTime(r.started_at)} ms`);
    assert.ok(inSegments(videoTime(r.started_at), EXPECTED[r.kind]), `${r.kind} starts at video ${videoTime(r.started_at)} ms`);
    if (r.ended_at) assert.ok(inSegments(videoTime(r.ended_at), EXPECTED[r.kind]), `${r.kind} ends at video ${videoTime(r.ended_at)} ms`);
  }
  // Every kind seen; the first of each has its frame (later loops of the
  // same video produce byte-identical frames, which the server rightly
  // refuses as replays).
  for (const kind of Object.keys(EXPECTED)) {
    const first = stored.filter((r) => r.kind === kind).sort((a, b) => a.started_at - b.started_at)[0];
    assert.ok(first, `no ${kind} incident (got ${stored.map((r) => r.kind)})`);
    assert.ok(first.evidence_sha256, `${kind} has no evidence`);
  }
  // The client's view agrees: every raised incident is stored, once.
  assert.deepEqual(m.raised.map((r) => r.id).sort(), stored.map((r) => r.id).sort());
  for (const e of m.evidence) assert.ok(['stored', 'replayed_frame'].includes(e.outcome), JSON.stringify(e));
  assert.ok(m.frames.filter((f) => f.at >= examStart).length > 0);
  assert.deepEqual(errors, []);
});
