// Nothing acknowledged is lost: kill -9 after acks, restart on the same data
// dir, and every acknowledged incident and score is still there.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { VigilServer, connect, incident, request } from '../lib/server.mjs';

let server;
after(async () => { await server?.stop(); });

test('kill -9 after acks loses nothing, and retries after restart are duplicates', async () => {
  server = await VigilServer.start();
  const students = ['s1', 's2', 's3', 's4'];
  const { tokens } = await server.exam({ id: 'crash', students, proctors: ['p1'] });
  const acked = new Map(students.map((s) => [s, []]));
  const sockets = await Promise.all(students.map((s) => connect(server, '/student', tokens.student[s])));
  // Concurrent, so group commits hold several students' writes at once.
  await Promise.all(sockets.map(async (sock, i) => {
    for (let n = 0; n < 15; n++) {
      const r = incident({ kind: n % 2 ? 'looking_away' : 'tab_hidden' });
      const ack = await request(sock, 'incident', r);
      if (ack.status === 'accepted') acked.get(students[i]).push(r);
    }
  }));
  const before = await server.api('GET', '/exams/crash/snapshot', { token: tokens.proctor.p1 });
  assert.equal(before.status, 200);

  await server.kill9();
  await server.restart();

  const after_ = await server.api('GET', '/exams/crash/snapshot', { token: tokens.proctor.p1 });
  for (const s of students) {
    const view = after_.data.students.find((v) => v.student.id === s);
    const was = before.data.students.find((v) => v.student.id === s);
    assert.equal(view.score.seq, acked.get(s).length, `${s}: every acked incident counts`);
    assert.equal(view.score.seq, was.score.seq);
    // The same score, decayed over the restart's few seconds at most.
    assert.ok(view.score.score <= was.score.score + 1e-9 && view.score.score > was.score.score * 0.95,
      `${s}: ${was.score.score} -> ${view.score.score}`);
    assert.equal(view.score.level, was.score.level);
    const stored = await server.api('GET', `/exams/crash/students/${s}/incidents`, { token: tokens.proctor.p1 });
    assert.deepEqual(stored.data.map((i) => i.id).sort(), acked.get(s).map((r) => r.id).sort());
  }

  // The outbox resends after the restart: all duplicates, nothing counted twice.
  const again = await connect(server, '/student', tokens.student.s1);
  assert.equal((await again.welcome).next_seq, Math.max(...acked.get('s1').map((r) => r.seq)) + 1);
  for (const r of acked.get('s1')) {
    assert.deepEqual(await request(again, 'incident', r), { status: 'duplicate', id: r.id });
  }
  const conflict = await request(again, 'incident', { ...acked.get('s1')[0], kind: 'no_face' });
  assert.equal(conflict.reason, 'conflicting_duplicate');
  again.close();
  for (const s of sockets) s.close();
});
