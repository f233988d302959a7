// A browser publishes its (fake) camera through vigil's SFU and another
// browser, as the exam's proctor, watches it: the watcher's decoder must
// produce frames. Both speak the real protocol to the real server.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { launch } from '../lib/browser.mjs';
import { dashboardWebDir, ensureDashboardBuilt } from '../lib/dashboard.mjs';
import { VigilServer, connect, incident, sleep, until } from '../lib/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
let server;
let pages;
let browsers = [];

let webDir;

before(async () => {
  // The recording test plays the recording in the built dashboard's review page.
  ensureDashboardBuilt('sfu.test');
  webDir = dashboardWebDir();
  server = await VigilServer.start({ webDir });
  const files = {
    '/': [readFileSync(join(here, 'sfu-page.html')), 'text/html'],
    '/socket.io.min.js': [readFileSync(join(here, '../node_modules/socket.io-client/dist/socket.io.min.js')), 'text/javascript'],
  };
  pages = createServer((req, res) => {
    const f = files[new URL(req.url, 'http://x').pathname];
    if (!f) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': f[1] }).end(f[0]);
  });
  await new Promise((r) => pages.listen(0, '127.0.0.1', r));
});

after(async () => {
  for (const b of browsers) await b.close();
  pages?.close();
  await server?.stop();
  if (webDir) rmSync(webDir, { recursive: true, force: true });
});

const pageUrl = (token) => `http://127.0.0.1:${pages.address().port}/#server=${encodeURIComponent(server.url)}&token=${token}`;

test('a proctor watches a student through the SFU and the video decodes', async () => {
  const { tokens } = await server.exam({ id: 'video', students: ['cam'], proctors: ['p1'] });
  const studentBrowser = await launch();
  const proctorBrowser = await launch();
  browsers.push(studentBrowser, proctorBrowser);
  const student = await studentBrowser.context.newPage();
  await student.goto(pageUrl(tokens.student.cam));
  assert.equal(await student.evaluate(() => window.publish()), 'published');

  const proctor = await proctorBrowser.context.newPage();
  await proctor.goto(pageUrl(tokens.proctor.p1));
  assert.equal(await proctor.evaluate(() => window.watch('cam')), 'watching');
  let frames = 0;
  for (let i = 0; i < 100 && frames < 10; i++) {
    await sleep(200);
    frames = await proctor.evaluate(() => window.framesDecoded());
  }
  assert.ok(frames >= 10, `only ${frames} frames decoded`);
  const slots = await proctor.evaluate(() => window.slotUpdates);
  assert.equal(slots.at(-1).student_id, 'cam');
  assert.equal(slots.at(-1).slot, 0);
});

/** The server's counter `name{labels}` from /metrics (0 before its first increment). */
async function counter(name, labels) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

test('a proctor hears the student they watch in an exam with the microphone on, and nothing without it', async () => {
  const on = await server.exam({ id: 'mic-on', students: ['talker'], proctors: ['p1'], settings: await server.defaultSettings({ microphone: true }) });
  const off = await server.exam({ id: 'mic-off', students: ['quiet'], proctors: ['p1'], settings: await server.defaultSettings({ microphone: false }) });
  const b = [await launch(), await launch(), await launch(), await launch()];
  browsers.push(...b);
  const pageOf = async (browser, token) => {
    const p = await browser.context.newPage();
    await p.goto(pageUrl(token));
    return p;
  };

  const talker = await pageOf(b[0], on.tokens.student.talker);
  assert.equal(await talker.evaluate(() => window.publish('vp8', { audio: true })), 'published');
  const hearing = await pageOf(b[1], on.tokens.proctor.p1);
  assert.equal(await hearing.evaluate(() => window.watch('talker', 2, { audio: true })), 'watching');
  let heard = 0;
  for (let i = 0; i < 100 && heard < 50; i++) {
    await sleep(200);
    heard = await hearing.evaluate(() => window.audioPacketsReceived());
  }
  assert.ok(heard >= 50, `only ${heard} audio packets reached the proctor`);

  // Without the microphone setting the SFU drops the sound the browser sends
  // anyway: proof that it arrived and was dropped is the counter rising,
  // while the video of the same student still decodes.
  const dropped0 = await counter('vigil_sfu_audio_dropped_packets_total', 'reason="not_allowed"');
  const quiet = await pageOf(b[2], off.tokens.student.quiet);
  assert.equal(await quiet.evaluate(() => window.publish('vp8', { audio: true })), 'published');
  const deaf = await pageOf(b[3], off.tokens.proctor.p1);
  assert.equal(await deaf.evaluate(() => window.watch('quiet', 2, { audio: true })), 'watching');
  let dropped = 0;
  let frames = 0;
  for (let i = 0; i < 100 && (dropped < 50 || frames < 10); i++) {
    await sleep(200);
    dropped = (await counter('vigil_sfu_audio_dropped_packets_total', 'reason="not_allowed"')) - dropped0;
    frames = await deaf.evaluate(() => window.framesDecoded());
  }
  assert.ok(dropped >= 50, `the SFU dropped only ${dropped} audio packets`);
  assert.ok(frames >= 10, `only ${frames} video frames decoded`);
  assert.equal(await deaf.evaluate(() => window.audioPacketsReceived()), 0, 'sound reached the proctor of an exam without the microphone');
});

test('a student cannot watch, and a proctor cannot watch another exam\'s student', async () => {
  const a = await server.exam({ id: 'video-a', students: ['sa'], proctors: ['pa'] });
  const b = await server.exam({ id: 'video-b', students: ['sb'], proctors: ['pb'] });
  const student = await connect(server, '/student', a.tokens.student.sa);
  const asStudent = await student.timeout(5000).emitWithAck('watch', { slot: 0, student_id: 'sa', quality: 'full' });
  assert.equal(asStudent.reason, 'forbidden');
  const sub = await student.timeout(5000).emitWithAck('rtc_subscribe', { sdp: 'v=0' });
  assert.equal(sub.reason, 'forbidden');
  student.close();

  const proctor = await connect(server, '/proctor', a.tokens.proctor.pa);
  const cross = await proctor.timeout(5000).emitWithAck('watch', { slot: 0, student_id: 'sb', quality: 'full' });
  assert.equal(cross.reason, 'unknown_student');
  const garbage = await proctor.timeout(5000).emitWithAck('rtc_subscribe', { sdp: 'this is not sdp' });
  assert.equal(garbage.status, 'rejected');
  assert.equal(garbage.reason, 'invalid_payload');
  proctor.close();
  void b;
});

/** ffprobe's count of a file's video frames, all or key frames only (decoding each). */
function probeFrames(file, keyOnly = false) {
  const args = ['-v', 'error', ...(keyOnly ? ['-skip_frame', 'nokey'] : []), '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file];
  return Number(execFileSync('ffprobe', args).toString().trim());
}

/** An exam that records, one student `cam` (and proctor `p1`) publishing `codec` from a browser page, sending. */
async function recordedStudent(examId, codec) {
  const settings = await server.defaultSettings({ privacy: 'recording' });
  const { tokens } = await server.exam({ id: examId, students: ['cam'], proctors: ['p1'], settings });
  const studentBrowser = await launch();
  browsers.push(studentBrowser);
  const student = await studentBrowser.context.newPage();
  await student.goto(pageUrl(tokens.student.cam));
  assert.equal(await student.evaluate((c) => window.publish(c), codec), 'published');
  await until('the camera sends', async () => (await student.evaluate(() => window.framesSent())).frames > 0);
  return { tokens, studentBrowser, student };
}

test('a recorded student\'s camera is stored as WebM that ffprobe decodes, frame for frame', async (t) => {
  const { tokens, studentBrowser, student } = await recordedStudent('rec', 'vp8');
  const firstFrame = Date.now();
  // Two incidents while it records, for the review page's timeline.
  const incidents = [];
  for (const [wait, kind] of [[3000, 'no_face'], [3000, 'multiple_faces']]) {
    await sleep(wait);
    const report = incident({ kind, started_at: Date.now() });
    assert.equal((await student.evaluate((r) => window.report(r), report)).status, 'accepted');
    incidents.push(report);
  }
  await sleep(2000);
  const sent = await student.evaluate(() => window.framesSent());
  const lastFrame = Date.now();
  // Closing the page ends the publication; the recorder stores its segment.
  await studentBrowser.close();
  browsers = browsers.filter((b) => b !== studentBrowser);

  const dir = join(server.dataDir, 'evidence/recordings/rec/cam');
  const segments = await until('the recording is stored', () => {
    const stored = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.webm')) : [];
    return stored.length > 0 && stored;
  });
  assert.equal(segments.length, 1, `one segment: ${segments}`);
  const file = join(dir, segments[0]);
  const frames = probeFrames(file);
  const keyframes = probeFrames(file, true);
  const duration = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]).toString().trim());
  const seconds = (lastFrame - firstFrame) / 1000;
  t.diagnostic(`recorded ${frames} frames (${keyframes} key) over ${duration} s; the camera sent ${sent.frames} (${sent.keyframes} key) over ${seconds} s`);
  // What the camera sent while we watched, give or take the frames in
  // flight at either end (the first frames may precede the first key frame).
  assert.ok(Math.abs(duration - seconds) <= 1, `recorded ${duration} s of about ${seconds} s`);
  const perSecond = sent.frames / seconds;
  assert.ok(Math.abs(frames - sent.frames) <= perSecond, `${frames} frames decoded, ${sent.frames} sent`);
  assert.ok(keyframes >= 1 && keyframes <= sent.keyframes + 1, `${keyframes} key frames, ${sent.keyframes} sent`);
  // ffmpeg decodes it all without a complaint.
  assert.equal(execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']).toString().trim(), '');

  // Review: the exam's proctor lists the recording and plays it, seeking with Range.
  const base = `${server.url}/api/v1/exams/rec/students/cam/recording`;
  const asProctor = { authorization: `Bearer ${tokens.proctor.p1}` };
  const index = await (await fetch(base, { headers: asProctor })).json();
  assert.equal(index.length, 1);
  assert.equal(`${index[0].sha256}.webm`, segments[0]);
  assert.equal(index[0].frames, frames);
  const whole = readFileSync(file);
  const full = await fetch(`${base}/${index[0].sha256}`, { headers: asProctor });
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('accept-ranges'), 'bytes');
  assert.deepEqual(Buffer.from(await full.arrayBuffer()), whole);
  const part = await fetch(`${base}/${index[0].sha256}`, { headers: { ...asProctor, range: 'bytes=100-1099' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-1099/${whole.length}`);
  assert.equal(part.headers.get('content-type'), 'video/webm');
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), whole.subarray(100, 1100));
  const past = await fetch(`${base}/${index[0].sha256}`, { headers: { ...asProctor, range: `bytes=${whole.length}-` } });
  assert.equal(past.status, 416);
  assert.equal((await past.json()).error.reason, 'range_not_satisfiable');
  const unknown = await fetch(`${base}/${'0'.repeat(64)}`, { headers: asProctor });
  assert.equal((await unknown.json()).error.reason, 'unknown_recording');
  // Only the exam's proctors: not the student, not another exam's proctor.
  const asStudent = await fetch(base, { headers: { authorization: `Bearer ${tokens.student.cam}` } });
  assert.ok([401, 403].includes(asStudent.status), `a student got ${asStudent.status}`);
  const other = await server.exam({ id: 'rec-other', students: ['x'], proctors: ['p2'] });
  const asOther = await fetch(base, { headers: { authorization: `Bearer ${other.tokens.proctor.p2}` } });
  assert.ok([403, 404].includes(asOther.status), `another exam's proctor got ${asOther.status}`);
  // The listing and the view (its first request, not every seek) are in the audit log.
  const audit = await server.api('GET', '/exams/rec/audit');
  const actions = audit.data.map((e) => e.action);
  assert.deepEqual(actions.filter((a) => a.startsWith('view_recording')), ['view_recording_index', 'view_recording']);

  // The review page plays it: a click on an incident's mark seeks to just before it (2 s, not before
  // the segment), later and then earlier, and the video plays on from there.
  const reviewer = await launch();
  browsers.push(reviewer);
  const page = await reviewer.context.newPage();
  await page.goto(`${server.url}/dashboard/#token=${tokens.proctor.p1}&view=review&student=cam`);
  const player = page.getByRole('region', { name: 'Recording' });
  await player.locator('video').waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('.rp video')?.readyState >= 1, null, { timeout: 30_000 });
  await page.evaluate(() => {
    window.__seeks = [];
    document.querySelector('.rp video').addEventListener('seeked', (e) => window.__seeks.push(e.target.currentTime));
  });
  const segmentStart = index[0].started_at;
  for (const [n, inc] of [[1, incidents[1]], [2, incidents[0]]]) {
    const expected = (Math.max(segmentStart, inc.started_at - 2000) - segmentStart) / 1000;
    await player.locator(`.rp__mark[data-incident="${inc.id}"]`).click();
    const seeks = await until(`seek ${n} lands`, () => page.evaluate(() => window.__seeks.slice()).then((s) => s.length >= n && s));
    t.diagnostic(`seek ${n}: to ${seeks[n - 1]} s, expected ${expected} s`);
    assert.ok(Math.abs(seeks[n - 1] - expected) < 0.05, `seek ${n} went to ${seeks[n - 1]} s, not ${expected} s`);
    // The incident is the current one on the page, and the timeline says which moment is shown.
    assert.equal(await page.locator('[aria-current="true"]').getAttribute('data-incident'), inc.id);
    // It plays on from there: time advances and frames are decoded.
    const played = await until(`playback ${n} runs from the seek`, () =>
      page.evaluate(() => {
        const v = document.querySelector('.rp video');
        return { time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames, paused: v.paused };
      }).then((s) => s.time > seeks[n - 1] + 0.3 && s.frames > 0 && s),
    );
    t.diagnostic(`playback ${n}: ${JSON.stringify(played)}`);
  }
  // The incident's own Play button does the same.
  await page.getByRole('button', { name: /Play the recording from/ }).first().click();
  const third = await until('seek 3 lands', () => page.evaluate(() => window.__seeks.slice()).then((s) => s.length >= 3 && s));
  const firstExpected = (Math.max(segmentStart, incidents[0].started_at - 2000) - segmentStart) / 1000;
  assert.ok(Math.abs(third[2] - firstExpected) < 0.05, `the Play button went to ${third[2]} s, not ${firstExpected} s`);
});

test('a student whose browser sends H.264 is recorded as MP4 that ffprobe decodes and the review page plays', async (t) => {
  const { tokens, studentBrowser, student } = await recordedStudent('rec-h264', 'h264');
  const codec = await student.evaluate(async () => {
    let mime;
    (await window.pc.getStats()).forEach((r) => { if (r.type === 'codec') mime = r.mimeType; });
    return mime;
  });
  assert.equal(codec, 'video/H264');
  const firstFrame = Date.now();
  await sleep(6000);
  const sent = await student.evaluate(() => window.framesSent());
  const seconds = (Date.now() - firstFrame) / 1000;
  await studentBrowser.close();
  browsers = browsers.filter((b) => b !== studentBrowser);

  const dir = join(server.dataDir, 'evidence/recordings/rec-h264/cam');
  const [segment] = await until('the recording is stored', () => {
    const stored = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.mp4')) : [];
    return stored.length > 0 && stored;
  });
  const file = join(dir, segment);
  const frames = probeFrames(file);
  const duration = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]).toString().trim());
  t.diagnostic(`recorded ${frames} frames over ${duration} s; the camera sent ${sent.frames} over ${seconds} s`);
  assert.ok(Math.abs(duration - seconds) <= 1, `recorded ${duration} s of about ${seconds} s`);
  assert.ok(Math.abs(frames - sent.frames) <= sent.frames / seconds, `${frames} frames decoded, ${sent.frames} sent`);
  assert.equal(execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']).toString().trim(), '');
  const index = await server.api('GET', '/exams/rec-h264/students/cam/recording', { token: tokens.proctor.p1 });
  assert.equal(index.data[0].container, 'mp4');
  const bytes = await fetch(`${server.url}/api/v1/exams/rec-h264/students/cam/recording/${index.data[0].sha256}`, {
    headers: { authorization: `Bearer ${tokens.proctor.p1}` },
  });
  assert.equal(bytes.headers.get('content-type'), 'video/mp4');

  // The review page plays it.
  const reviewer = await launch();
  browsers.push(reviewer);
  const page = await reviewer.context.newPage();
  await page.goto(`${server.url}/dashboard/#token=${tokens.proctor.p1}&view=review&student=cam`);
  await page.waitForFunction(() => document.querySelector('.rp video')?.readyState >= 1, null, { timeout: 30_000 });
  await page.evaluate(() => document.querySelector('.rp video').play());
  const played = await until('the MP4 plays', () =>
    page.evaluate(() => {
      const v = document.querySelector('.rp video');
      return { time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth };
    }).then((s) => s.time > 1 && s.frames > 5 && s),
  );
  t.diagnostic(`review page: ${JSON.stringify(played)}`);
  assert.equal(played.width, index.data[0].width);
});
