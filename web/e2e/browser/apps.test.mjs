// The real apps end to end: the built student app (web/student/dist) publishes
// its (fake, scripted) camera through vigil's SFU, and the built dashboard
// (web/dashboard/dist), as the exam's proctor, watches it in the student
// drawer (slot 0) and on the watch wall (slot 1+): the dashboard's decoder
// must produce frames. Then the student hides the tab: the tile shows the
// incident, the score rises above 0, and its evidence frame loads in the drawer.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { launch } from '../lib/browser.mjs';
import { ensureDashboardBuilt } from '../lib/dashboard.mjs';
import { VigilServer, sleep, until } from '../lib/server.mjs';
import { launchWithCamera, joinAndStart } from '../../student/test/helpers/student-page.mjs';
import { oneFaceVideo } from '../../student/test/helpers/media.mjs';
// The student page's test hooks (window.__vigil) exist only in its test build.
import { testWebDir } from '../../student/test/helpers/vigil-server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = resolve(here, '../..');
const studentDir = join(webDir, 'student');

/** Builds both apps when their dist is missing or older than their sources. */
function ensureApps() {
  // The student app has its own scripts (models first, then vite when stale).
  execFileSync(process.execPath, [join(studentDir, 'scripts/ensure-models.mjs')], { cwd: studentDir, stdio: 'inherit' });
  execFileSync(process.execPath, [join(studentDir, 'scripts/ensure-built.mjs')], { cwd: studentDir, stdio: 'inherit' });
  ensureDashboardBuilt('apps.test');
}

// Every RTCPeerConnection the dashboard makes, for getStats (the app does not expose its own).
function trackPeerConnections() {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
  };
}

/**
 * Decoding evidence for the <video> matched by `selector`: its size, the
 * frames the element presented, and framesDecoded of the inbound RTP stream
 * of the transceiver that feeds it (found by track id).
 */
function videoState(selector) {
  return (async () => {
    const v = document.querySelector(selector);
    if (!v) return { present: false };
    const track = v.srcObject?.getVideoTracks?.()[0];
    let framesDecoded = null;
    let mid = null;
    for (const pc of window.__pcs ?? []) {
      if (pc.connectionState === 'closed') continue;
      const t = pc.getTransceivers().find((x) => x.receiver.track?.id === track?.id);
      if (!t) continue;
      mid = t.mid;
      const stats = await t.receiver.getStats();
      stats.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') framesDecoded = s.framesDecoded;
      });
    }
    return {
      present: true,
      mid,
      width: v.videoWidth,
      height: v.videoHeight,
      currentTime: v.currentTime,
      presented: v.getVideoPlaybackQuality?.().totalVideoFrames ?? null,
      framesDecoded,
    };
  })();
}

/** Asserts that the video under `selector` decodes and keeps playing. */
async function assertDecodes(page, selector, label) {
  const first = await until(`${label}: frames decoded`, async () => {
    const s = await page.evaluate(videoState, selector);
    return s.present && s.width > 0 && s.framesDecoded > 0 ? s : null;
  });
  const later = await until(`${label}: more frames after ${JSON.stringify(first)}`, async () => {
    const s = await page.evaluate(videoState, selector);
    return s.framesDecoded > first.framesDecoded + 5 && s.currentTime > first.currentTime ? s : null;
  });
  return later;
}

let server;
let dataDir;
let servedWebDir;
const browsers = [];
/** An LMS on loopback that serves one quiz page (for the exam frame). */
let quizHost;
let quizBase;

before(async () => {
  ensureApps();
  quizHost = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Quiz 9</title><h1>Quiz 9</h1><label>Quiz password <input name="password"></label>');
  });
  await new Promise((r) => quizHost.listen(0, '127.0.0.1', r));
  quizBase = `http://127.0.0.1:${quizHost.address().port}`;
  dataDir = mkdtempSync(join(tmpdir(), 'vigil-apps-'));
  servedWebDir = testWebDir();
  server = await VigilServer.start({ dataDir, webDir: servedWebDir, extraArgs: ['--frame-ancestor', quizBase] });
});

after(async () => {
  for (const b of browsers) await b.close().catch(() => {});
  await server?.stop();
  quizHost?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (servedWebDir) rmSync(servedWebDir, { recursive: true, force: true });
});

test('the real student and dashboard apps: live video through the SFU, an incident with evidence', { timeout: 300_000 }, async () => {
  const settings = await server.defaultSettings({
    stall_after_s: 30,
    privacy: 'flagged_frames',
    // Only the incident this test causes: the scripted face video and
    // headless Chromium must not add others to the tile.
    disabled_detectors: ['no_face', 'multiple_faces', 'looking_away', 'window_blur', 'fullscreen_exit', 'copy_paste', 'second_screen'],
  });
  settings.scoring = { ...settings.scoring, weights: { ...settings.scoring.weights, tab_hidden: 2 } };
  const { tokens } = await server.exam({ id: 'apps', students: ['s1'], proctors: ['p1'], settings });

  // --- The student: join → system check → consent → preview → exam, publishing.
  const studentBrowser = await launchWithCamera(oneFaceVideo().file);
  browsers.push(studentBrowser);
  const student = await studentBrowser.context.newPage();
  const studentErrors = await joinAndStart(student, server, tokens.student.s1);
  await until('the student page to publish (rtc_publish answered, connection up)', () =>
    student.evaluate(() => {
      const p = window.__vigil.publisher();
      return p?.state === 'connected' ? p.state : null;
    }));
  await student.locator('#status', { hasText: 'Video live' }).waitFor({ timeout: 30_000 });

  // --- The proctor: the dashboard, the student's tile, the drawer's live video.
  const proctorBrowser = await launch();
  browsers.push(proctorBrowser);
  await proctorBrowser.context.addInitScript(trackPeerConnections);
  const dash = await proctorBrowser.context.newPage();
  const dashErrors = [];
  dash.on('pageerror', (e) => dashErrors.push(e.message));
  await dash.goto(`${server.url}/dashboard/#token=${tokens.proctor.p1}`);
  const tile = dash.locator('.tile[data-student="s1"]');
  await tile.waitFor({ timeout: 30_000 });
  assert.match(await tile.getAttribute('aria-label'), /Name s1: OK 0\.0, Live/);

  await tile.click();
  const drawer = dash.getByRole('dialog', { name: 'Student Name s1' });
  await drawer.waitFor({ timeout: 30_000 });
  await drawer.locator('video').waitFor({ timeout: 30_000 });
  const drawerVideo = await assertDecodes(dash, '.drawer video', 'drawer video');
  assert.equal(typeof drawerVideo.mid, 'string');

  // --- An incident: the student hides the tab (as web/student's page-event tests do).
  await student.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await sleep(1200);
  await student.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
    document.dispatchEvent(new Event('visibilitychange'));
  });

  // The drawer: the score summary, the timeline entry, its evidence frame.
  await drawer.locator('.timeline li', { hasText: 'Left the tab' }).waitFor({ timeout: 30_000 });
  const evidence = drawer.locator('.timeline li', { hasText: 'Left the tab' }).locator('img.evidence');
  await evidence.waitFor({ timeout: 30_000 });
  const size = await until('the evidence image to load', () =>
    evidence.evaluate((img) => (img.complete && img.naturalWidth > 0 ? { w: img.naturalWidth, h: img.naturalHeight } : null)));
  assert.ok(size.w > 0 && size.h > 0);

  // The tile (behind the drawer): the incident and a score above 0.
  await dash.getByRole('button', { name: 'Close (Esc)' }).click();
  await drawer.waitFor({ state: 'detached', timeout: 30_000 });
  await tile.locator('.tile__incident', { hasText: 'Left the tab' }).waitFor({ timeout: 30_000 });
  const score = await until('a score above 0 on the tile', async () => {
    const v = Number(await tile.locator('.tile__value').textContent());
    return v > 0 ? v : null;
  });
  assert.ok(score > 0);

  // The watch wall ranks the student in (score ≥ 0.5), on a slot of its own, with video.
  const wallVideo = await assertDecodes(dash, '.wall video', 'watch wall video');
  assert.notEqual(wallVideo.mid, drawerVideo.mid, 'the wall uses another slot than the drawer');

  // And the drawer's video comes back when reopened.
  await tile.click();
  await drawer.waitFor({ timeout: 30_000 });
  const reopened = await assertDecodes(dash, '.drawer video', 'reopened drawer video');
  assert.notEqual(reopened.mid, wallVideo.mid, 'the drawer shows its own slot, not the wall\'s');
  // Thumbnail is the lowest simulcast layer (¼ of 640×480); "Full" moves the
  // drawer's slot to the top layer the student actually sends. (Chromium sends
  // only 2 of the 3 layers for a 640×480 camera: q 160×120 and h 320×240.)
  assert.equal(reopened.width, 160, 'thumbnail: the ¼ layer');
  await drawer.getByLabel('Full').check();
  const full = await until('a larger layer in the drawer after choosing Full', async () => {
    const s = await dash.evaluate(videoState, '.drawer video');
    return s.width > 160 ? s : null;
  });
  await assertDecodes(dash, '.drawer video', 'full-quality drawer video');
  assert.equal((await dash.evaluate(videoState, '.wall video')).width, 160, 'the wall stays on thumbnails');
  const layers = await student.evaluate(async () => {
    const out = [];
    (await window.__vigil.publisher().stats()).forEach((r) => {
      if (r.type === 'outbound-rtp') out.push(`${r.rid}:${r.frameWidth ?? 0}×${r.frameHeight ?? 0}/${r.framesEncoded}`);
    });
    return out.sort().join(' ');
  });

  console.log(`apps.test: drawer ${drawerVideo.width}×${drawerVideo.height} mid ${drawerVideo.mid} ${drawerVideo.framesDecoded} frames; wall ${wallVideo.width}×${wallVideo.height} mid ${wallVideo.mid} ${wallVideo.framesDecoded} frames; full ${full.width}×${full.height}; student layers ${layers}; evidence ${size.w}×${size.h}; score ${score}`);
  assert.deepEqual(dashErrors, []);
  assert.deepEqual(studentErrors, []);
});

test('a recorded student publishing simulcast is recorded on one layer under 500 kbit/s, the middle one', { timeout: 300_000 }, async (t) => {
  const settings = await server.defaultSettings({
    privacy: 'recording',
    disabled_detectors: ['no_face', 'multiple_faces', 'looking_away', 'window_blur', 'fullscreen_exit', 'copy_paste', 'second_screen'],
  });
  const { tokens } = await server.exam({ id: 'recorded', students: ['s1'], proctors: ['p1'], settings });
  const studentBrowser = await launchWithCamera(oneFaceVideo().file);
  browsers.push(studentBrowser);
  const student = await studentBrowser.context.newPage();
  const studentErrors = await joinAndStart(student, server, tokens.student.s1);
  await student.locator('#status', { hasText: 'Video live' }).waitFor({ timeout: 30_000 });
  // The page publishes three encodings (a quarter, half and all of 640×480); the browser turns
  // the upper ones on as its bandwidth estimate grows. Long enough for that, then the student leaves.
  await sleep(10_000);
  await studentBrowser.close();
  browsers.splice(browsers.indexOf(studentBrowser), 1);

  const asProctor = { token: tokens.proctor.p1 };
  const segments = await until('the recording is stored', async () => {
    const r = await server.api('GET', '/exams/recorded/students/s1/recording', asProctor);
    return r.status === 200 && r.data.length > 0 && r.data;
  });
  t.diagnostic(`segments: ${JSON.stringify(segments.map((s) => [s.width, s.height, s.duration_ms, s.frames, s.keyframes]))}`);
  // Never the full layer (over the cap); it ends on the middle one once the browser sends it.
  assert.ok(segments.every((s) => s.width <= 320), 'no segment of the full layer');
  assert.equal(segments.at(-1).width, 320);
  assert.equal(segments.at(-1).height, 240);
  // Each layer change starts a segment: a few at most, not one per rate tick.
  assert.ok(segments.length <= 3, `${segments.length} segments`);
  const recorded = segments.reduce((ms, s) => ms + s.duration_ms, 0);
  assert.ok(recorded >= 6_000, `${recorded} ms recorded of about 10 s`);
  assert.deepEqual(studentErrors, []);
});

test('an instructor sets the quiz and its access code live; the student sees the code only while proctored', { timeout: 300_000 }, async () => {
  const settings = await server.defaultSettings({
    stall_after_s: 30,
    // Only what this test looks at: the scripted face video and headless
    // Chromium must not raise incidents that reflow the page.
    disabled_detectors: ['no_face', 'multiple_faces', 'looking_away', 'window_blur', 'fullscreen_exit', 'copy_paste', 'second_screen'],
  });
  const { tokens } = await server.exam({ id: 'quizzed', students: ['s1'], proctors: ['p1'], settings });
  const link = await server.api('POST', '/exams/quizzed/links', { body: { role: 'proctor', subject: 'p1', may_configure: true } });
  assert.equal(link.status, 201, JSON.stringify(link.data));

  // The student is already in the exam (the page's own questions) when the
  // instructor sets the quiz up.
  const studentBrowser = await launchWithCamera(oneFaceVideo().file);
  browsers.push(studentBrowser);
  const student = await studentBrowser.context.newPage();
  const studentErrors = await joinAndStart(student, server, tokens.student.s1);
  await student.getByRole('button', { name: 'Hand in' }).waitFor({ timeout: 30_000 });

  const dashBrowser = await launch();
  browsers.push(dashBrowser);
  const dash = await dashBrowser.context.newPage();
  const dashErrors = [];
  dash.on('pageerror', (e) => dashErrors.push(e.message));
  await dash.goto(`${server.url}/dashboard/#token=${link.data.token}`);
  await dash.getByRole('button', { name: 'Exam settings' }).click();
  const panel = dash.getByRole('dialog', { name: 'Exam settings' });
  await panel.getByLabel(/Assessment URL/).fill(`${quizBase}/quiz/9`);
  await panel.getByRole('button', { name: 'Save settings' }).click();
  await panel.locator('[data-outcome="settings-outcome"]', { hasText: 'Saved' }).waitFor({ timeout: 30_000 });
  await panel.getByLabel('New access code').fill('tulip-42');
  await panel.getByRole('button', { name: 'Set access code' }).click();
  await panel.locator('[data-outcome="access-code-outcome"]', { hasText: 'Access code set' }).waitFor({ timeout: 30_000 });

  // Accommodations from the student's drawer: 50% more time; the tile's
  // drawer shows them once the server has them (the `student` event).
  await panel.getByRole('button', { name: 'Close', exact: true }).click();
  await dash.locator('.tile[data-student="s1"]').click();
  const drawer = dash.getByRole('dialog', { name: 'Student Name s1' });
  await drawer.getByLabel('Extra time (% of the exam)').fill('50');
  await drawer.getByLabel('Note for proctors').fill('Uses a screen reader');
  await drawer.getByRole('button', { name: 'Save accommodations' }).click();
  await drawer.getByText('Saved. The student').waitFor({ timeout: 30_000 });
  await drawer.locator('[data-accommodations="s1"]', { hasText: '+50% time' }).waitFor({ timeout: 30_000 });
  await drawer.getByText('Note: Uses a screen reader').waitFor();
  // A flag is kept, and the drawer lists it from the server.
  await drawer.getByRole('button', { name: 'Flag for review' }).click();
  await drawer.locator('[data-action="flag_for_review"]').waitFor({ timeout: 30_000 });

  // The student's page follows at once: the quiz in the exam frame, and the
  // code once its camera is proctored.
  const quiz = student.frameLocator('#vigil-assessment');
  await quiz.getByRole('heading', { name: 'Quiz 9' }).waitFor({ timeout: 30_000 });
  const status = student.locator('#assessment-status');
  await status.filter({ hasText: 'Access code: tulip-42' }).waitFor({ timeout: 60_000 });

  // The proctoring server goes away: the camera connection drops and the code hides…
  await server.kill9();
  await status.filter({ hasText: 'hidden while your camera is not being proctored' }).waitFor({ timeout: 60_000 });
  assert.ok(!(await status.textContent()).includes('tulip-42'));
  // …and comes back once the camera is proctored again.
  await server.restart();
  await status.filter({ hasText: 'Access code: tulip-42' }).waitFor({ timeout: 90_000 });
  await quiz.getByRole('heading', { name: 'Quiz 9' }).waitFor();

  assert.deepEqual(dashErrors, []);
  assert.deepEqual(studentErrors, []);
});
