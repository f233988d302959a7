// Evidence frames over HTTP: real JPEGs bound to a student's own incident,
// captured in its span, each stored once; everything else refused with a reason.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { VigilServer, collect, connect, incident, repoRoot, request } from '../lib/server.mjs';

const frame = (name) => new Uint8Array(readFileSync(join(repoRoot, 'testdata/frames', name)));
const frameA = frame('frame-a.jpg');
const frameB = frame('frame-b.jpg');

let server;
let ctx;
before(async () => {
  server = await VigilServer.start();
  const { tokens } = await server.exam({ id: 'ev', students: ['s1', 's2'], proctors: ['p1'] });
  const other = await server.exam({ id: 'ev-other', students: ['x1'], proctors: ['px'] });
  ctx = { tokens, other: other.tokens };
});
after(async () => { await server?.stop(); });

async function openIncident(studentToken, overrides = {}) {
  const s = await connect(server, '/student', studentToken);
  const r = incident(overrides);
  assert.equal((await request(s, 'incident', r)).status, 'accepted');
  s.close();
  return r;
}

function upload(token, incidentId, body, capturedAt = Date.now() - 200) {
  return server.api('POST', `/evidence/${incidentId}`, {
    token,
    body,
    headers: { 'content-type': 'image/jpeg', 'x-vigil-captured-at': String(capturedAt) },
  });
}

test('a real frame is stored, announced, and only the exam\'s proctors can fetch it', async () => {
  const proctor = await connect(server, '/proctor', ctx.tokens.proctor.p1);
  const notices = collect(proctor, 'incident');
  const r = await openIncident(ctx.tokens.student.s1);
  const res = await upload(ctx.tokens.student.s1, r.id, frameA);
  assert.equal(res.status, 201, JSON.stringify(res.data));
  assert.equal(res.data.width, 320);
  assert.equal(res.data.height, 240);
  assert.equal(res.data.bytes, frameA.length);
  const sha = res.data.sha256;
  await notices.until((n) => n.some((i) => i.id === r.id && i.evidence_sha256 === sha));

  // A retry of the same upload (lost response) is answered, not refused.
  const retry = await upload(ctx.tokens.student.s1, r.id, frameA);
  assert.equal(retry.status, 200);
  assert.equal(retry.data.sha256, sha);

  const got = await server.api('GET', `/exams/ev/evidence/${sha}`, { token: ctx.tokens.proctor.p1 });
  assert.equal(got.status, 200);
  assert.deepEqual(Buffer.from(got.data), Buffer.from(frameA));
  const incidents = await server.api('GET', '/exams/ev/students/s1/incidents', { token: ctx.tokens.proctor.p1 });
  assert.equal(incidents.data.find((i) => i.id === r.id).evidence_sha256, sha);

  for (const [token, path] of [
    [ctx.tokens.student.s1, `/exams/ev/evidence/${sha}`],
    [ctx.other.proctor.px, `/exams/ev/evidence/${sha}`],
    [ctx.other.proctor.px, `/exams/ev-other/evidence/${sha}`],
  ]) {
    const denied = await server.api('GET', path, { token });
    assert.ok([403, 404].includes(denied.status), `${path}: ${denied.status}`);
  }
  proctor.close();
});

test('non-JPEG, oversized, corrupt, out-of-range and unbound frames are refused with reasons', async () => {
  const r = await openIncident(ctx.tokens.student.s1);
  const cases = [
    ['PNG bytes', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]), 415, 'not_jpeg'],
    ['text', new TextEncoder().encode('hello, I am a jpeg'), 415, 'not_jpeg'],
    ['oversized', (() => { const b = new Uint8Array(600 * 1024); b.set(frameA); return b; })(), 413, 'too_large'],
    ['truncated scan', frameA.slice(0, Math.floor(frameA.length / 3)), 422, 'undecodable'],
    ['too wide', frame('too-wide.jpg'), 422, 'dimensions_out_of_range'],
  ];
  for (const [what, body, status, reason] of cases) {
    const res = await upload(ctx.tokens.student.s1, r.id, body);
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.data)}`);
    assert.equal(res.data.error.reason, reason, what);
    assert.ok(res.data.error.message.length > 0);
  }
  const unbound = await upload(ctx.tokens.student.s1, 'no-such-incident', frameB);
  assert.equal(unbound.status, 404);
  assert.equal(unbound.data.error.reason, 'unknown_incident');
  // Another student's incident is not yours to attach to.
  const theirs = await upload(ctx.tokens.student.s2, r.id, frameB);
  assert.equal(theirs.data.error.reason, 'unknown_incident');
  const stale = await upload(ctx.tokens.student.s1, r.id, frameB, r.started_at - 3_600_000);
  assert.equal(stale.data.error.reason, 'outside_incident_window', JSON.stringify(stale.data));
  const noTime = await server.api('POST', `/evidence/${r.id}`, { token: ctx.tokens.student.s1, body: frameB });
  assert.equal(noTime.data.error.reason, 'invalid_payload');
});

test('a replayed frame is refused, and an incident keeps one frame', async () => {
  const first = await openIncident(ctx.tokens.student.s2);
  const second = await openIncident(ctx.tokens.student.s2);
  assert.equal((await upload(ctx.tokens.student.s2, first.id, frameB)).status, 201);
  const replay = await upload(ctx.tokens.student.s2, second.id, frameB);
  assert.equal(replay.status, 409);
  assert.equal(replay.data.error.reason, 'replayed_frame');
  const seconds = await upload(ctx.tokens.student.s2, first.id, frameA);
  // frameA is already evidence of s1's incident: the replay check comes first.
  assert.equal(seconds.data.error.reason, 'replayed_frame');
});

test('an events-only exam collects no frames', async () => {
  const settings = await server.defaultSettings({ privacy: 'events_only' });
  const { tokens } = await server.exam({ id: 'ev-private', students: ['s1'], settings });
  const r = await openIncident(tokens.student.s1);
  const res = await upload(tokens.student.s1, r.id, frameA);
  assert.equal(res.status, 403);
  assert.equal(res.data.error.reason, 'evidence_not_collected');
});
