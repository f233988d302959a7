// The real dashboard build against the real server: refusal across exams,
// chat with a student and announcements, the identity queue, live updates,
// alerts feed, keyboard navigation, drawer, actions, video degradation,
// reconnect, and screenshots at 1280×720.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../e2e/lib/server.mjs';
import { DashboardServer, SimStudent, collect, connect, haveVigil, launchBrowser, pkgRoot, request, scoring, screenshot, sleep } from './harness.mjs';

const skip = haveVigil() ? false : 'target/debug/vigil is missing (build it with cargo build -p vigil)';
const shots = join(pkgRoot, 'screenshots');
/** A real 320×240 JPEG, as a student's camera would take it. */
const facePhoto = new Uint8Array(readFileSync(join(repoRoot, 'testdata/frames/frame-a.jpg')));
let server, browser, ui, other, chat, idc;

before(async () => {
  if (skip) return;
  server = await DashboardServer.startWith('dist');
  const settings = await server.defaultSettings({ scoring: scoring() });
  const students = Array.from({ length: 60 }, (_, i) => `st${String(i).padStart(2, '0')}`);
  ui = await server.exam({ id: 'ui', students, proctors: ['p1'], settings });
  other = await server.exam({ id: 'other', students: ['x1'], proctors: ['px'], settings });
  chat = await server.exam({ id: 'chat', students: ['c1', 'c2'], proctors: ['p1', 'p2'], settings });
  idc = await server.exam({ id: 'idc', students: ['i1', 'i2', 'i3'], proctors: ['p1'], settings: { ...settings, identity_check: 'photo' } });
  browser = await launchBrowser();
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a proctor token for exam A cannot load exam B: the page shows the refusal', { skip }, async () => {
  const page = await browser.context.newPage();
  await page.goto(server.dashboardUrl(ui.tokens.proctor.p1, '&exam=other'));
  const refusal = page.locator('.refused__text');
  await refusal.waitFor({ timeout: 10_000 });
  assert.match(await refusal.textContent(), /Access refused: forbidden/);
  assert.equal(await page.locator('.tile').count(), 0, 'no tiles of exam B');
  // And the other exam's own proctor loads it.
  await page.goto('about:blank');
  await page.goto(server.dashboardUrl(other.tokens.proctor.px));
  await page.locator('[data-status="live"]').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('.tile').count(), 1);
  // A forged token is refused by the socket handshake.
  await page.goto('about:blank');
  await page.goto(server.dashboardUrl('eyJhbGciOiJIUzI1NiJ9.eyJleGFtIjoidWkiLCJzdWIiOiJwMSJ9.bad'));
  await page.locator('.refused__text').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('.refused__text').textContent(), /invalid_token|Access refused/);
  await page.close();
});

test('chat: a student message shows once (badge, then drawer), the proctor answers from the drawer, announcements reach students', { skip }, async () => {
  const page = await browser.context.newPage();
  await page.goto(server.dashboardUrl(chat.tokens.proctor.p1));
  await page.locator('[data-status="live"]').waitFor({ timeout: 10_000 });
  const student = await connect(server, '/student', chat.tokens.student.c1);
  await student.welcome;
  const toStudent = collect(student, 'chat');
  const other = await connect(server, '/student', chat.tokens.student.c2);
  await other.welcome;
  const toOther = collect(other, 'chat');

  // The student writes before any drawer is open: their tile gets an unread badge.
  const first = { id: 'c1-msg-1', text: 'Is a calculator allowed?\nThanks' };
  assert.equal((await request(student, 'chat', first)).status, 'accepted');
  const badge = page.locator('[data-student="c1"] .tile__chat');
  await badge.waitFor({ timeout: 10_000 });
  assert.equal((await badge.textContent()).trim(), '✉ 1');
  assert.match(await page.locator('[data-student="c1"]').getAttribute('aria-label'), /1 unread message$/);
  // The page resends after a lost answer: the server stores it once.
  const again = await request(student, 'chat', first);
  assert.equal(again.status, 'duplicate');

  // Opening the drawer shows the conversation (from the HTTP history) and clears the badge.
  await page.locator('[data-student="c1"]').click();
  const drawer = page.getByRole('dialog');
  const studentMsgs = drawer.locator('.chat__msg--student');
  await studentMsgs.first().waitFor({ timeout: 10_000 });
  await badge.waitFor({ state: 'detached', timeout: 5_000 });
  assert.equal(await studentMsgs.first().locator('.chat__text').innerText(), 'Is a calculator allowed?\nThanks');
  assert.match(await studentMsgs.first().locator('.chat__meta').textContent(), /Name c1/);

  // A message while the drawer is open arrives live; markup in it is text.
  assert.equal((await request(student, 'chat', { id: 'c1-msg-2', text: 'Also: <b>bold</b> & <img src=x onerror=alert(1)>' })).status, 'accepted');
  await page.waitForFunction(() => document.querySelectorAll('.drawer .chat__msg--student').length >= 2, null, { timeout: 10_000 });
  const second = studentMsgs.nth(1).locator('.chat__text');
  assert.equal(await second.textContent(), 'Also: <b>bold</b> & <img src=x onerror=alert(1)>');
  assert.equal(await second.locator('b, img').count(), 0, 'no HTML from a message');

  // The proctor answers from the drawer with Enter (Shift+Enter is a new line).
  const box = drawer.getByLabel('Chat with Name c1');
  await box.click();
  await box.pressSequentially('Yes, a basic one.');
  await box.press('Shift+Enter');
  await box.pressSequentially('Not a phone.');
  assert.match(await drawer.locator('.chat__count').textContent(), /^30 \/ 1,000 characters$/);
  await box.press('Enter');
  const answered = await toStudent.until((ms) => ms.some((m) => m.from === 'proctor'));
  const reply = answered.find((m) => m.from === 'proctor');
  assert.equal(reply.text, 'Yes, a basic one.\nNot a phone.');
  assert.equal(reply.student_id, 'c1');
  assert.equal(reply.proctor_id, 'p1');
  assert.match(reply.id, /^p-[0-9a-f]{24}$/);
  assert.equal(await box.inputValue(), '');
  // The reply is shown once, as the proctor's own, after the student's two. Events
  // arrive in order, so any second copy of the student's messages would be here by now.
  await page.waitForFunction(() => document.querySelector('.drawer .chat__msg--proctor:not([data-pending])') !== null, null, { timeout: 10_000 });
  assert.deepEqual(await drawer.locator('.chat__msg').evaluateAll((els) => els.map((e) => e.getAttribute('data-from'))), ['student', 'student', 'proctor']);
  assert.equal(await drawer.locator('.chat__msg[data-pending]').count(), 0);
  assert.match(await drawer.locator('.chat__msg--proctor .chat__meta').textContent(), /^You/);
  const seqs = await drawer.locator('.chat__msg').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  assert.equal(new Set(seqs).size, 3, `each seq once: ${seqs}`);
  assert.equal(toOther.items.length, 0, 'the other student gets nothing of this conversation');
  await screenshot(page, join(shots, 'chat.png'));
  await page.keyboard.press('Escape');
  await drawer.waitFor({ state: 'detached' });

  // An announcement: confirmed, then every student of the exam gets it.
  await page.getByRole('button', { name: 'Announce to all students' }).click();
  const panel = page.getByRole('dialog', { name: 'Announce to all students' });
  const text = panel.getByLabel('Announcement to every student');
  await text.fill('Twenty minutes left.');
  await text.press('Enter');
  await panel.getByText('Send this to all 2 students?').waitFor();
  await panel.getByRole('button', { name: 'Yes, send announcement' }).click();
  const [toC1, toC2] = await Promise.all([
    toStudent.until((ms) => ms.some((m) => m.student_id === undefined)),
    toOther.until((ms) => ms.some((m) => m.student_id === undefined)),
  ]);
  for (const ms of [toC1, toC2]) {
    const a = ms.find((m) => m.student_id === undefined);
    assert.equal(a.text, 'Twenty minutes left.');
    assert.equal(a.from, 'proctor');
  }
  await panel.locator('.chat__msg--announcement:not([data-pending])').waitFor({ timeout: 10_000 });
  assert.equal(await panel.locator('.chat__msg--announcement').count(), 1);
  await page.keyboard.press('Escape');
  student.close();
  other.close();
  await page.close();
});

test('identity checks: queued oldest first with their photos, approved and rejected from the dashboard', { skip }, async () => {
  const page = await browser.context.newPage();
  await page.goto(server.dashboardUrl(idc.tokens.proctor.p1));
  await page.locator('[data-status="live"]').waitFor({ timeout: 10_000 });
  const counter = page.locator('[data-count="identity"]');
  assert.equal(await counter.textContent(), '0');

  // Two students take their photo and submit, i1 first.
  const students = {};
  for (const id of ['i1', 'i2']) {
    const s = await connect(server, '/student', idc.tokens.student[id]);
    const welcome = await s.welcome;
    assert.equal(welcome.session.phase, 'waiting');
    const up = await server.api('POST', '/identity/face', {
      token: idc.tokens.student[id],
      body: facePhoto,
      headers: { 'content-type': 'image/jpeg', 'x-vigil-captured-at': String(Date.now() - 500) },
    });
    assert.equal(up.status, 200, `upload ${id}: ${JSON.stringify(up.data)}`);
    assert.equal(up.data.kind, 'face');
    students[id] = { socket: s, sessions: collect(s, 'session') };
    const ack = await s.timeout(10_000).emitWithAck('identity_submit');
    assert.deepEqual(ack, { status: 'ok' });
    await page.waitForFunction((n) => document.querySelector('[data-count="identity"]')?.textContent === n, String(Object.keys(students).length), { timeout: 10_000 });
  }
  assert.match(await page.locator('[data-student="i1"] .tile__session').textContent(), /ID check/);

  // The queue, oldest first, with each photo fetched with the proctor's token.
  await page.getByRole('button', { name: /Identity checks: 2 waiting/ }).click();
  const panel = page.getByRole('dialog', { name: 'Identity checks' });
  const items = panel.locator('.idq__item');
  await items.nth(1).waitFor();
  assert.deepEqual(await items.evaluateAll((els) => els.map((e) => e.getAttribute('data-student'))), ['i1', 'i2']);
  const photo = items.first().getByRole('img', { name: 'Face photo of Name i1' });
  await photo.waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-student="i1"] .idq__img');
    return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 10_000 });
  assert.deepEqual(await photo.evaluate((img) => [img.naturalWidth, img.naturalHeight, img.src.slice(0, 5)]), [320, 240, 'blob:']);
  const blobUrl = await photo.getAttribute('src');
  await screenshot(page, join(shots, 'identity.png'));

  // Keyboard: the panel opens on the oldest student's Approve; Enter approves.
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Approve Name i1');
  await page.keyboard.press('Enter');
  const ready = await students.i1.sessions.until((ss) => ss.some((v) => v.phase === 'ready'));
  assert.equal(ready.at(-1).phase, 'ready');
  await panel.locator('[data-student="i1"]').waitFor({ state: 'detached', timeout: 10_000 });
  assert.match(await panel.locator('.results li').first().textContent(), /✓ Name i1 · approved/);
  // Its photo's blob URL was revoked with it.
  assert.equal(await page.evaluate((u) => fetch(u).then(() => 'readable', () => 'revoked'), blobUrl), 'revoked');
  // The focus moved on to the next student's Approve.
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Approve Name i2');

  // Reject needs a reason; with one, the student is sent back to retake the photo.
  const reject = panel.getByRole('button', { name: 'Reject Name i2' });
  await reject.click();
  await panel.getByRole('alert').filter({ hasText: 'Give a reason' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Reason for rejecting Name i2');
  await page.keyboard.type('Your face is not visible: take it again facing the light.');
  await page.keyboard.press('Enter');
  const back = await students.i2.sessions.until((ss) => ss.some((v) => v.phase === 'waiting'));
  const rejected = back.find((v) => v.phase === 'waiting');
  assert.equal(rejected.reason, 'Your face is not visible: take it again facing the light.');
  await panel.getByText('No identity checks are waiting.').waitFor({ timeout: 10_000 });
  assert.equal(await counter.textContent(), '0');
  await page.keyboard.press('Escape');
  await panel.waitFor({ state: 'detached' });
  await page.waitForFunction(() => /Ready/.test(document.querySelector('[data-student="i1"] .tile__session')?.textContent ?? ''), null, { timeout: 10_000 });
  // The rejection's session update reaches the tile on its own fan-out: wait for it as for i1.
  await page.waitForFunction(() => /Not started/.test(document.querySelector('[data-student="i2"] .tile__session')?.textContent ?? ''), null, { timeout: 10_000 });
  for (const s of Object.values(students)) s.socket.close();
  await page.close();
});

test('settings and accommodations: identity check, breaks and thresholds saved through the forms', { skip }, async () => {
  const link = await server.api('POST', '/exams/idc/links', { body: { role: 'proctor', subject: 'p1', may_configure: true } });
  assert.equal(link.status, 201, JSON.stringify(link.data));
  const page = await browser.context.newPage();
  await page.goto(server.dashboardUrl(link.data.token));
  await page.locator('[data-status="live"]').waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Exam settings' }).click();
  const panel = page.getByRole('dialog', { name: 'Exam settings' });
  const check = panel.getByLabel('Before the exam, each student sends');
  assert.equal(await check.inputValue(), 'photo');
  await check.selectOption('photo_and_id');
  await panel.getByLabel(/Approve the photos as they arrive/).check();
  assert.equal(await panel.getByLabel(/Each up to/).isDisabled(), true, 'no breaks: no length to give');
  await panel.getByLabel(/Breaks per student/).fill('2');
  await panel.getByLabel(/Each up to/).fill('15');
  await panel.getByLabel(/No face after/).fill('5000');
  await panel.getByLabel(/Sideways limit/).fill('45');
  await panel.getByLabel(/Up\/down limit/).fill('15');
  await panel.getByRole('button', { name: 'Save settings' }).click();
  await panel.locator('[data-outcome="settings-outcome"]', { hasText: 'Saved' }).waitFor({ timeout: 10_000 });
  const saved = (await server.api('GET', '/exams/idc')).data.exam.settings;
  assert.equal(saved.identity_check, 'photo_and_id');
  assert.equal(saved.identity_auto_approve, true);
  assert.deepEqual(saved.breaks, { count: 2, minutes: 15 });
  assert.deepEqual(saved.thresholds, { no_face_after_ms: 5000, yaw_limit_deg: 45, pitch_limit_deg: 15 });
  await panel.getByRole('button', { name: 'Close', exact: true }).click();

  // A student's accommodations: an extra break and their own looking-away time.
  await page.locator('.tile[data-student="i3"]').click();
  const drawer = page.getByRole('dialog', { name: 'Student Name i3' });
  await drawer.getByLabel(/Extra breaks/).fill('1');
  const away = drawer.getByLabel(/Looking away after/);
  assert.equal(await away.getAttribute('placeholder'), 'default 2,000');
  assert.equal(await drawer.getByLabel(/No face after/).getAttribute('placeholder'), 'exam: 5,000');
  await away.fill('6000');
  await drawer.getByRole('button', { name: 'Save accommodations' }).click();
  await drawer.getByText('Saved. The student').waitFor({ timeout: 10_000 });
  await drawer.locator('[data-accommodations="i3"]', { hasText: '+1 break · looking away after 6,000 ms' }).waitFor({ timeout: 10_000 });
  await page.close();
});

test('live grid, alerts feed, keyboard, drawer, actions, reconnect; screenshots', { skip }, async () => {
  const page = await browser.context.newPage();
  await page.goto(server.dashboardUrl(ui.tokens.proctor.p1));
  await page.locator('[data-status="live"]').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('[data-count="total"]').textContent(), '60');

  // Some students report incidents; two get to alert, a few to watch.
  const sims = [];
  for (const id of ['st00', 'st01', 'st03', 'st07', 'st12', 'st13']) sims.push(await SimStudent.connect(server, id, ui.tokens.student[id]));
  const plan = { st00: ['multiple_faces', 'multiple_faces', 'no_face'], st01: ['copy_paste', 'multiple_faces', 'tab_hidden'], st03: ['tab_hidden', 'tab_hidden'], st07: ['multiple_faces'], st12: ['no_face'], st13: ['looking_away'] };
  for (const s of sims) for (const kind of plan[s.id]) assert.equal((await s.report(kind)).status, 'accepted');
  await page.waitForFunction(() => document.querySelector('[data-count="alert"]')?.textContent === '2', null, { timeout: 10_000 });
  assert.equal(await page.locator('[data-count="present"]').textContent(), '6');
  const st00 = page.locator('[data-student="st00"]');
  assert.match(await st00.textContent(), /◆ Alert/);
  assert.match(await st00.textContent(), /Live/);
  assert.match(await page.locator('[data-student="st13"]').textContent(), /Looking away/);
  await page.waitForFunction(() => document.querySelectorAll('.feed__item').length === 11, null, { timeout: 5_000 }).catch(async (e) => {
    console.log(await page.locator('.feed__list').innerText());
    throw e;
  });
  await page.getByRole('button', { name: /^Acknowledge Looking away/ }).click();
  await page.locator('.feed__item--ack').waitFor();
  assert.match(await page.locator('.feed__count').textContent(), /10 new/);

  // Watch wall: ranked within 2 s; video degrades gracefully.
  await page.waitForFunction(() => document.querySelectorAll('.wall__card:not(.wall__card--empty)').length === 6, null, { timeout: 6_000 });
  assert.match(await page.locator('.wall__card').first().textContent(), /Name st0[01]/);
  // With the SFU on, a watched slot is bound even before the student's camera arrives.
  await page.locator('.wall video').first().waitFor({ timeout: 10_000 });

  // Filters and search.
  await page.getByLabel('Level').selectOption('alert');
  await page.waitForFunction(() => document.querySelectorAll('.tile').length === 2);
  await page.getByLabel('Level').selectOption('all');
  await page.getByLabel('Search').fill('st1');
  await page.waitForFunction(() => document.querySelectorAll('.tile').length === 10);
  await page.getByLabel('Search').fill('');
  await page.getByLabel('Sort').selectOption('score');
  await page.waitForFunction(() => document.querySelector('[data-index="0"]')?.getAttribute('data-student') === 'st00' || document.querySelector('[data-index="0"]')?.getAttribute('data-student') === 'st01');
  await screenshot(page, join(shots, 'grid.png'));
  await page.getByLabel('Sort').selectOption('name');

  // Keyboard: focus the first tile, arrows move, Enter opens, Esc closes.
  await page.locator('[data-index="0"]').focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-student')), 'st01');
  const cols = Number(await page.locator('[role="grid"]').getAttribute('aria-colcount'));
  assert.ok(cols >= 3, `cols ${cols} at 1280×720`);
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => Number(document.activeElement?.getAttribute('data-index'))), 1 + cols);
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-student')), 'st00');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  const drawer = page.getByRole('dialog');
  await drawer.waitFor();
  assert.match(await drawer.getAttribute('aria-label'), /Name st00/);
  // Timeline from the HTTP history, chart from the updates received.
  await drawer.locator('.timeline li').nth(2).waitFor({ timeout: 10_000 });
  assert.equal(await drawer.locator('.timeline li').count(), 3);
  assert.match(await drawer.locator('svg.chart').getAttribute('aria-label'), /[23] updates/);
  // Actions: the student is connected, so the server accepts them.
  const delivered = new Promise((r) => sims[0].socket.once('proctor_action', r));
  await drawer.getByRole('button', { name: 'Warn' }).click();
  await drawer.locator('.results li').first().waitFor();
  assert.match(await drawer.locator('.results li').first().textContent(), /✓ warn · delivered/);
  assert.equal((await delivered).kind, 'warn');
  await drawer.getByLabel('Message to the student').fill('Please face the camera');
  await drawer.getByRole('button', { name: 'Send', exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll('.results li').length === 2);
  assert.match(await drawer.locator('.results li').first().textContent(), /message · delivered/);
  await drawer.locator('video').waitFor({ timeout: 10_000 });
  await screenshot(page, join(shots, 'drawer.png'));
  await page.keyboard.press('Escape');
  await drawer.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-student')), 'st00', 'focus returns to the tile');

  // Reconnect: the server goes away; the grid greys with a banner; it
  // comes back on the same port, the page reloads the snapshot.
  for (const s of sims) s.close();
  await server.kill9();
  await page.locator('.banner').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('[role="grid"]').getAttribute('aria-busy'), 'true');
  assert.match(await page.locator('[data-status]').textContent(), /Reconnecting/);
  await screenshot(page, join(shots, 'reconnecting.png'));
  await server.restart();
  await page.locator('[data-status="live"]').waitFor({ timeout: 20_000 });
  await page.locator('.banner').waitFor({ state: 'detached' });
  // A score accepted after the restart arrives live on top of the new snapshot.
  const again = await SimStudent.connect(server, 'st20', ui.tokens.student.st20);
  again.seq = 100;
  assert.equal((await again.report('multiple_faces')).status, 'accepted');
  await page.waitForFunction(() => /Name st20/.test(document.querySelector('.feed__item')?.textContent ?? ''), null, { timeout: 10_000 });
  // Video is renegotiated after the reconnect.
  await page.locator('.wall__card >> text=/Name st20/').waitFor({ timeout: 5_000 });
  await page.locator('.wall video').first().waitFor({ timeout: 10_000 });
  again.close();
  assert.equal(await page.locator('[data-count="alert"]').textContent(), '2', 'alert count survives the restart');
  await page.close();
  await sleep(10);
});
