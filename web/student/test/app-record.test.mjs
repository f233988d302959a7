// After the exam, a student's link opens their own record: what was
// flagged with the frame kept, what reviewers read and decided, and one
// answer (appeal) to the latest decision, which reviewers then see.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { connect, incident, request } from '../../e2e/lib/server.mjs';
import { StudentTestServer, requireBuilt, studentRoot } from './helpers/vigil-server.mjs';
import { launchWithCamera } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';

test("a student reads their own record and answers the decision once", { timeout: 120_000 }, async (t) => {
  requireBuilt();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const { tokens } = await server.exam({ id: 'rec', students: ['s1'], proctors: ['p1'] });
  const student = tokens.student.s1;
  const proctor = tokens.proctor.p1;
  // The exam happened over the protocol: two incidents, one with its frame.
  const socket = await connect(server, '/student', student);
  const seen = incident({ kind: 'tab_hidden', seq: 1 });
  const faced = incident({ kind: 'no_face', seq: 2 });
  for (const i of [seen, faced]) assert.equal((await request(socket, 'incident', i)).status, 'accepted');
  const jpeg = readFileSync(path.join(studentRoot, '../../testdata/frames/frame-a.jpg'));
  const up = await fetch(`${server.url}/api/v1/evidence/${faced.id}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${student}`, 'x-vigil-captured-at': String(faced.started_at + 100) },
    body: jpeg,
  });
  assert.equal(up.status, 201);
  socket.close();
  const review = (method, p, body) =>
    fetch(`${server.url}/api/v1/exams/rec/students/s1${p}`, {
      method,
      headers: { authorization: `Bearer ${proctor}`, 'content-type': 'application/json' },
      body: body && JSON.stringify(body),
    });
  assert.equal((await review('PUT', `/incidents/${faced.id}/review`, { verdict: 'dismissed', note: 'Leaned out for a second' })).status, 200);
  assert.equal((await review('PUT', '/decision', { verdict: 'concern', note: 'Left the exam tab once', based_on: 0 })).status, 200);

  const browser = await launchWithCamera(oneFaceVideo().file);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/student/#token=${student}&view=record`);
  await page.getByRole('heading', { name: 'Your exam record' }).waitFor({ timeout: 30_000 });
  await page.getByText('Left the exam tab', { exact: true }).waitFor();
  await page.getByText('Dismissed by a reviewer (not held against you): Leaned out for a second').waitFor();
  // The kept frame shows (fetched with the token).
  const frame = page.getByRole('img', { name: 'The frame kept as evidence' });
  await page.waitForFunction(() => {
    const img = document.querySelector('img.record__frame');
    return img && img.complete && img.naturalWidth === 320;
  });
  assert.equal(await frame.count(), 1);
  await page.getByText('Left the exam tab once').waitFor();

  // One answer to the decision.
  await page.getByRole('button', { name: 'Send my answer' }).click();
  await page.getByText('Write your answer first.').waitFor();
  await page.getByLabel('Your answer to this decision (you can send one):').fill('My sibling came into the room.');
  await page.getByRole('button', { name: 'Send my answer' }).click();
  await page.getByText('My sibling came into the room.').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Send my answer' }).count(), 0, 'answered once');
  const record = await (await review('GET', '/review')).json();
  assert.deepEqual(record.appeals.map((a) => [a.decision_version, a.text]), [[1, 'My sibling came into the room.']]);
  assert.deepEqual(errors, []);
});
