// Chat with the proctors, the real page against the real server: the
// student's message reaches the proctor exactly once; what the proctor
// writes and announces while the student's socket is down shows after the
// reconnect, each message exactly once; a message written offline is kept
// ("sending…") and delivered once back online; a reload shows the history
// once more, already read. Messages are text, never markup.

import test from 'node:test';
import assert from 'node:assert/strict';

import { collect, connect, request } from '../../e2e/lib/server.mjs';
import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, joinAndStart, examSettings } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';

// Only what these tests look at: no incidents popping notices over the chat.
const quiet = ['no_face', 'multiple_faces', 'looking_away', 'window_blur', 'fullscreen_exit', 'copy_paste', 'second_screen', 'tab_hidden'];

/** The page's chat as shown (window.__vigil.chat()). */
const shown = (page) => page.evaluate(() => window.__vigil.chat());
const countText = (lines, text) => lines.filter((l) => l.text === text).length;

test('chat: a round trip that survives a reconnect, every message shown exactly once', { timeout: 240_000 }, async (t) => {
  requireBuilt();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: quiet });
  const { tokens } = await server.exam({ id: 'chat', students: ['s1', 's2'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(oneFaceVideo().file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinAndStart(page, server, tokens.student.s1);
  const proctor = await connect(server, '/proctor', tokens.proctor.p1);
  t.after(() => proctor.close());
  const heard = collect(proctor, 'chat');
  /** The conversation as the server keeps it (the proctors' view of s1's chat, with the announcements). */
  const history = async () => {
    const r = await server.api('GET', '/exams/chat/students/s1/chat?after=0', { token: tokens.proctor.p1 });
    assert.equal(r.status, 200, JSON.stringify(r.data));
    return r.data.messages;
  };
  /**
   * Every message emitted to the proctor before this call has arrived once
   * it returns: the proctor's own message is emitted back to it after them.
   */
  let barriers = 0;
  const proctorBarrier = async () => {
    const id = `barrier-${++barriers}`;
    assert.equal((await request(proctor, 'chat', { id, student_id: 's2', text: `barrier ${barriers}` })).status, 'accepted');
    await heard.until((items) => items.some((m) => m.id === id));
  };

  const toggle = page.getByRole('button', { name: /^Chat with your proctors/ });
  const box = page.getByLabel('Your message to the proctors');
  // The list by role while the panel is open; its elements by id whether or not it is.
  const log = page.locator('#chat-panel .chat-log');

  await t.test('the student sends (Enter); the proctor receives it exactly once', async () => {
    await toggle.click();
    await page.getByRole('dialog', { name: 'Chat with your proctors' }).getByRole('log', { name: 'Messages' }).waitFor();
    // Shift+Enter is a new line, Enter sends; markup is typed as text.
    await box.pressSequentially('May I use a calculator?');
    await box.press('Shift+Enter');
    await box.pressSequentially('<b>not bold</b>');
    await page.locator('#chat-count', { hasText: '39 / 1000' }).waitFor();
    await box.press('Enter');
    const text = 'May I use a calculator?\n<b>not bold</b>';
    assert.equal(await box.inputValue(), '', 'the box is cleared once sent');
    const items = await heard.until((xs) => xs.some((m) => m.text === text));
    const got = items.find((m) => m.text === text);
    assert.equal(got.from, 'student');
    assert.equal(got.student_id, 's1');
    // Stored: the page no longer says sending…, and its outbox is empty.
    await log.locator('.chat-msg.mine:not(.sending)', { hasText: 'May I use a calculator?' }).waitFor();
    await page.waitForFunction(() => window.__vigil.pending() === 0);
    await proctorBarrier();
    assert.equal(heard.items.filter((m) => m.text === text).length, 1, 'the proctor got it once');
    assert.equal(countText(await history(), text), 1, 'stored once');
    // Shown as text: the markup is in the text, no element was made of it.
    assert.equal(await log.locator('b').count(), 0);
    assert.equal(await log.locator('.chat-msg.mine .chat-text').first().textContent(), text);
    // Over 1,000 characters cannot be sent, and the count says so.
    await box.fill('x'.repeat(1001));
    await page.locator('#chat-count.error', { hasText: '1001 / 1000' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    await box.fill('');
  });

  const reply = 'Yes, a basic one.';
  const announcement = 'Ten minutes left for everyone.';
  const offline = 'Written while offline';

  await t.test('while the socket is down: the student writes, the proctor replies and announces', async () => {
    await page.getByRole('button', { name: 'Close' }).click();
    await page.evaluate(() => window.__vigil.dropConnection());
    await page.waitForFunction(() => !window.__vigil.connected());
    // Written offline: kept in the outbox, shown as sending.
    await toggle.click();
    await box.fill(offline);
    await box.press('Enter');
    await log.locator('.chat-msg.sending', { hasText: offline }).getByText('sending…').waitFor();
    // The line shows at once; the outbox holds it once IndexedDB has it.
    await page.waitForFunction(() => window.__vigil.pending() >= 1);
    await page.getByRole('button', { name: 'Close' }).click();

    const r1 = await request(proctor, 'chat', { id: 'reply-1', student_id: 's1', text: reply });
    assert.equal(r1.status, 'accepted', JSON.stringify(r1));
    const r2 = await request(proctor, 'chat', { id: 'ann-1', text: announcement });
    assert.equal(r2.status, 'accepted', JSON.stringify(r2));
    assert.equal(r2.message.student_id, undefined, 'an announcement belongs to no one conversation');
    // The proctor's resend after a lost answer is the same message.
    const again = await request(proctor, 'chat', { id: 'reply-1', student_id: 's1', text: reply });
    assert.deepEqual(again, { status: 'duplicate', message: r1.message });
    const lines = await shown(page);
    assert.equal(countText(lines, reply) + countText(lines, announcement), 0, 'nothing reached the page while it was down');
  });

  await t.test('after the reconnect: every message shown exactly once, the unread ones counted', async () => {
    await page.evaluate(() => window.__vigil.restoreConnection());
    await page.waitForFunction(
      ([a, b, c]) => {
        const lines = window.__vigil.chat();
        return [a, b, c].every((x) => lines.some((l) => l.text === x && l.seq !== undefined));
      },
      [reply, announcement, offline],
      { timeout: 30_000 },
    );
    await page.waitForFunction(() => window.__vigil.pending() === 0);
    // A later live message: whatever the server sent before it has arrived.
    assert.equal((await request(proctor, 'chat', { id: 'after-1', student_id: 's1', text: 'After the reconnect' })).status, 'accepted');
    await page.waitForFunction(() => window.__vigil.chat().some((l) => l.text === 'After the reconnect'));
    const lines = await shown(page);
    for (const text of [reply, announcement, offline, 'May I use a calculator?\n<b>not bold</b>', 'After the reconnect']) {
      assert.equal(countText(lines, text), 1, `${JSON.stringify(text)} once in ${JSON.stringify(lines)}`);
    }
    assert.equal(lines.filter((l) => l.seq === undefined).length, 0, 'nothing left sending');
    const seqs = lines.map((l) => l.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order, the newest at the bottom');
    assert.equal(countText(lines, 'barrier 1'), 0, "another student's conversation never shows");
    // The DOM agrees with the model: one element per message.
    for (const text of [reply, announcement, offline]) assert.equal(await log.locator('.chat-msg', { hasText: text }).count(), 1, text);
    // The announcement is marked as one.
    await log.locator('.chat-msg.announcement', { hasText: announcement }).getByText('Announcement to every student').waitFor({ state: 'attached' });
    // Three unread (reply, announcement, the later one), read once the panel opens.
    await page.getByRole('button', { name: 'Chat with your proctors, 3 unread' }).waitFor();
    await toggle.click();
    await page.getByRole('button', { name: 'Chat with your proctors', exact: true }).waitFor();
    // The proctor has the offline message once.
    await proctorBarrier();
    assert.equal(heard.items.filter((m) => m.text === offline).length, 1);
    assert.equal(countText(await history(), offline), 1);
  });

  await t.test('a reload shows the whole history once, already read', async () => {
    await page.reload();
    await page.waitForFunction(() => window.__vigil?.phase() === 'exam', null, { timeout: 90_000 });
    await page.waitForFunction((n) => window.__vigil.chat().length >= n, 5, { timeout: 30_000 });
    const lines = await shown(page);
    const stored = await history();
    assert.deepEqual(lines.map((l) => l.seq), stored.map((m) => m.seq), 'exactly the server’s conversation, in order');
    await page.getByRole('button', { name: 'Chat with your proctors', exact: true }).waitFor();
  });
  assert.deepEqual(errors, []);
});
