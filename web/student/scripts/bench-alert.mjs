#!/usr/bin/env node
// Alert time, stage by stage: from the moment a behaviour starts in front of
// the camera to the moment a proctor's socket hears of it. The built app
// (test build) runs in headless Chromium with the scripted camera video
// against the real vigil server; a proctor connects over Socket.IO like the
// dashboard does. For each no_face, multiple_faces and looking_away
// incident:
//
//   seen      behaviour starts in the video → the first analysed frame that
//             shows it (camera pipeline, waiting for the next inference)
//   debounce  that frame → the page decides (the exam's threshold)
//   delivery  the page decides → the proctor's socket receives `incident`
//             (outbox, Socket.IO, validation, durable commit, fan-out);
//             `to_ack` is the part up to the student's ack
//   total     behaviour start → proctor
//
// `seen` comes from the frame itself: the test build reads the scripted
// video's frame number from the strip along its bottom, so the first frame
// that showed the behaviour is `i` frames into its segment and was captured
// i/15 s after the behaviour began (frames are read as they arrive; what
// this leaves out is the camera pipeline's own latency before the page gets
// a frame). Incidents whose first frame has no readable number fall back to
// placing the video's loop on the page clock from when the camera started,
// which drifts by tens of ms per loop. Writes bench/alert-time.json and .svg.
//
//   npm run bench:alert [-- --loops 3 --out bench/alert-time.json]
//
// Numbers, not assertions: nothing here fails on a slow machine.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    loops: { type: 'string', default: '3' },
    out: { type: 'string', default: path.join(root, 'bench', 'alert-time.json') },
  },
});

execFileSync(process.execPath, [path.join(root, 'scripts', 'ensure-models.mjs')], { stdio: 'inherit' });
execFileSync(process.execPath, [path.join(root, 'scripts', 'ensure-built.mjs')], { stdio: 'inherit' });
const { StudentTestServer, requireBuilt } = await import('../test/helpers/vigil-server.mjs');
const { launchWithCamera, joinAndStart, metrics, examSettings } = await import('../test/helpers/student-page.mjs');
const { scriptedVideo } = await import('../test/helpers/media.mjs');
const { CHROMIUM_PATH } = await import('../test/helpers/chromium.mjs');

/** The segment each vision kind is raised in. */
const SEGMENTS = { no_face: ['no_face'], multiple_faces: ['two_faces'], looking_away: ['turned_right', 'turned_left'] };

function stats(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const r = (v) => Math.round(v);
  return { n: s.length, median: r(q(0.5)), p95: r(q(0.95)), max: r(s[s.length - 1]), min: r(s[0]) };
}

requireBuilt();
const { file, truth } = scriptedVideo();
const loopMs = (truth.frames / truth.fps) * 1000;
const segStart = Object.fromEntries(truth.segments.map((s) => [s.name, (s.startFrame / truth.fps) * 1000]));
const server = await StudentTestServer.start();
const heard = new Map();
let result;
try {
  // Focus and screens are not what this measures (headless focus is arbitrary).
  const settings = await examSettings(server, { disabled_detectors: ['window_blur', 'second_screen'] });
  const { tokens } = await server.exam({ id: 'alert', students: ['s1'], proctors: ['p1'], settings });
  const proctor = io(`${server.url}/proctor`, { auth: { token: tokens.proctor.p1 }, transports: ['websocket'], reconnection: false });
  proctor.on('incident', (i) => {
    if (!heard.has(i.id)) heard.set(i.id, Date.now());
  });
  await new Promise((resolve, reject) => {
    proctor.once('connect', resolve);
    proctor.once('connect_error', reject);
  });
  const browser = await launchWithCamera(file);
  try {
    const page = await browser.context.newPage();
    const loadBefore = os.loadavg()[0];
    // The synthetic turned faces reach about ±19°: the app tests' limit.
    await joinAndStart(page, server, tokens.student.s1, { query: '?yaw_limit=12' });
    const { cameraStartedAt, offset, thresholds } = await page.evaluate(() => ({
      cameraStartedAt: window.__vigil.cameraStartedAt(),
      offset: window.__vigil.clockOffsetMs(),
      thresholds: window.__vigil.thresholds(),
    }));
    await new Promise((r) => setTimeout(r, Number(args.loops) * loopMs + 3000));
    await page.waitForFunction(() => window.__vigil.pending() === 0, null, { timeout: 15_000 }).catch(() => {});
    const deadline = Date.now() + 5000;
    const m = await metrics(page);
    while (m.raised.some((r) => !heard.has(r.id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    proctor.close();

    /** Position in the video loop (ms) of a page-clock time (server ms). */
    const videoTime = (at) => (((at - offset - cameraStartedAt) % loopMs) + loopMs) % loopMs;
    const ackMs = new Map(m.raiseToAck.map((a) => [a.id, a.ms]));
    const indexAt = new Map(m.frames.filter((f) => f.frameIndex !== undefined).map((f) => [Math.round(f.at), f.frameIndex]));
    const segments = truth.segments;
    const rows = [];
    for (const r of m.raised) {
      const names = SEGMENTS[r.kind];
      if (!names) continue;
      const index = indexAt.get(Math.round(r.started_at - offset));
      const seg = index !== undefined ? segments.find((x) => names.includes(x.name) && index % truth.frames >= x.startFrame && index % truth.frames < x.endFrame) : undefined;
      const tv = videoTime(r.started_at);
      // From the frame's own number; else the segment whose start is nearest before the first frame that showed it.
      const lag = seg
        ? (((index % truth.frames) - seg.startFrame) * 1000) / truth.fps
        : Math.min(...names.map((n) => { const d = tv - segStart[n]; return d < -500 ? d + loopMs : d; }));
      const behaviourAtWall = r.started_at - offset - lag;
      const raisedWall = r.raised_at - offset;
      const proctorAt = heard.get(r.id);
      rows.push({
        kind: r.kind,
        seen_from: seg ? 'frame number' : 'loop on the page clock',
        seen_ms: lag,
        debounce_ms: r.raised_at - r.started_at,
        to_ack_ms: ackMs.get(r.id) ?? null,
        delivery_ms: proctorAt !== undefined ? proctorAt - raisedWall : null,
        total_ms: proctorAt !== undefined ? proctorAt - behaviourAtWall : null,
      });
    }
    const byKind = {};
    for (const kind of Object.keys(SEGMENTS)) {
      const ks = rows.filter((x) => x.kind === kind);
      const pick = (k) => stats(ks.map((x) => x[k]).filter((v) => v !== null));
      byKind[kind] = { seen_ms: pick('seen_ms'), debounce_ms: pick('debounce_ms'), delivery_ms: pick('delivery_ms'), to_ack_ms: pick('to_ack_ms'), total_ms: pick('total_ms') };
    }
    result = {
      generated_at: new Date().toISOString(),
      command: 'cd web/student && npm run bench:alert',
      machine: {
        cpus: os.cpus().length,
        cpu_model: os.cpus()[0]?.model,
        chromium: execFileSync(CHROMIUM_PATH, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(),
        load_average_1m: { before: Math.round(loadBefore * 100) / 100, after: Math.round(os.loadavg()[0] * 100) / 100 },
        note: 'headless Chromium (software GL), the server and the proctor client on the same machine',
      },
      budget_ms: [2000, 3000],
      thresholds_ms: { no_face: thresholds.debounce.no_face, multiple_faces: thresholds.debounce.multiple_faces, looking_away: thresholds.debounce.looking_away },
      video: { fps: truth.fps, loop_ms: loopMs, loops: Number(args.loops) },
      by_kind: byKind,
      incidents: rows,
      not_heard_by_proctor: rows.filter((x) => x.total_ms === null).length,
    };
  } finally {
    await browser.close();
  }
} finally {
  await server.stop();
}

function svg(r) {
  const kinds = Object.keys(r.by_kind).filter((k) => r.by_kind[k].total_ms);
  const w = 720, rowH = 54, pad = 150, top = 46, h = top + kinds.length * rowH + 62;
  const maxMs = Math.max(3500, ...kinds.map((k) => r.by_kind[k].total_ms.p95)) * 1.05;
  const X = (ms) => pad + (ms / maxMs) * (w - pad - 30);
  const stages = [['seen_ms', '#999999', 'seen'], ['debounce_ms', '#0072b2', 'debounce'], ['delivery_ms', '#d55e00', 'delivery']];
  let body = '';
  kinds.forEach((k, i) => {
    const y = top + i * rowH;
    let at = 0;
    body += `<text x="${pad - 8}" y="${y + 20}" text-anchor="end">${k}</text>`;
    for (const [key, color] of stages) {
      const v = r.by_kind[k][key]?.median ?? 0;
      body += `<rect x="${X(at).toFixed(1)}" y="${y + 6}" width="${(X(at + v) - X(at)).toFixed(1)}" height="20" fill="${color}"/>`;
      at += v;
    }
    const t = r.by_kind[k].total_ms;
    body += `<line x1="${X(t.median)}" y1="${y + 30}" x2="${X(t.p95)}" y2="${y + 30}" stroke="black"/><line x1="${X(t.p95)}" y1="${y + 26}" x2="${X(t.p95)}" y2="${y + 34}" stroke="black"/>`;
    body += `<text x="${X(t.median)}" y="${y + 46}" font-size="11">total median ${t.median} ms, p95 ${t.p95} ms (n=${t.n})</text>`;
  });
  const budget = r.budget_ms.map((ms) => `<line x1="${X(ms)}" y1="${top - 6}" x2="${X(ms)}" y2="${h - 40}" stroke="#2a2" stroke-dasharray="4 3"/><text x="${X(ms)}" y="${top - 10}" text-anchor="middle" fill="#2a2" font-size="11">${ms / 1000} s</text>`).join('');
  const axis = [0, 1000, 2000, 3000].filter((ms) => ms < maxMs).map((ms) => `<text x="${X(ms)}" y="${h - 24}" text-anchor="middle" font-size="11">${ms}</text>`).join('');
  const legend = stages.map(([, color, name], i) => `<rect x="${pad + i * 110}" y="${h - 14}" width="10" height="10" fill="${color}"/><text x="${pad + 14 + i * 110}" y="${h - 5}" font-size="11">${name}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${w / 2}" y="18" text-anchor="middle" font-size="14">behaviour → proctor, by stage (median; whisker: total p95), ms</text>
${budget}${body}${axis}${legend}
</svg>`;
}

fs.mkdirSync(path.dirname(args.out), { recursive: true });
fs.writeFileSync(args.out, JSON.stringify(result, null, 2) + '\n');
fs.writeFileSync(args.out.replace(/\.json$/, '.svg'), svg(result));
console.log(JSON.stringify(result.by_kind, null, 1));
console.log(`wrote ${args.out} and .svg`);
