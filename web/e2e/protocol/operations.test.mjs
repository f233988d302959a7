// What an operator relies on: `vigil demo`, the CLI, HTTPS, health and
// metrics, and a clean stop on SIGTERM.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { io } from 'socket.io-client';

import { VigilServer, connect, incident, request, vigilBin } from '../lib/server.mjs';

const dirs = [];
const procs = [];
after(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'vigil-ops-'));
  dirs.push(d);
  return d;
}

/** Runs `vigil …args` until its stdout matches `until`; returns the process and its output. */
function launch(args, until, env = {}) {
  const proc = spawn(vigilBin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn', ...env } });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; stdout:\n${out}\nstderr:\n${err}`)), 30_000);
    proc.stdout.on('data', (d) => {
      out += d;
      if (until.test(out)) {
        clearTimeout(timer);
        resolve({ proc, out: () => out });
      }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${err}`)); });
  });
}

const exitOf = (proc) => new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));

test('vigil demo prints links that work, answers /healthz and /metrics, and stops cleanly on SIGTERM', async () => {
  const dir = tempDir();
  const { proc, out } = await launch(['demo', '--data-dir', dir, '--http', '127.0.0.1:0', '--web-dir', join(dir, 'web')], /Students:\n(.*\n){5}/);
  const text = out();
  const url = text.match(/vigil listening on (http:\/\/[0-9.:]+)/)[1];
  const proctorLink = text.match(/(http:\S+\/dashboard\/#token=\S+)/)[1];
  const studentLinks = [...text.matchAll(/(http:\S+\/student\/#token=\S+)/g)].map((m) => m[1]);
  assert.equal(studentLinks.length, 5);

  const health = await (await fetch(`${url}/healthz`)).json();
  assert.equal(health.status, 'ok');
  const page = await fetch(new URL(studentLinks[0]).href.split('#')[0]);
  assert.equal(page.status, 200);

  const server = { url };
  const token = (link) => new URL(link).hash.replace('#token=', '');
  const proctor = await connect(server, '/proctor', token(proctorLink));
  const snapshot = await request(proctor, 'snapshot', null);
  assert.equal(snapshot.exam.id, 'demo');
  assert.equal(snapshot.students.length, 5);
  const student = await connect(server, '/student', token(studentLinks[0]));
  assert.equal((await request(student, 'incident', incident({ seq: 1 }))).status, 'accepted');

  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /^vigil_incidents_accepted_total 1$/m);
  assert.match(metrics, /^vigil_students_connected 1$/m);
  assert.match(metrics, /^vigil_proctors_connected 1$/m);
  assert.match(metrics, /^vigil_fanout_latency_seconds_bucket\{edge="leading",le="[0-9.e+-]+"\} 1$/m);
  for (const name of metrics.matchAll(/^# TYPE (\S+)/gm)) assert.match(name[1], /^vigil_/);

  student.close();
  proctor.close();
  const exited = exitOf(proc);
  proc.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, signal: null });

  // A second start keeps the exam and its data: the demo is idempotent.
  const again = await launch(['demo', '--data-dir', dir, '--http', '127.0.0.1:0', '--web-dir', join(dir, 'web')], /Students:\n(.*\n){5}/);
  const url2 = again.out().match(/vigil listening on (http:\/\/[0-9.:]+)/)[1];
  const p2 = await connect({ url: url2 }, '/proctor', token(again.out().match(/(http:\S+\/dashboard\/#token=\S+)/)[1]));
  const snap2 = await request(p2, 'snapshot', null);
  assert.equal(snap2.students.find((s) => s.student.id === 'student-1').score.seq, 1);
  p2.close();
  again.proc.kill('SIGTERM');
  await exitOf(again.proc);
});

test('the CLI creates exams, rosters and links that the server honours', async () => {
  const dir = tempDir();
  const run = (...args) => execFileSync(vigilBin, [...args, '--data-dir', dir], { encoding: 'utf8' });
  const exam = JSON.parse(run('exam', 'create', '--title', 'CLI exam', '--id', 'cli'));
  assert.equal(exam.id, 'cli');
  assert.equal(JSON.parse(run('student', 'add', '--exam', 'cli', '--name', 'Ada', '--id', 'ada')).id, 'ada');
  assert.throws(() => run('student', 'add', '--exam', 'cli', '--name', 'Ada', '--id', 'ada'), /already exists/);
  assert.throws(() => run('student', 'add', '--exam', 'nope', '--name', 'X'), /not found/);
  const link = run('link', '--exam', 'cli', '--student', 'ada').trim();
  assert.match(link, /\/student\/#token=/);

  const server = await VigilServer.start({ dataDir: dir });
  try {
    const s = await connect(server, '/student', link.split('#token=')[1]);
    assert.equal((await s.welcome).student.name, 'Ada');
    s.close();
  } finally {
    await server.stop();
  }
});

test('with a certificate the server speaks HTTPS and Socket.IO over TLS', async () => {
  const dir = tempDir();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'],
  { stdio: 'ignore' });
  const { proc, out } = await launch(['demo', '--data-dir', dir, '--http', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key,
    '--web-dir', join(dir, 'web')], /Students:\n(.*\n){5}/);
  const url = out().match(/vigil listening on (https:\/\/[0-9.:]+)/)[1];
  const proctorToken = out().match(/https:\S+\/dashboard\/#token=(\S+)/)[1];
  const socket = io(`${url}/proctor`, { auth: { token: proctorToken }, transports: ['websocket'], reconnection: false, rejectUnauthorized: false });
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('connect_error', reject); });
  const snap = await socket.timeout(10_000).emitWithAck('snapshot', null);
  assert.equal(snap.exam.id, 'demo');
  socket.close();
  // Plain HTTP to the TLS port is not served.
  await assert.rejects(fetch(url.replace('https:', 'http:') + '/healthz'));
  proc.kill('SIGTERM');
  await exitOf(proc);
});
