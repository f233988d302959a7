#!/usr/bin/env node
// Student-client benchmark: the built app in headless Chromium (scripted
// camera video) against the real vigil server, once per model. Records
// per-frame inference time in the worker (median/p95), inferences per
// second, the phone detector's inferences per second and time (its own
// worker), with --microphone the voice detector's results per second (the
// fake microphone plays test-media/make-speech.mjs's loop), main-thread long
// tasks, and the time from a debounce condition being met in the page to the
// server's ack. Writes bench/student-bench.json.
//
//   npm run bench [-- --seconds 30 --microphone --out bench/student-bench.json]
//
// Numbers, not assertions: nothing here fails on a slow machine.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    out: { type: 'string', default: path.join(root, 'bench', 'student-bench.json') },
    models: { type: 'string', default: 'landmarker,detector' },
    microphone: { type: 'boolean', default: false },
  },
});

execFileSync(process.execPath, [path.join(root, 'scripts', 'ensure-models.mjs')], { stdio: 'inherit' });
execFileSync(process.execPath, [path.join(root, 'scripts', 'ensure-built.mjs')], { stdio: 'inherit' });
const { StudentTestServer, requireBuilt } = await import('../test/helpers/vigil-server.mjs');
const { launchWithCamera, joinAndStart, metrics, examSettings } = await import('../test/helpers/student-page.mjs');
const { launchChromium } = await import('../test/helpers/chromium.mjs');
const { speechAudio } = await import('../test-media/make-speech.mjs');
const { scriptedVideo } = await import('../test/helpers/media.mjs');
const { CHROMIUM_PATH } = await import('../test/helpers/chromium.mjs');

function stats(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const r = (v) => Math.round(v * 10) / 10;
  return { n: s.length, median: r(q(0.5)), p95: r(q(0.95)), max: r(s[s.length - 1]), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

requireBuilt();
const { file, truth } = scriptedVideo();
const seconds = Number(args.seconds);
const server = await StudentTestServer.start();
const results = {
  generated_at: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    chromium: execFileSync(CHROMIUM_PATH, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(),
    node: process.version,
    note: 'headless Chromium, software GL (SwiftShader), CPU delegate; server and browser on the same machine. Other work on the machine shows in load_average_1m: numbers from a loaded machine are pessimistic.',
  },
  video: { file: path.basename(file), fps: truth.fps, frames: truth.frames, segments: truth.segments.map((s) => s.name) },
  seconds_measured: seconds,
  runs: {},
};

try {
  for (const model of args.models.split(',')) {
    const settings = await examSettings(server, { disabled_detectors: ['window_blur', 'second_screen'], microphone: args.microphone });
    const exam = `bench-${model}`;
    const { tokens } = await server.exam({ id: exam, students: ['s1'], proctors: ['p1'], settings });
    const browser = args.microphone
      ? await launchChromium({
          extraArgs: [
            '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${file}`,
            `--use-file-for-fake-audio-capture=${speechAudio().file}`, '--autoplay-policy=no-user-gesture-required',
          ],
        })
      : await launchWithCamera(file);
    try {
      const page = await browser.context.newPage();
      const t0 = Date.now();
      const loadBefore = os.loadavg()[0];
      await joinAndStart(page, server, tokens.student.s1, { query: `?model=${model}&yaw_limit=12` });
      const loadMs = Date.now() - t0;
      const start = await page.evaluate(() => ({ perf: performance.now(), wall: Date.now() }));
      await new Promise((r) => setTimeout(r, seconds * 1000));
      await page.waitForFunction(() => window.__vigil.pending() === 0, null, { timeout: 15_000 }).catch(() => {});
      const end = await page.evaluate(() => ({ perf: performance.now(), wall: Date.now() }));
      const m = await metrics(page);
      const status = await page.evaluate(() => {
        const v = window.__vigil.vision();
        return { model: v.model, webgl: v.webgl, restarts: v.restarts };
      });
      const frames = m.frames.filter((f) => f.at >= start.wall && f.at <= end.wall);
      const longInExam = m.longTasks.filter((l) => l.start >= start.perf && l.start <= end.perf);
      const stored = await server.incidents(exam, 's1', tokens.proctor.p1);
      results.runs[model] = {
        load_average_1m: { before: Math.round(loadBefore * 100) / 100, after: Math.round(os.loadavg()[0] * 100) / 100, cores: os.cpus().length },
        model_in_use: status.model,
        webgl: status.webgl,
        worker_restarts: status.restarts,
        join_to_exam_ms: loadMs,
        inference_ms: stats(frames.map((f) => f.inferMs)),
        inferences_per_s: Math.round((frames.length / ((end.wall - start.wall) / 1000)) * 10) / 10,
        object_inferences_per_s: Math.round((m.objects.filter((o) => o.at >= start.wall && o.at <= end.wall).length / ((end.wall - start.wall) / 1000)) * 10) / 10,
        object_inference_ms: stats(m.objects.filter((o) => o.at >= start.wall && o.at <= end.wall).map((o) => o.inferMs)),
        voice_results_per_s: args.microphone ? Math.round((m.voice.filter((v) => v.at >= start.wall && v.at <= end.wall).length / ((end.wall - start.wall) / 1000)) * 10) / 10 : null,
        long_tasks_during_exam: { count: longInExam.length, max_ms: longInExam.length ? Math.max(...longInExam.map((l) => l.duration)) : 0 },
        long_tasks_whole_page: { count: m.longTasks.length, max_ms: m.longTasks.length ? Math.round(Math.max(...m.longTasks.map((l) => l.duration))) : 0, tasks: m.longTasks.map((l) => ({ at_ms: Math.round(l.start), ms: Math.round(l.duration), screen: l.phase })) },
        // Script time inside long animation frames: what of a long frame was our code.
        longest_script_in_a_long_frame_ms: (() => {
          const all = m.longFrames.flatMap((f) => f.scripts.map((x) => ({ ms: Math.round(x.ms), what: x.what, screen: f.phase, during_exam: f.start >= start.perf && f.start <= end.perf })));
          const top = all.sort((a, b) => b.ms - a.ms)[0] ?? null;
          const exam = all.filter((x) => x.during_exam).sort((a, b) => b.ms - a.ms)[0] ?? null;
          return { whole_page: top, during_exam: exam, long_frames: m.longFrames.length };
        })(),
        debounce_met_to_server_ack_ms: stats(m.raiseToAck.map((a) => a.ms)),
        incidents: { raised: m.raised.map((r) => r.kind), stored: stored.length, with_evidence: stored.filter((r) => r.evidence_sha256).length },
        evidence_bytes: stats(m.evidence.map((e) => e.bytes)),
      };
      console.log(model, JSON.stringify(results.runs[model]));
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.stop();
}
fs.mkdirSync(path.dirname(args.out), { recursive: true });
fs.writeFileSync(args.out, JSON.stringify(results, null, 2) + '\n');
console.log(`wrote ${args.out}`);
