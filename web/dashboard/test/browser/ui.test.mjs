// The real dashboard build against the real server: refusal across exams,
// live updates, alerts feed, keyboard navigation, drawer, actions, video
// degradation, reconnect, and screenshots at 1280×720.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DashboardServer, SimStudent, haveVigil, launchBrowser, pkgRoot, scoring, screenshot, sleep } from './harness.mjs';

const skip = haveVigil() ? false : 'target/debug/vigil is missing (build it with cargo build -p vigil)';
const shots = join(pkgRoot, 'screenshots');
let server, browser, ui, other;

before(async () => {
  if (skip) return;
  server = await DashboardServer.startWith('dist');
  const settings = await server.defaultSettings({ scoring: scoring() });
  const students = Array.from({ length: 60 }, (_, i) => `st${String(i).padStart(2, '0')}`);
  ui = await server.exam({ id: 'ui', students, proctors: ['p1'], settings });
  other = await server.exam({ id: 'other', students: ['x1'], proctors: ['px'], settings });
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
  await drawer.getByRole('button', { name: 'Send' }).click();
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
