// A browser publishes its (fake) camera through vigil's SFU and another
// browser, as the exam's proctor, watches it: the watcher's decoder must
// produce frames. Both speak the real protocol to the real server.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { launch } from '../lib/browser.mjs';
import { VigilServer, connect, sleep } from '../lib/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
let server;
let pages;
let browsers = [];

before(async () => {
  server = await VigilServer.start();
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
