// Fan-out benchmark: N students send incidents over Socket.IO at a steady
// total rate; P proctor sockets receive every score. Measures, per step:
// ack latency (incident sent → ack), delivery latency (incident sent → score
// at each proctor), the server's own committed → emitted histogram, and
// server CPU. Writes JSON and an SVG chart. Loopback only; bounded in time.
//
//   node bench/fanout.mjs [--steps 100,500,1000] [--proctors 2] [--seconds 15] [--out ../../bench-out]

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { VigilServer, connect, repoRoot, request, sleep } from '../lib/server.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const steps = arg('steps', '100,500,1000').split(',').map(Number);
const proctorCount = Number(arg('proctors', '2'));
const seconds = Number(arg('seconds', '15'));
// The reference system's load: 80 score updates/s at 200 students, scaled with N.
const perStudentRate = Number(arg('rate', String(80 / 200)));
const outDir = resolve(arg('out', join(repoRoot, 'bench-out')));

function quantiles(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null);
  return { n: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s.at(-1) ?? null };
}

function cpuSeconds(pid) {
  // Fields 14 and 15 of /proc/<pid>/stat: user and system time in clock ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssBytes(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : null;
}

/** Quantiles from a Prometheus histogram's cumulative buckets (upper bounds). */
function histogramQuantiles(metricsText, name, edge) {
  const buckets = [];
  const re = new RegExp(`^${name}_bucket\\{edge="${edge}",le="([^"]+)"\\} (\\d+)`, 'gm');
  for (const m of metricsText.matchAll(re)) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  const total = buckets.at(-1)?.[1] ?? 0;
  const q = (p) => buckets.find(([, c]) => c >= p * total)?.[0] ?? null;
  return { n: total, p50_le_s: q(0.5), p99_le_s: q(0.99) };
}

async function runStep(students) {
  const server = await VigilServer.start();
  const ids = Array.from({ length: students }, (_, i) => `s${i}`);
  const proctors = Array.from({ length: proctorCount }, (_, i) => `p${i}`);
  const { tokens } = await server.exam({ id: 'bench', students: ids, proctors });
  const proctorSockets = await Promise.all(proctors.map((p) => connect(server, '/proctor', tokens.proctor[p])));
  const studentSockets = [];
  for (let i = 0; i < ids.length; i += 50) {
    studentSockets.push(...(await Promise.all(ids.slice(i, i + 50).map((s) => connect(server, '/student', tokens.student[s])))));
  }

  // sentAt[student][seq] = performance.now() when the incident left.
  const sentAt = ids.map(() => new Map());
  const delivery = [];
  const ack = [];
  let scoresReceived = 0;
  proctorSockets.forEach((sock) => {
    sock.on('score', (u) => {
      const t = performance.now();
      scoresReceived += 1;
      const i = Number(u.student_id.slice(1));
      const sent = sentAt[i].get(u.seq);
      if (sent !== undefined) delivery.push(t - sent);
    });
  });

  const seqs = ids.map(() => 0);
  const cpu0 = cpuSeconds(server.proc.pid);
  const client0 = process.cpuUsage();
  const wall0 = performance.now();
  const total = Math.round(students * perStudentRate * seconds);
  const interval = 1000 / (students * perStudentRate);
  let sent = 0;
  let acked = 0;
  const errors = {};
  const pending = [];
  for (let n = 0; n < total; n++) {
    const due = wall0 + n * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const i = n % students;
    seqs[i] += 1;
    const report = { id: `b-${i}-${seqs[i]}`, seq: seqs[i], kind: 'looking_away', started_at: Date.now() - 5 };
    const t0 = performance.now();
    sentAt[i].set(seqs[i], t0);
    sent += 1;
    pending.push(request(studentSockets[i], 'incident', report, 30_000).then((a) => {
      ack.push(performance.now() - t0);
      if (a.status === 'accepted') acked += 1;
      else errors[a.reason] = (errors[a.reason] ?? 0) + 1;
    }, (e) => { errors[e.message] = (errors[e.message] ?? 0) + 1; }));
  }
  await Promise.all(pending);
  await sleep(500); // trailing coalesced updates
  const wall = (performance.now() - wall0) / 1000;
  const serverCpu = cpuSeconds(server.proc.pid) - cpu0;
  const clientCpu = process.cpuUsage(client0);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const result = {
    students,
    proctors: proctorCount,
    duration_s: wall,
    incidents_sent: sent,
    incidents_acked: acked,
    scores_received: scoresReceived,
    errors,
    ack_latency_ms: quantiles(ack),
    delivery_latency_ms: quantiles(delivery),
    server_fanout_latency: histogramQuantiles(metrics, 'vigil_fanout_latency_seconds', 'leading'),
    server_cpu_cores: serverCpu / wall,
    server_cpu_per_student: serverCpu / wall / students,
    server_rss_bytes: rssBytes(server.proc.pid),
    client_cpu_cores: (clientCpu.user + clientCpu.system) / 1e6 / wall,
  };
  for (const s of [...studentSockets, ...proctorSockets]) s.close();
  await server.stop();
  return result;
}

function svgChart(results) {
  const w = 640, h = 360, pad = 56;
  const xs = results.map((r) => r.students);
  const ys = results.flatMap((r) => [r.delivery_latency_ms.p99, r.delivery_latency_ms.p50]);
  const xMax = Math.max(...xs), yMax = Math.max(1, ...ys) * 1.15;
  const X = (v) => pad + (v / xMax) * (w - 2 * pad);
  const Y = (v) => h - pad - (v / yMax) * (h - 2 * pad);
  const line = (key, color) => {
    const pts = results.map((r) => `${X(r.students).toFixed(1)},${Y(r.delivery_latency_ms[key]).toFixed(1)}`);
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>` +
      results.map((r) => `<circle cx="${X(r.students)}" cy="${Y(r.delivery_latency_ms[key])}" r="3" fill="${color}"/>`).join('');
  };
  const ticks = results.map((r) => `<text x="${X(r.students)}" y="${h - pad + 18}" text-anchor="middle">${r.students}</text>`).join('');
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${pad - 8}" y="${Y(f * yMax) + 4}" text-anchor="end">${(f * yMax).toFixed(1)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">incident sent → score at proctor socket (ms), ${proctorCount} proctors</text>
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="black"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="black"/>
${ticks}${yTicks}
<text x="${w / 2}" y="${h - 12}" text-anchor="middle">students</text>
${line('p99', '#d55e00')}${line('p50', '#0072b2')}
<text x="${w - pad}" y="${pad}" text-anchor="end" fill="#d55e00">p99</text><text x="${w - pad}" y="${pad + 16}" text-anchor="end" fill="#0072b2">p50</text>
</svg>`;
}

const results = [];
for (const n of steps) {
  process.stderr.write(`step: ${n} students ... `);
  const r = await runStep(n);
  process.stderr.write(`delivery p99 ${r.delivery_latency_ms.p99?.toFixed(2)} ms, server ${r.server_cpu_cores.toFixed(3)} cores\n`);
  results.push(r);
}
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'fanout.json'), JSON.stringify(results, null, 2));
writeFileSync(join(outDir, 'fanout.svg'), svgChart(results));
console.log(JSON.stringify(results, null, 2));
