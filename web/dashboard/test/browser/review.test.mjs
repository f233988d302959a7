// The after-exam review, in the real dashboard build against the real
// server: students sit an exam over the real protocol (start, incidents with
// an evidence frame, a proctor's pause, chat, hand-in); then a reviewer opens
// the review queue from the header, checks its order and progress, opens the
// top student by keyboard, dismisses an incident with a note, decides, comes
// back to the queue; a second reviewer's stale decision is refused (409), on
// the wire and in the page; a bookmarked student link opens that student.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../e2e/lib/server.mjs';
import { DashboardServer, connect, haveVigil, launchBrowser, pkgRoot, request, scoring, screenshot, sleep } from './harness.mjs';

const skip = haveVigil() ? false : 'target/debug/vigil is missing (build it with cargo build -p vigil)';
const shots = join(pkgRoot, 'screenshots');
/** A real 320×240 JPEG, as a student's camera would take it. */
const frame = new Uint8Array(readFileSync(join(repoRoot, 'testdata/frames/frame-a.jpg')));
const STUDENTS = ['r1', 'r2', 'r3', 'r4'];
let server, browser, rev, idExam;

/** Each step of a student's exam at its own millisecond, so the record's order is the steps' order. */
const step = () => sleep(15);

/** A student's incident starting now (after whatever came before), ended 10 ms later. */
async function report(socket, id, seq, kind) {
  const now = Date.now();
  const body = { id, seq, kind, started_at: now, ended_at: now + 10, confidence: 0.9 };
  const ack = await request(socket, 'incident', body);
  assert.equal(ack.status, 'accepted', `${id}: ${JSON.stringify(ack)}`);
  await step();
  return body;
}

/** The review API as a reviewer's script would call it (plain fetch, Bearer token). */
async function reviewApi(method, path, token, body) {
  const res = await fetch(`${server.url}/api/v1/exams/rev${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, data: await res.json() };
}

before(async () => {
  if (skip) return;
  server = await DashboardServer.startWith('dist');
  const settings = await server.defaultSettings({ scoring: scoring(), privacy: 'flagged_frames' });
  rev = await server.exam({ id: 'rev', students: STUDENTS, proctors: ['p1', 'p2'], settings });

  // r1: starts; two faces (with its frame); paused by p2, no face meanwhile;
  // resumed; writes in the chat; copies and pastes; hands in.
  const s1 = await connect(server, '/student', rev.tokens.student.r1);
  await s1.welcome;
  assert.equal((await s1.timeout(10_000).emitWithAck('start')).status, 'ok');
  await step();
  const faces = await report(s1, 'r1-faces', 1, 'multiple_faces');
  const up = await server.api('POST', '/evidence/r1-faces', {
    token: rev.tokens.student.r1,
    body: frame,
    headers: { 'content-type': 'image/jpeg', 'x-vigil-captured-at': String(faces.started_at + 5) },
  });
  assert.equal(up.status, 201, JSON.stringify(up.data));
  const proctor = await connect(server, '/proctor', rev.tokens.proctor.p2);
  assert.equal((await request(proctor, 'action', { student_id: 'r1', kind: 'pause', text: 'Show the room, please' })).status, 'ok');
  await step();
  await report(s1, 'r1-noface', 2, 'no_face');
  assert.equal((await request(proctor, 'action', { student_id: 'r1', kind: 'resume' })).status, 'ok');
  await step();
  assert.equal((await request(s1, 'chat', { id: 'r1-chat', text: 'Sorry, my <b>brother</b> came in' })).status, 'accepted');
  await step();
  await report(s1, 'r1-paste', 3, 'copy_paste');
  assert.equal((await s1.timeout(10_000).emitWithAck('submit')).status, 'ok');
  s1.close();
  proctor.close();

  // r2 twice out of the tab, r3 looked away once, r4 nothing.
  const s2 = await connect(server, '/student', rev.tokens.student.r2);
  await s2.welcome;
  await report(s2, 'r2-tab-1', 1, 'tab_hidden');
  await report(s2, 'r2-tab-2', 2, 'tab_hidden');
  s2.close();
  const s3 = await connect(server, '/student', rev.tokens.student.r3);
  await s3.welcome;
  await report(s3, 'r3-away', 1, 'looking_away');
  s3.close();

  // Another exam checks identity (approved at once): its student's photo is part of the record.
  idExam = await server.exam({ id: 'revid', students: ['v1'], proctors: ['p1'], settings: { ...settings, identity_check: 'photo', identity_auto_approve: true } });
  const v1 = await connect(server, '/student', idExam.tokens.student.v1);
  await v1.welcome;
  const photo = await server.api('POST', '/identity/face', {
    token: idExam.tokens.student.v1,
    body: frame,
    headers: { 'content-type': 'image/jpeg', 'x-vigil-captured-at': String(Date.now() - 100) },
  });
  assert.equal(photo.status, 200, JSON.stringify(photo.data));
  assert.equal((await request(v1, 'identity_submit')).status, 'ok');
  await step();
  assert.equal((await v1.timeout(10_000).emitWithAck('start')).status, 'ok');
  await step();
  await report(v1, 'v1-away', 1, 'looking_away');
  v1.close();

  browser = await launchBrowser();
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const rowOrder = (page) => page.locator('tr[data-student]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-student')));
const focusedText = (page) => page.evaluate(() => document.activeElement?.textContent ?? null);

test('review: queue by priority, a student record, an incident dismissed, a decision, back to the queue; stale decisions refused', { skip }, async () => {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.dashboardUrl(rev.tokens.proctor.p1));
  await page.locator('[data-status="live"]').waitFor({ timeout: 10_000 });

  // From the header to the queue: the page is named in the fragment, next to the token.
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Review' }).click();
  const queue = page.getByRole('main', { name: 'Review queue' });
  await queue.locator('tr[data-student]').first().waitFor({ timeout: 10_000 });
  const url = new URL(page.url());
  assert.equal(url.pathname, '/dashboard/', 'nothing of the review (nor the token) in the path');
  assert.equal(new URLSearchParams(url.hash.slice(1)).get('view'), 'review');

  // Highest priority first, as the server ranks them, which is r1, r2, r3, r4 here.
  const api = await reviewApi('GET', '/review', rev.tokens.proctor.p1);
  assert.equal(api.status, 200, JSON.stringify(api.data));
  const apiOrder = api.data.students.map((r) => r.student.id);
  assert.deepEqual(apiOrder, ['r1', 'r2', 'r3', 'r4'], `server order ${JSON.stringify(api.data.students.map((r) => [r.student.id, r.priority]))}`);
  assert.deepEqual(await rowOrder(page), apiOrder);
  assert.match(await queue.locator('[data-progress]').textContent(), /^\s*0 of 4 reviewed$/);
  const top = queue.locator('tr[data-student="r1"]');
  assert.equal(await top.locator('[data-col="priority"]').textContent(), api.data.students[0].priority.toFixed(2));
  assert.equal(await top.locator('[data-col="unreviewed"]').textContent(), '3');
  assert.match(await top.locator('[data-col="incidents"]').textContent(), /^3 · .*Two or more faces ×1/);
  assert.match(await top.locator('[data-col="session"]').textContent(), /Handed in/);
  assert.equal(await top.locator('[data-col="decision"]').textContent(), 'Undecided');
  // The kind filter: only r2 left the tab.
  await page.keyboard.press('/');
  assert.equal(await queue.getByLabel('Incident kind').evaluate((el) => el === document.activeElement), true, '/ focuses the kind filter');
  await queue.getByLabel('Incident kind').selectOption('tab_hidden');
  assert.deepEqual(await rowOrder(page), ['r2']);
  await queue.getByLabel('Incident kind').selectOption('all');
  await page.keyboard.press('Escape');
  await screenshot(page, join(shots, 'review-queue.png'));

  // Keyboard: the list has the focus on the top row; j/k move; Enter opens.
  assert.equal(await focusedText(page), 'Name r1');
  await page.keyboard.press('j');
  assert.equal(await focusedText(page), 'Name r2');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('k');
  await page.keyboard.press('k');
  assert.equal(await focusedText(page), 'Name r1');
  await page.keyboard.press('Enter');

  // The student's page, from the stored record.
  const student = page.getByRole('main', { name: /Name r1/ });
  await student.locator('[data-entry]').first().waitFor({ timeout: 10_000 });
  assert.equal(new URLSearchParams(new URL(page.url()).hash.slice(1)).get('student'), 'r1');
  assert.match(await student.locator('.rs__session').textContent(), /Handed in at \d\d:\d\d:\d\d by the student/);
  assert.match(await student.getByRole('img', { name: /Recorded score over time: 3 points/ }).getAttribute('aria-label'), /peak \d+\.\d/);
  // One timeline, by time: everything that happened, in the order it happened.
  const entries = await student.locator('[data-entry]').evaluateAll((els) =>
    els.map((e) => ({ at: Number(e.getAttribute('data-at')), kind: e.getAttribute('data-entry'), what: e.getAttribute('data-change') ?? e.getAttribute('data-incident') ?? e.getAttribute('data-action') ?? e.getAttribute('data-from') })),
  );
  const ats = entries.map((e) => e.at);
  assert.deepEqual(ats, [...ats].sort((a, b) => a - b), 'oldest first');
  assert.deepEqual(
    entries.filter((e) => e.kind !== 'action').map((e) => `${e.kind}:${e.what}`),
    ['transition:start', 'incident:r1-faces', 'transition:pause', 'incident:r1-noface', 'transition:resume', 'chat:student', 'incident:r1-paste', 'transition:submit'],
  );
  assert.deepEqual(entries.filter((e) => e.kind === 'action').map((e) => e.what), ['pause', 'resume']);
  // Marked: the incident during the pause (only it); the chat text shown as text.
  assert.deepEqual(await student.locator('[data-during-pause]').evaluateAll((els) => els.map((e) => e.getAttribute('data-incident'))), ['r1-noface']);
  assert.match(await student.locator('[data-incident="r1-noface"]').textContent(), /During a pause/);
  assert.equal(await student.locator('.rt--chat .rt__text').textContent(), 'Sorry, my <b>brother</b> came in');
  assert.equal(await student.locator('.rt--chat b').count(), 0);
  assert.match(await student.locator('[data-change="pause"]').textContent(), /Paused by proctor p2: Show the room, please/);
  // The evidence frame, fetched with the token, decoded from a blob URL.
  const evidence = student.locator('[data-incident="r1-faces"] img.rt__thumb');
  await evidence.waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-incident="r1-faces"] img.rt__thumb');
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 10_000 });
  assert.deepEqual(await evidence.evaluate((img) => [img.naturalWidth, img.naturalHeight, img.src.slice(0, 5)]), [320, 240, 'blob:']);
  const blobUrl = await evidence.getAttribute('src');

  // n / p move between incidents; the note is typed, Escape leaves it, d dismisses.
  await page.keyboard.press('n');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-incident')), 'r1-faces');
  await page.keyboard.press('n');
  await page.keyboard.press('n');
  await page.keyboard.press('p');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-incident')), 'r1-noface');
  const noface = student.locator('[data-incident="r1-noface"]');
  assert.equal(await noface.locator('[data-reading]').getAttribute('data-reading'), 'none');
  await noface.getByLabel(/^Note on No face/).fill('During the pause: showing the room, as asked');
  await page.keyboard.press('d'); // typed into the note, not a command
  await page.keyboard.press('Backspace');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-incident')), 'r1-noface', 'Escape left the note, not the page');
  await page.keyboard.press('d');
  await noface.locator('[data-reading="dismissed"]').waitFor({ timeout: 10_000 });
  assert.match(await noface.locator('.rt__reading').textContent(), /✗ Dismissed by p1 at \d\d:\d\d:\d\d: During the pause: showing the room, as asked$/);
  // The server's curve and priority follow: the dismissed incident no longer counts.
  await student.locator('.rs__priority', { hasText: '2 incidents counted · 2 unreviewed' }).waitFor({ timeout: 10_000 });
  assert.match(await student.locator('svg.chart').getAttribute('aria-label'), /: 2 points,/);
  const stored = await reviewApi('GET', '/students/r1/review', rev.tokens.proctor.p1);
  const readings = stored.data.incident_reviews.filter((r) => r.incident_id === 'r1-noface');
  assert.deepEqual(readings.map((r) => [r.verdict, r.note, r.reviewer]), [['dismissed', 'During the pause: showing the room, as asked', 'p1']]);

  // The decision: a note is required; then "concern" with one.
  const decision = student.getByRole('region', { name: 'Decision' });
  assert.equal(await decision.locator('.rd__current').textContent(), 'No decision yet.');
  await decision.getByRole('radio', { name: 'Concern', exact: true }).check();
  await decision.getByRole('button', { name: 'Record decision' }).click();
  await decision.getByRole('alert').filter({ hasText: 'Write a note' }).waitFor();
  assert.equal((await reviewApi('GET', '/review', rev.tokens.proctor.p1)).data.decided, 0, 'nothing sent without a note');
  await decision.getByLabel('Note (required: kept with the decision)').fill('Two faces on camera once; the no-face was during the pause.');
  await decision.getByRole('button', { name: 'Record decision' }).click();
  await decision.getByText('✓ Recorded: Concern (version 1).').waitFor({ timeout: 10_000 });
  assert.match(await decision.locator('.rd__current').textContent(), /Concern by p1 · .* · version 1/);
  assert.match(await decision.locator('.rd__history li[data-version="1"]').textContent(), /v1 · .* · p1 · — → Concern.*Two faces on camera once/);
  // The way on has the focus: the next undecided student.
  assert.equal(await focusedText(page), 'Next undecided student: Name r2 →');
  // The page from its top (the decision panel stays in view beside the timeline).
  await student.evaluate((el) => el.scrollTo(0, 0));
  await screenshot(page, join(shots, 'review-student.png'));
  // The PDF report downloads (fetched with the token, saved from a blob URL).
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'PDF report' }).click()]);
  assert.equal(download.suggestedFilename(), 'rev-r1.pdf');
  assert.equal(readFileSync(await download.path()).subarray(0, 5).toString(), '%PDF-');

  // A second reviewer who saw no decision (based_on 0) is refused, and the first decision stands.
  const stale = await reviewApi('PUT', '/students/r1/decision', rev.tokens.proctor.p2, { verdict: 'violation', note: 'Copy-paste is a violation', based_on: 0 });
  assert.equal(stale.status, 409, JSON.stringify(stale.data));
  assert.equal(stale.data.error.reason, 'stale_transition');
  const after1 = await reviewApi('GET', '/students/r1/review', rev.tokens.proctor.p2);
  assert.deepEqual(after1.data.decisions.map((d) => [d.version, d.verdict, d.reviewer]), [[1, 'concern', 'p1']]);

  // Escape: back to the queue, which shows the decision and the progress, r1 still selected.
  await page.keyboard.press('Escape');
  await queue.locator('[data-progress]', { hasText: '1 of 4 reviewed' }).waitFor({ timeout: 10_000 });
  assert.equal(await queue.locator('tr[data-student="r1"] [data-col="decision"]').textContent(), '△ Concern · p1');
  assert.equal(await queue.locator('tr[data-student="r1"]').getAttribute('aria-selected'), 'true');
  assert.equal(await focusedText(page), 'Name r1');
  // The dismissed incident is reviewed now: the faces and the copy-paste are left.
  await page.waitForFunction(() => document.querySelector('tr[data-student="r1"] [data-col="unreviewed"]')?.textContent === '2', null, { timeout: 10_000 });
  // The evidence frame's blob URL went with the page.
  assert.equal(await page.evaluate((u) => fetch(u).then(() => 'readable', () => 'revoked'), blobUrl), 'revoked');
  // "Undecided" shows the rest, in order.
  await queue.getByLabel('Show').selectOption('undecided');
  assert.deepEqual(await rowOrder(page), ['r2', 'r3', 'r4']);
  await queue.getByLabel('Show').selectOption('all');

  // In the page: r2 opened; another reviewer decides meanwhile; this page's
  // decision (based on none) is refused, theirs is shown, the draft kept; sent again, it is recorded on top.
  await page.keyboard.press('j');
  assert.equal(await focusedText(page), 'Name r2');
  await page.keyboard.press('Enter');
  const r2 = page.getByRole('main', { name: /Name r2/ });
  const r2decision = r2.getByRole('region', { name: 'Decision' });
  await r2decision.waitFor({ timeout: 10_000 });
  const theirs = await reviewApi('PUT', '/students/r2/decision', rev.tokens.proctor.p2, { verdict: 'no_concern', note: 'Tab switches were the exam PDF', based_on: 0 });
  assert.equal(theirs.status, 200, JSON.stringify(theirs.data));
  await r2decision.getByRole('radio', { name: 'Violation', exact: true }).check();
  await r2decision.getByLabel('Note (required: kept with the decision)').fill('Left the tab twice during the essay');
  await r2decision.getByRole('button', { name: 'Record decision' }).click();
  const notice = r2decision.locator('[data-notice="stale"]');
  await notice.waitFor({ timeout: 10_000 });
  assert.match(await notice.textContent(), /someone else decided meanwhile — No concern by p2 .*version 1/);
  assert.match(await r2decision.locator('.rd__current').textContent(), /No concern by p2/);
  assert.equal(await r2decision.getByLabel('Note (required: kept with the decision)').inputValue(), 'Left the tab twice during the essay');
  await r2decision.getByRole('button', { name: 'Record the new decision' }).click();
  await r2decision.getByText('✓ Recorded: Violation (version 2).').waitFor({ timeout: 10_000 });
  assert.match(await r2decision.locator('.rd__history li[data-version="2"]').textContent(), /p1 · No concern → Violation/);
  const r2stored = await reviewApi('GET', '/students/r2/review', rev.tokens.proctor.p1);
  assert.deepEqual(r2stored.data.decisions.map((d) => [d.version, d.verdict, d.reviewer, d.previous ?? null]), [
    [1, 'no_concern', 'p2', null],
    [2, 'violation', 'p1', 'no_concern'],
  ]);
  assert.deepEqual(errors, []);
  await page.close();
});

test('review: a bookmarked student link opens that student, and Back returns', { skip }, async () => {
  const page = await browser.context.newPage();
  await page.goto(server.dashboardUrl(rev.tokens.proctor.p2, '&view=review'));
  await page.locator('tr[data-student]').first().waitFor({ timeout: 10_000 });
  // Any student's link is a real link (can be opened in a new tab, copied).
  const href = await page.locator('tr[data-student="r3"] a').getAttribute('href');
  assert.match(href, /^#token=[^&]+&view=review&student=r3$/);
  await page.goto('about:blank');
  await page.goto(`${server.url}/dashboard/${href}`);
  const r3 = page.getByRole('main', { name: /Name r3/ });
  await r3.locator('[data-incident="r3-away"]').waitFor({ timeout: 10_000 });
  assert.match(await r3.locator('.rs__priority').textContent(), /1 incident counted · 1 unreviewed/);
  // Escape goes to the queue; the browser's Back returns to the student.
  await page.keyboard.press('Escape');
  await page.getByRole('main', { name: 'Review queue' }).waitFor({ timeout: 10_000 });
  await page.goBack();
  await r3.waitFor({ timeout: 10_000 });
  // Decided students show with their decision in the queue for this reviewer too.
  await page.getByRole('link', { name: '← Review queue' }).click();
  await page.locator('[data-progress]', { hasText: '2 of 4 reviewed' }).waitFor({ timeout: 10_000 });
  await page.close();
});

test('review: the identity photo is in the record, fetched with the token', { skip }, async () => {
  const page = await browser.context.newPage();
  await page.goto(server.dashboardUrl(idExam.tokens.proctor.p1, '&view=review&student=v1'));
  const v1 = page.getByRole('main', { name: /Name v1/ });
  await v1.locator('[data-incident="v1-away"]').waitFor({ timeout: 10_000 });
  const changes = await v1.locator('[data-entry="transition"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-change')));
  assert.deepEqual(changes, ['identity_submit', 'identity_approve', 'start']);
  const kinds = await v1.locator('[data-entry]').evaluateAll((els) => els.map((e) => e.getAttribute('data-entry')));
  assert.equal(kinds.indexOf('photo'), 0, `the photo (taken first) opens the timeline: ${kinds}`);
  const img = v1.getByRole('img', { name: 'Face photo of Name v1' });
  await img.waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-entry="photo"] img');
    return el && el.complete && el.naturalWidth > 0;
  }, null, { timeout: 10_000 });
  assert.deepEqual(await img.evaluate((el) => [el.naturalWidth, el.naturalHeight, el.src.slice(0, 5)]), [320, 240, 'blob:']);
  await page.close();
});
