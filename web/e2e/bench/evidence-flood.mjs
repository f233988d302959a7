// Evidence-flood benchmark: server memory while N students upload
// 1920×1920 JPEG evidence frames at once. Two scenarios on one server:
//
//   A "unknown incidents": N concurrent uploads (one token per student) to
//     incidents that do not exist, `rounds` times. Before the fix these were
//     decoded before the incident lookup, with no concurrency cap.
//   B "real incidents": each student reports an incident over Socket.IO, then
//     all N upload a distinct valid frame concurrently, `rounds` times; a 429
//     is retried after its `retry_after_ms` (at most --max-attempts tries).
//
// A sampler thread reads VmRSS from /proc/<pid>/status every 50 ms during each
// scenario (and VmHWM at its end; the high-water mark is reset before each
// scenario through /proc/<pid>/clear_refs when the kernel allows it).
// Writes JSON and an SVG plot of RSS over time next to it. Loopback only,
// bounded in time; it stops by itself.
//
//   node web/e2e/bench/evidence-flood.mjs [--out docs/bench/evidence-flood.json]
//        [--concurrency 100] [--rounds 5] [--max-attempts 60] [--target-mb 500]

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

import jpeg from '../../student/node_modules/jpeg-js/index.js';
import { VigilServer, connect, repoRoot, request, sleep, vigilBin } from '../lib/server.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const concurrency = Number(arg('concurrency', '100'));
const rounds = Number(arg('rounds', '5'));
const maxAttempts = Number(arg('max-attempts', '60'));
const targetMb = Number(arg('target-mb', '500'));
const outJson = resolve(arg('out', join(repoRoot, 'bench-out/evidence-flood.json')));
const outSvg = outJson.replace(/\.json$/, '') + '.svg';
const SIDE = 1920;
const MAX_BYTES = 512 * 1024;
const SAMPLE_MS = 50;
const REQUEST_TIMEOUT_MS = 120_000;
const OVERALL_DEADLINE_MS = 20 * 60_000;
if (!(concurrency >= 1 && concurrency <= 1000 && rounds >= 1 && rounds <= 50 && maxAttempts >= 1 && maxAttempts <= 1000)) {
  throw new Error('want 1 ≤ concurrency ≤ 1000, 1 ≤ rounds ≤ 50, 1 ≤ max-attempts ≤ 1000');
}

const log = (s) => process.stderr.write(`${s}\n`);

// ------------------------------------------------------------------ frames

/** A smooth RGB gradient, RGBA as jpeg-js wants it. */
function gradient() {
  const data = Buffer.alloc(SIDE * SIDE * 4);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const i = (y * SIDE + x) * 4;
      data[i] = (x * 255) / SIDE;
      data[i + 1] = (y * 255) / SIDE;
      data[i + 2] = ((x + y) * 255) / (2 * SIDE);
      data[i + 3] = 255;
    }
  }
  return data;
}

/** Paints student `n`'s bits as a 16×16 grid of 8-px cells in a 128-px block. */
function mark(base, n) {
  const data = Buffer.from(base);
  const bx = 64 + (n % 12) * 144, by = 64 + Math.floor(n / 12) % 12 * 144;
  for (let y = 0; y < 128; y++) {
    for (let x = 0; x < 128; x++) {
      const cell = (y >> 3) * 16 + (x >> 3);
      const on = ((n * 2654435761 + cell * 40503) >>> 0) % 3 === 0 || (cell < 32 && ((n >> (cell % 16)) & 1));
      const i = ((by + y) * SIDE + bx + x) * 4;
      const v = on ? 235 : 20;
      data[i] = v; data[i + 1] = 255 - v; data[i + 2] = v;
    }
  }
  return data;
}

const encode = (rgba) => Buffer.from(jpeg.encode({ data: rgba, width: SIDE, height: SIDE }, 60).data);

/** The same image with a COM segment after SOI: other bytes, same pixels. */
function withComment(frame, text) {
  const body = Buffer.from(text, 'ascii');
  const seg = Buffer.alloc(4 + body.length);
  seg.writeUInt16BE(0xfffe, 0);
  seg.writeUInt16BE(2 + body.length, 2);
  body.copy(seg, 4);
  return Buffer.concat([frame.subarray(0, 2), seg, frame.subarray(2)]);
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

function checkFrame(frame, what) {
  if (frame.length > MAX_BYTES) throw new Error(`${what}: ${frame.length} bytes > ${MAX_BYTES}`);
  const img = jpeg.decode(frame, { maxResolutionInMP: 8, maxMemoryUsageInMB: 256 });
  if (img.width !== SIDE || img.height !== SIDE) throw new Error(`${what}: decodes as ${img.width}×${img.height}`);
}

// ------------------------------------------------------------------ memory

function procStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(s.match(new RegExp(`${k}:\\s+(\\d+) kB`))?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: null, hwm: null };
  }
}

/** Resets the process's VmHWM to its current RSS (Linux ≥ 4.0). */
function resetHwm(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** A sampler on its own thread, so a busy event loop here does not skew it. */
class RssSampler {
  constructor(pid) {
    this.worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { readFileSync } = require('node:fs');
       let samples = null, timer = null;
       const read = () => {
         let rss = null;
         try { rss = Number(readFileSync('/proc/' + workerData.pid + '/status', 'utf8').match(/VmRSS:\\s+(\\d+) kB/)[1]) * 1024; } catch {}
         samples.push([performance.timeOrigin + performance.now(), rss]);
       };
       parentPort.on('message', (m) => {
         if (m === 'start') { samples = []; read(); timer = setInterval(read, workerData.ms); }
         else if (m === 'stop') { clearInterval(timer); read(); parentPort.postMessage(samples); samples = null; }
         else if (m === 'exit') { clearInterval(timer); parentPort.close(); }
       });`,
      { eval: true, workerData: { pid, ms: SAMPLE_MS } },
    );
  }
  start() { this.worker.postMessage('start'); }
  stop() {
    return new Promise((r) => { this.worker.once('message', r); this.worker.postMessage('stop'); });
  }
  async close() { await this.worker.terminate(); }
}

// ------------------------------------------------------------------ uploads

const bump = (m, k, n = 1) => { m[k] = (m[k] ?? 0) + n; };

/** One POST; resolves to { status, reason, retryAfterMs } or { error }. */
async function upload(server, token, incidentId, frame) {
  try {
    const res = await fetch(`${server.url}/api/v1/evidence/${incidentId}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'image/jpeg',
        'x-vigil-captured-at': String(Date.now()),
      },
      body: frame,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let body = null;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    const err = body?.error;
    return { status: res.status, reason: err?.reason ?? (res.ok ? 'ok' : 'none'), retryAfterMs: err?.retry_after_ms };
  } catch (e) {
    return { error: e.cause?.code ?? e.name ?? String(e) };
  }
}

const key = (a) => (a.error ? `error ${a.error}` : `${a.status} ${a.reason}`);

function quantiles(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null);
  const r = (v) => (v === null ? null : Math.round(v * 10) / 10);
  return { n: s.length, p50: r(q(0.5)), p95: r(q(0.95)), max: r(s.at(-1) ?? null) };
}

/**
 * Runs `body` while sampling RSS: 1 s quiet before (the baseline), then the
 * scenario, then 2 s of settling. Returns the scenario's memory record.
 */
async function measured(server, sampler, name, body) {
  const pid = server.proc.pid;
  await sleep(1000);
  const hwmReset = resetHwm(pid);
  const baseline = procStatus(pid).rss;
  sampler.start();
  const t0 = performance.timeOrigin + performance.now();
  const result = await body();
  const t1 = performance.timeOrigin + performance.now();
  const hwm = procStatus(pid).hwm;
  await sleep(2000);
  const samples = await sampler.stop();
  const after = procStatus(pid).rss;
  const during = samples.filter(([t]) => t <= t1 + SAMPLE_MS).map(([, r]) => r).filter((r) => r !== null);
  const peak = Math.max(...during);
  const mb = (b) => (b === null ? null : Math.round((b / 2 ** 20) * 10) / 10);
  log(`${name}: baseline ${mb(baseline)} MB, peak ${mb(peak)} MB, VmHWM ${mb(hwm)} MB, after 2 s ${mb(after)} MB, ${((t1 - t0) / 1000).toFixed(1)} s`);
  return {
    name,
    ...result,
    wall_s: Math.round(t1 - t0) / 1000,
    memory: {
      baseline_rss_mb: mb(baseline),
      peak_rss_mb: mb(peak),
      peak_over_baseline_mb: mb(peak - baseline),
      vm_hwm_mb: mb(hwm),
      vm_hwm_reset_before: hwmReset,
      rss_2s_after_mb: mb(after),
      samples: during.length,
      under_target: peak < targetMb * 2 ** 20 && (hwmReset ? hwm < targetMb * 2 ** 20 : true),
    },
    // [seconds since the scenario started, RSS MB], through the settling time.
    series: samples.map(([t, r]) => [Math.round(t - t0) / 1000, mb(r)]),
  };
}

async function scenarioUnknown(server, tokens, ids, frame) {
  const answers = {};
  const roundWall = [];
  const latency = [];
  for (let r = 0; r < rounds; r++) {
    const w0 = performance.now();
    await Promise.all(ids.map(async (s) => {
      const t = performance.now();
      const a = await upload(server, tokens[s], `nope-r${r}-${s}`, frame);
      latency.push(performance.now() - t);
      bump(answers, key(a));
    }));
    roundWall.push(Math.round(performance.now() - w0) / 1000);
  }
  return { uploads: ids.length * rounds, answers, round_wall_s: roundWall, latency_ms: quantiles(latency) };
}

async function scenarioReal(server, tokens, ids, sockets, frames) {
  const answers = {};   // every HTTP answer, retries included
  const outcomes = {};  // the last answer of each upload
  const incidentAcks = {};
  const attempts = [];
  const latency = [];   // first try → final answer
  const roundWall = [];
  const reportWall = [];
  const seqs = await Promise.all(sockets.map(async (sock) => (await sock.welcome).next_seq));
  for (let r = 0; r < rounds; r++) {
    // 1. Every student reports an incident and waits for its ack.
    const p0 = performance.now();
    const incidentIds = await Promise.all(ids.map(async (s, i) => {
      const report = { id: `flood-r${r}-${s}`, seq: seqs[i], kind: 'no_face', started_at: Date.now() - 500 };
      try {
        const ack = await request(sockets[i], 'incident', report, 30_000);
        bump(incidentAcks, ack.status === 'rejected' ? `rejected ${ack.reason}` : ack.status);
        if (ack.status !== 'accepted') return null;
        seqs[i] += 1;
        return report.id;
      } catch (e) {
        bump(incidentAcks, `error ${e.message}`);
        return null;
      }
    }));
    reportWall.push(Math.round(performance.now() - p0) / 1000);
    // 2. All upload a distinct frame at once; a 429 waits `retry_after_ms`.
    const w0 = performance.now();
    await Promise.all(ids.map(async (s, i) => {
      if (!incidentIds[i]) return bump(outcomes, 'skipped (incident not accepted)');
      const frame = frames[r * ids.length + i];
      const t = performance.now();
      let a;
      let n = 0;
      while (n < maxAttempts) {
        n += 1;
        a = await upload(server, tokens[s], incidentIds[i], frame);
        bump(answers, key(a));
        if (a.status !== 429 || n >= maxAttempts) break;
        await sleep((a.retryAfterMs ?? 250) + Math.random() * 50);
      }
      attempts.push(n);
      latency.push(performance.now() - t);
      bump(outcomes, a.status === 429 ? `${key(a)} (gave up after ${n})` : key(a));
    }));
    roundWall.push(Math.round(performance.now() - w0) / 1000);
  }
  return {
    uploads: ids.length * rounds,
    incident_acks: incidentAcks,
    outcomes,
    answers,
    attempts: quantiles(attempts),
    latency_ms: quantiles(latency),
    report_wall_s: reportWall,
    round_wall_s: roundWall,
  };
}

// ------------------------------------------------------------------ plot

function svgPlot(scenarios) {
  const w = 760, h = 420, padL = 64, padR = 24, padT = 72, padB = 52;
  const colors = ['#d55e00', '#0072b2'];
  const pts = scenarios.flatMap((s) => s.series.filter(([, r]) => r !== null));
  const xMax = Math.max(1, ...pts.map(([t]) => t));
  const yMax = Math.max(targetMb, ...pts.map(([, r]) => r)) * 1.1;
  const X = (v) => padL + (v / xMax) * (w - padL - padR);
  const Y = (v) => h - padB - (v / yMax) * (h - padT - padB);
  const step = (max, n) => { const raw = max / n; const p = 10 ** Math.floor(Math.log10(raw)); return [1, 2, 5, 10].map((k) => k * p).find((k) => k >= raw); };
  const yStep = step(yMax, 5), xStep = step(xMax, 8);
  const grid = [];
  for (let v = 0; v <= yMax; v += yStep) {
    grid.push(`<line x1="${padL}" y1="${Y(v).toFixed(1)}" x2="${w - padR}" y2="${Y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${padL - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`);
  }
  for (let v = 0; v <= xMax; v += xStep) {
    grid.push(`<text x="${X(v).toFixed(1)}" y="${h - padB + 16}" text-anchor="middle">${v}</text>`);
  }
  const lines = scenarios.map((s, k) => {
    const p = s.series.filter(([, r]) => r !== null).map(([t, r]) => `${X(t).toFixed(1)},${Y(r).toFixed(1)}`).join(' ');
    const end = X(s.wall_s).toFixed(1);
    return `<polyline fill="none" stroke="${colors[k]}" stroke-width="1.5" points="${p}"/>` +
      `<line x1="${end}" y1="${padT}" x2="${end}" y2="${h - padB}" stroke="${colors[k]}" stroke-dasharray="2 3"/>` +
      `<text x="${padL}" y="${42 + 16 * k}" fill="${colors[k]}">${s.name}: baseline ${s.memory.baseline_rss_mb} MB, peak ${s.memory.peak_rss_mb} MB, ${s.wall_s.toFixed(1)} s</text>`;
  }).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${w / 2}" y="22" text-anchor="middle" font-size="14">server RSS (MB) during an evidence flood: ${concurrency} concurrent 1920×1920 uploads × ${rounds} rounds</text>
${grid.join('')}
<line x1="${padL}" y1="${h - padB}" x2="${w - padR}" y2="${h - padB}" stroke="black"/><line x1="${padL}" y1="${padT}" x2="${padL}" y2="${h - padB}" stroke="black"/>
<line x1="${padL}" y1="${Y(targetMb).toFixed(1)}" x2="${w - padR}" y2="${Y(targetMb).toFixed(1)}" stroke="#999" stroke-dasharray="6 4"/>
<text x="${padL + 6}" y="${(Y(targetMb) - 5).toFixed(1)}" fill="#666">target ${targetMb} MB</text>
${lines}
<text x="${(padL + w - padR) / 2}" y="${h - 14}" text-anchor="middle">seconds since the scenario started (dotted: last answer; then 2 s settling), sampled every ${SAMPLE_MS} ms</text>
<text x="16" y="${(padT + h - padB) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(padT + h - padB) / 2})">VmRSS (MB)</text>
</svg>`;
}

// ------------------------------------------------------------------ main

const started = new Date();
const load0 = loadavg();
log(`encoding frames: 1 base + ${concurrency} marked 1920×1920 JPEGs at quality 60 ...`);
const base = gradient();
const plain = encode(base);
checkFrame(plain, 'base frame');
const marked = [];
for (let i = 0; i < concurrency; i++) {
  const f = encode(mark(base, i));
  if (f.length > MAX_BYTES) throw new Error(`frame ${i}: ${f.length} bytes`);
  marked.push(f);
}
checkFrame(marked[0], 'marked frame');
// Per round, the marked frames get a COM segment naming the round: the same
// pixels, other bytes, so no round's frame replays an earlier one.
const frames = [];
for (let r = 0; r < rounds; r++) for (let i = 0; i < concurrency; i++) frames.push(withComment(marked[i], `vigil evidence-flood round ${r}`));
checkFrame(frames.at(-1), 'commented frame');
if (new Set(frames.map(sha)).size !== frames.length) throw new Error('frames are not distinct');
const sizes = frames.map((f) => f.length);
log(`frames: base ${plain.length} B; scenario B ${Math.min(...sizes)}–${Math.max(...sizes)} B, ${frames.length} distinct`);

const server = await VigilServer.start();
const deadline = setTimeout(() => {
  log(`overall deadline of ${OVERALL_DEADLINE_MS / 60_000} min passed; stopping`);
  server.proc.kill('SIGKILL');
  process.exit(2);
}, OVERALL_DEADLINE_MS);
deadline.unref();
const sampler = new RssSampler(server.proc.pid);
let sockets = [];
let output;
try {
  const settings = await server.defaultSettings({ privacy: 'flagged_frames' });
  const idsA = Array.from({ length: concurrency }, (_, i) => `a${i}`);
  const idsB = Array.from({ length: concurrency }, (_, i) => `b${i}`);
  // Separate students per scenario, so A's uploads do not spend B's rate budget.
  const examA = await server.exam({ id: 'flood-a', students: idsA, proctors: ['p0'], settings });
  const examB = await server.exam({ id: 'flood-b', students: idsB, proctors: ['p0'], settings });
  log(`server ${server.url} pid ${server.proc.pid}; exams with ${concurrency} students each, privacy ${examB.exam.settings.privacy}`);
  const afterSetup = procStatus(server.proc.pid);

  log(`A: ${concurrency} concurrent uploads to unknown incidents × ${rounds} ...`);
  const a = await measured(server, sampler, 'A unknown incidents', () => scenarioUnknown(server, examA.tokens.student, idsA, plain));

  for (let i = 0; i < idsB.length; i += 50) {
    sockets.push(...(await Promise.all(idsB.slice(i, i + 50).map((s) => connect(server, '/student', examB.tokens.student[s])))));
  }
  log(`B: ${concurrency} students report an incident, then upload a distinct frame at once, × ${rounds} ...`);
  const b = await measured(server, sampler, 'B real incidents', () => scenarioReal(server, examB.tokens.student, idsB, sockets, frames));

  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const end = procStatus(server.proc.pid);
  let commit = null;
  try { commit = execFileSync('git', ['-C', repoRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* no git */ }
  output = {
    bench: 'evidence-flood',
    started_at: started.toISOString(),
    command: `node ${process.argv.slice(1).map((p) => p.replace(`${repoRoot}/`, '')).join(' ')}`,
    binary: vigilBin.replace(`${repoRoot}/`, ''),
    commit,
    node: process.version,
    machine: { cpus: cpus().length, loadavg_before: load0, loadavg_after: loadavg() },
    params: { concurrency, rounds, max_attempts: maxAttempts, side_px: SIDE, jpeg_quality: 60, sample_ms: SAMPLE_MS, target_mb: targetMb },
    frames: {
      scenario_a_bytes: plain.length,
      scenario_b_bytes: { min: Math.min(...sizes), max: Math.max(...sizes) },
      scenario_b_distinct: frames.length,
      how: `smooth gradient; scenario B: a per-student 128 px pixel block (${concurrency} distinct images), plus a COM segment naming the round`,
    },
    rss_after_setup_mb: Math.round((afterSetup.rss / 2 ** 20) * 10) / 10,
    vm_hwm_end_mb: Math.round((end.hwm / 2 ** 20) * 10) / 10,
    target_met: a.memory.under_target && b.memory.under_target,
    scenarios: [a, b],
    server_metrics: metrics.split('\n').filter((l) => /^vigil_evidence/.test(l)),
  };
} finally {
  for (const s of sockets) s.close();
  await sampler.close();
  await server.stop();
  clearTimeout(deadline);
}

mkdirSync(dirname(outJson), { recursive: true });
writeFileSync(outJson, `${JSON.stringify(output, null, 2)}\n`);
writeFileSync(outSvg, svgPlot(output.scenarios));
log(`wrote ${outJson} and ${outSvg}`);
const brief = output.scenarios.map(({ series, ...s }) => s);
console.log(JSON.stringify({ target_met: output.target_met, machine: output.machine, scenarios: brief }, null, 2));
