// The referee over real Socket.IO: incidents in, scores out, and every kind
// of bad input refused with its reason.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { VigilServer, collect, connect, incident, request, signToken, sleep } from '../lib/server.mjs';

let server;
before(async () => { server = await VigilServer.start(); });
after(async () => { await server?.stop(); });

describe('happy path', () => {
  test('an incident is acked, and the proctor gets the score and the incident', async () => {
    const { exam, tokens } = await server.exam({ id: 'happy', students: ['ada'], proctors: ['pat'] });
    const proctor = await connect(server, '/proctor', tokens.proctor.pat);
    const scores = collect(proctor, 'score');
    const notices = collect(proctor, 'incident');
    const student = await connect(server, '/student', tokens.student.ada);
    const report = incident({ kind: 'multiple_faces', confidence: 0.9, detail: 'two faces' });
    const ack = await request(student, 'incident', report);
    assert.deepEqual(ack, { status: 'accepted', id: report.id });

    const [score] = await scores.until((s) => s.length >= 1);
    assert.equal(score.student_id, 'ada');
    assert.equal(score.seq, 1);
    const weight = exam.settings.scoring.weights.multiple_faces;
    assert.ok(score.score > weight * 0.99 && score.score <= weight, `score ${score.score}`);
    assert.equal(score.level, weight >= exam.settings.scoring.alert_at ? 'alert' : weight >= exam.settings.scoring.watch_at ? 'watch' : 'ok');
    const [notice] = await notices.until((n) => n.length >= 1);
    assert.equal(notice.id, report.id);
    assert.equal(notice.kind, 'multiple_faces');
    assert.equal(notice.source, 'client');

    const snap = await request(proctor, 'snapshot', null);
    const ada = snap.students.find((s) => s.student.id === 'ada');
    assert.equal(ada.score.seq, 1);
    assert.equal(ada.presence, 'live');
    assert.equal(ada.last_incident.id, report.id);
    student.close();
    proctor.close();
  });

  test('the welcome tells a student where its sequence numbers resume', async () => {
    const { tokens } = await server.exam({ id: 'welcome', students: ['bo'] });
    const first = await connect(server, '/student', tokens.student.bo);
    assert.equal((await first.welcome).next_seq, 1);
    assert.equal((await request(first, 'incident', incident({ seq: 41 }))).status, 'accepted');
    first.close();
    const again = await connect(server, '/student', tokens.student.bo);
    const w = await again.welcome;
    assert.equal(w.next_seq, 42);
    assert.equal(w.student.id, 'bo');
    again.close();
  });

  test('ending an incident is recorded once', async () => {
    const { tokens } = await server.exam({ id: 'ending', students: ['cy'] });
    const s = await connect(server, '/student', tokens.student.cy);
    const r = incident({ started_at: Date.now() - 3000 });
    await request(s, 'incident', r);
    const end = { id: r.id, seq: r.seq + 1000, ended_at: Date.now() - 100 };
    assert.equal((await request(s, 'incident_end', end)).status, 'accepted');
    assert.equal((await request(s, 'incident_end', end)).status, 'duplicate');
    const later = await request(s, 'incident_end', { ...end, seq: end.seq + 1, ended_at: end.ended_at + 50 });
    assert.equal(later.reason, 'already_ended');
    const unknown = await request(s, 'incident_end', { id: 'nope', seq: end.seq + 2, ended_at: Date.now() });
    assert.equal(unknown.reason, 'unknown_incident');
    s.close();
  });
});

describe('tokens and scope', () => {
  test('forged, expired, missing and wrong-exam tokens are refused with reasons', async () => {
    const { tokens } = await server.exam({ id: 'scope-a', students: ['s1'] });
    await server.exam({ id: 'scope-b', students: ['s2'] });
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 's1', exam: 'scope-a', role: 'student', iat: now, exp: now + 600 };

    const forged = signToken(Buffer.alloc(32, 1), claims);
    await assert.rejects(connect(server, '/student', forged), /^Error: invalid_token/);

    const key = server.signingKey();
    const expired = signToken(key, { ...claims, iat: now - 7200, exp: now - 3600 });
    await assert.rejects(connect(server, '/student', expired), /^Error: expired_token/);

    await assert.rejects(connect(server, '/student', undefined), /^Error: missing_token/);

    // Validly signed, but for a student who is not on exam B's roster.
    const wrongExam = signToken(key, { ...claims, exam: 'scope-b' });
    await assert.rejects(connect(server, '/student', wrongExam), /^Error: unknown_student/);
    const noExam = signToken(key, { ...claims, exam: 'no-such-exam' });
    await assert.rejects(connect(server, '/student', noExam), /^Error: unknown_exam/);

    // The genuine token still works.
    (await connect(server, '/student', tokens.student.s1)).close();

    // HTTP gives the same reasons.
    const res = await server.api('POST', '/evidence/x', { token: forged, body: new Uint8Array([1]) });
    assert.equal(res.status, 401);
    assert.equal(res.data.error.reason, 'invalid_token');
  });

  test('a student token cannot join /proctor', async () => {
    const { tokens } = await server.exam({ id: 'scope-c', students: ['s1'] });
    await assert.rejects(connect(server, '/proctor', tokens.student.s1), /^Error: wrong_scope/);
    const res = await server.api('GET', '/exams/scope-c/snapshot', { token: tokens.student.s1 });
    assert.equal(res.status, 403);
    assert.equal(res.data.error.reason, 'wrong_scope');
  });

  test('a proctor of exam A sees nothing of exam B', async () => {
    const a = await server.exam({ id: 'iso-a', students: ['sa'], proctors: ['pa'] });
    const b = await server.exam({ id: 'iso-b', students: ['sb'], proctors: ['pb'] });
    const pa = await connect(server, '/proctor', a.tokens.proctor.pa);
    const pb = await connect(server, '/proctor', b.tokens.proctor.pb);
    const seenByA = [];
    pa.onAny((event, data) => seenByA.push({ event, data }));
    const scoresB = collect(pb, 'score');

    const sb = await connect(server, '/student', b.tokens.student.sb);
    await request(sb, 'incident', incident());
    await scoresB.until((s) => s.length >= 1);
    await sleep(300);
    assert.deepEqual(seenByA.filter((e) => JSON.stringify(e.data).includes('sb')), []);

    const snapA = await request(pa, 'snapshot', null);
    assert.deepEqual(snapA.students.map((s) => s.student.id), ['sa']);
    const cross = await server.api('GET', '/exams/iso-b/snapshot', { token: a.tokens.proctor.pa });
    assert.equal(cross.status, 403);
    assert.equal(cross.data.error.reason, 'forbidden');
    const crossIncidents = await server.api('GET', '/exams/iso-b/students/sb/incidents', { token: a.tokens.proctor.pa });
    assert.equal(crossIncidents.status, 403);
    for (const s of [pa, pb, sb]) s.close();
  });

  test('the admin API needs the admin token', async () => {
    const res = await server.api('POST', '/exams', { token: 'nope', body: { title: 'x' } });
    assert.equal(res.status, 401);
    const bad = await server.api('POST', '/exams', { body: { title: 'x', bogus: 1 } });
    assert.equal(bad.status, 422);
    assert.equal(bad.data.error.reason, 'invalid_payload');
    assert.match(bad.data.error.message, /bogus/);
  });
});

describe('dedupe, ordering and time', () => {
  test('a replayed incident is deduplicated with the same ack; a changed payload is refused', async () => {
    const { tokens } = await server.exam({ id: 'dedupe', students: ['s1'], proctors: ['p1'] });
    const proctor = await connect(server, '/proctor', tokens.proctor.p1);
    const scores = collect(proctor, 'score');
    const s = await connect(server, '/student', tokens.student.s1);
    const r = incident({ kind: 'tab_hidden' });
    assert.deepEqual(await request(s, 'incident', r), { status: 'accepted', id: r.id });
    assert.deepEqual(await request(s, 'incident', r), { status: 'duplicate', id: r.id });
    // The same retry over a new connection (a reconnect) is still a duplicate.
    s.close();
    const s2 = await connect(server, '/student', tokens.student.s1);
    assert.deepEqual(await request(s2, 'incident', r), { status: 'duplicate', id: r.id });
    const changed = await request(s2, 'incident', { ...r, kind: 'no_face' });
    assert.equal(changed.status, 'rejected');
    assert.equal(changed.reason, 'conflicting_duplicate');
    // A new id reusing a sequence number is a replay.
    const reused = await request(s2, 'incident', incident({ seq: r.seq }));
    assert.equal(reused.reason, 'sequence_replayed');
    await sleep(300);
    assert.equal(scores.items.length, 1, 'a duplicate must not move the score');
    s2.close();
    proctor.close();
  });

  test('timestamps outside the exam window or from the future are refused', async () => {
    const now = Date.now();
    const settings = await server.defaultSettings({ window: { opens_at: now - 60_000, closes_at: now + 3_600_000 } });
    const { tokens } = await server.exam({ id: 'window', students: ['s1'], settings });
    const s = await connect(server, '/student', tokens.student.s1);
    const early = await request(s, 'incident', incident({ started_at: now - 120_000 }));
    assert.equal(early.status, 'rejected');
    assert.equal(early.reason, 'outside_exam_window');
    assert.match(early.message, /outside the exam window/);
    const future = await request(s, 'incident', incident({ started_at: Date.now() + 60_000 }));
    assert.equal(future.reason, 'timestamp_in_future');
    const backwards = await request(s, 'incident', incident({ started_at: now - 1000, ended_at: now - 2000 }));
    assert.equal(backwards.reason, 'end_before_start');
    s.close();
  });

  test('malformed messages get invalid_payload, server-only kinds are refused', async () => {
    const { tokens } = await server.exam({ id: 'schema', students: ['s1'] });
    const s = await connect(server, '/student', tokens.student.s1);
    for (const bad of [null, 'text', { id: 'x' }, { ...incident(), kind: 'teleport' }, { ...incident(), seq: 'one' }]) {
      const ack = await request(s, 'incident', bad);
      assert.equal(ack.status, 'rejected', JSON.stringify(bad));
      assert.equal(ack.reason, 'invalid_payload');
    }
    const badId = await request(s, 'incident', incident({ id: 'has spaces/and slashes' }));
    assert.equal(badId.reason, 'invalid_payload');
    // A field this server does not know (a newer client's) is ignored, not refused.
    const newer = await request(s, 'incident', { ...incident(), added_later: { x: 1 } });
    assert.equal(newer.status, 'accepted', JSON.stringify(newer));
    const serverKind = await request(s, 'incident', incident({ kind: 'media_stalled' }));
    assert.equal(serverKind.reason, 'server_only_kind');
    // Garbage signals are dropped without breaking the connection.
    s.emit('signals', { nonsense: true });
    s.emit('heartbeat', 42);
    assert.equal((await request(s, 'incident', incident())).status, 'accepted');
    s.close();
  });
});

describe('flow control', () => {
  test('a flood from one student is rate-limited without hurting the others', async () => {
    const { tokens } = await server.exam({ id: 'flood', students: ['loud', 'quiet'], proctors: ['p1'] });
    const proctor = await connect(server, '/proctor', tokens.proctor.p1);
    const scores = collect(proctor, 'score');
    const loud = await connect(server, '/student', tokens.student.loud);
    const quiet = await connect(server, '/student', tokens.student.quiet);

    const flood = Array.from({ length: 300 }, () => request(loud, 'incident', incident({ kind: 'window_blur' }), 30_000));
    const calm = [];
    for (let i = 0; i < 5; i++) {
      calm.push(await request(quiet, 'incident', incident({ kind: 'copy_paste' }), 30_000));
    }
    const loudAcks = await Promise.all(flood);
    const accepted = loudAcks.filter((a) => a.status === 'accepted').length;
    const limited = loudAcks.filter((a) => a.reason === 'rate_limited');
    assert.ok(limited.length >= 250, `only ${limited.length} of 300 were limited`);
    assert.ok(accepted >= 20 && accepted < 50, `accepted ${accepted}`);
    assert.ok(limited.every((a) => a.retry_after_ms > 0));
    assert.deepEqual(calm.map((a) => a.status), Array(5).fill('accepted'));
    // The quiet student's score reached the proctor: seq 5 is the last.
    await scores.until((s) => s.some((u) => u.student_id === 'quiet' && u.seq === 5));
    for (const s of [proctor, loud, quiet]) s.close();
  });
});

describe('presence', () => {
  test('a student whose heartbeats stop shows as stalled and gets a server incident', async () => {
    const settings = await server.defaultSettings({ stall_after_s: 1 });
    const { tokens } = await server.exam({ id: 'stall', students: ['s1'], proctors: ['p1'], settings });
    const proctor = await connect(server, '/proctor', tokens.proctor.p1);
    const presence = collect(proctor, 'presence');
    const notices = collect(proctor, 'incident');
    const s = await connect(server, '/student', tokens.student.s1);
    await presence.until((p) => p.some((u) => u.presence === 'live'));
    await presence.until((p) => p.some((u) => u.presence === 'stalled'), 5_000);
    const [lost] = await notices.until((n) => n.some((i) => i.kind === 'heartbeat_lost'));
    assert.equal(lost.source, 'server');
    // Heartbeats resume, as a page's do, more often than the 1 s stall
    // deadline: presence is coalesced (latest wins within a second), so a
    // single heartbeat's "live" may be overtaken by the next stall.
    const beat = () => s.emit('heartbeat', { at: Date.now(), inference_fps: 12, worker_ok: true, worker_restarts: 0, camera_live: true });
    beat();
    const beating = setInterval(beat, 250);
    try {
      await presence.until((p) => p.at(-1).presence === 'live');
    } finally {
      clearInterval(beating);
    }
    s.close();
    await presence.until((p) => p.at(-1).presence === 'offline');
    proctor.close();
  });

  test('signals move detection quality, not the score', async () => {
    const { tokens } = await server.exam({ id: 'quality', students: ['s1'], proctors: ['p1'] });
    const proctor = await connect(server, '/proctor', tokens.proctor.p1);
    const quality = collect(proctor, 'quality');
    const scores = collect(proctor, 'score');
    const s = await connect(server, '/student', tokens.student.s1);
    s.emit('signals', { at: Date.now(), faces: 1, brightness: 0.05, confidence: 0.9 });
    await quality.until((q) => q.some((u) => u.quality === 'low_light'));
    s.emit('signals', { at: Date.now(), faces: 1, brightness: 0.6, confidence: 0.95 });
    await quality.until((q) => q.at(-1).quality === 'good');
    assert.equal(scores.items.length, 0);
    s.close();
    proctor.close();
  });
});
