// The built student app in headless Chromium against the real vigil server,
// in an exam with the microphone on: Chromium's fake microphone plays a loop
// of quiet room noise and a voice reading a sentence (test-media/make-speech.mjs).
// The voice worker (Silero VAD in onnxruntime-web) hears the voice, and the
// page raises voice_detected at the server inside the spoken parts only; the
// room noise raises nothing. The exam is at the recording tier, so each
// voice_detected carries a sound clip as its evidence (a WAV the proctor can
// play). The consent and system check screens say that the microphone is
// used. An exam without the microphone never asks for it.

import test from 'node:test';
import assert from 'node:assert/strict';

import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchChromium } from './helpers/chromium.mjs';
import { joinAndStart, settled, examSettings, passedSystemCheck } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';
import { speechAudio } from '../test-media/make-speech.mjs';

function launchWithCameraAndMicrophone(y4m, wav) {
  return launchChromium({
    extraArgs: [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`,
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** A WAV file's format and samples (the 44-byte header the page writes). */
function readWav(buf) {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const text = (at, n) => buf.subarray(at, at + n).toString('latin1');
  assert.equal(text(0, 4) + text(8, 8) + text(36, 4), 'RIFFWAVEfmt data', 'a plain WAV header');
  const samples = new Int16Array(v.getUint32(40, true) / 2);
  for (let i = 0; i < samples.length; i++) samples[i] = v.getInt16(44 + 2 * i, true);
  return { format: v.getUint16(20, true), channels: v.getUint16(22, true), rate: v.getUint32(24, true), bits: v.getUint16(34, true), samples };
}

test('a voice on the microphone → voice_detected at the server, only while it speaks, with a sound clip', { timeout: 240_000 }, async (t) => {
  requireBuilt();
  const { file: video } = oneFaceVideo();
  const { file: wav, truth } = speechAudio();
  const speech = truth.segments.find((s) => s.name === 'speech');
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { microphone: true, privacy: 'recording', disabled_detectors: ['window_blur', 'second_screen'] });
  const { tokens } = await server.exam({ id: 'voice', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCameraAndMicrophone(video, wav);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = await joinAndStart(page, server, tokens.student.s1);
  const { micStartedAt, offset } = await page.evaluate(() => ({ micStartedAt: window.__vigil.microphoneStartedAt(), offset: window.__vigil.clockOffsetMs() }));
  assert.ok(micStartedAt > 0, 'the microphone started');

  // Two spoken parts under monitoring: wait for the second voice_detected to end.
  await page.waitForFunction(() => window.__vigil.metrics.ended.filter((e) => e.kind === 'voice_detected').length >= 2, null, { timeout: 3 * truth.loopMs + 30_000 }).catch(async (e) => {
    const state = await page.evaluate(() => ({ voice: window.__vigil.voice(), results: window.__vigil.metrics.voice.slice(-20), raised: window.__vigil.metrics.raised }));
    t.diagnostic(JSON.stringify(state));
    throw e;
  });
  await page.waitForFunction(() => window.__vigil.pending() === 0, null, { timeout: 15_000 });
  const { m, stored } = await settled(page, server, 'voice', 's1', tokens.proctor.p1);

  /** Position in the audio loop (ms) of a server timestamp. */
  const audioTime = (at) => (((at - offset - micStartedAt) % truth.loopMs) + truth.loopMs) % truth.loopMs;
  const inSpeech = (tv, slack) => [tv, tv + truth.loopMs, tv - truth.loopMs].some((v) => v >= speech.fromMs - slack && v <= speech.toMs + slack);
  const voices = stored.filter((r) => r.kind === 'voice_detected');
  for (const r of voices) t.diagnostic(`voice_detected: audio ${(audioTime(r.started_at) / 1000).toFixed(1)}–${r.ended_at ? (audioTime(r.ended_at) / 1000).toFixed(1) : '…'} s (speech ${speech.fromMs / 1000}–${speech.toMs / 1000} s), confidence ${r.confidence}`);
  const quiet = m.voice.filter((v) => !inSpeech(audioTime(v.at + offset), 600));
  const spoken = m.voice.filter((v) => inSpeech(audioTime(v.at + offset), -600));
  t.diagnostic(`voice worker: ${m.voice.length} results; speech ≥ 0.5 in ${spoken.filter((v) => v.speech >= 0.5).length}/${spoken.length} spoken and ${quiet.filter((v) => v.speech >= 0.5).length}/${quiet.length} quiet results`);
  assert.ok(voices.length >= 2, `expected a voice_detected per spoken part, got ${voices.length}`);
  for (const r of voices) {
    assert.ok(inSpeech(audioTime(r.started_at), 1000), `voice_detected starts at audio ${audioTime(r.started_at)} ms, outside the speech`);
    assert.ok(r.ended_at && inSpeech(audioTime(r.ended_at), 2500), `voice_detected ends at audio ${r.ended_at && audioTime(r.ended_at)} ms`);
  }
  assert.ok(quiet.length > 0 && quiet.every((v) => v.speech < 0.5), 'the quiet room was never taken for a voice');
  assert.ok(spoken.filter((v) => v.speech >= 0.5).length > spoken.length / 2, 'most of the spoken part was heard as speech');
  // Each voice's evidence is a sound clip: the 2 s before it was raised and
  // the 3 s after, 16 kHz PCM, which the proctor gets back as audio/wav.
  const clips = m.evidence.filter((e) => voices.some((v) => v.id === e.id));
  assert.ok(clips.length >= 2 && clips.every((e) => e.media === 'wav' && e.outcome === 'stored'), `clips: ${JSON.stringify(clips)}`);
  const res = await fetch(`${server.url}/api/v1/exams/voice/evidence/${voices[0].evidence_sha256}`, { headers: { authorization: `Bearer ${tokens.proctor.p1}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'audio/wav');
  const clip = readWav(Buffer.from(await res.arrayBuffer()));
  assert.deepEqual([clip.format, clip.channels, clip.rate, clip.bits], [1, 1, 16_000, 16]);
  const seconds = clip.samples.length / clip.rate;
  assert.ok(seconds >= 4.9 && seconds <= 5.2, `the clip lasts ${seconds} s`);
  // The voice is in it: its loudest 100 ms are far above the room noise's
  // level (pink noise at volume 0.01: an RMS of at most about 330).
  const rms = (from, to) => Math.sqrt(clip.samples.subarray(from, to).reduce((s, x) => s + x * x, 0) / (to - from));
  const windows = Array.from({ length: Math.floor(clip.samples.length / 1600) }, (_, i) => rms(i * 1600, (i + 1) * 1600)).sort((a, b) => a - b);
  t.diagnostic(`clip: ${seconds.toFixed(2)} s, 100 ms RMS quietest ${windows[0].toFixed(0)}, loudest ${windows.at(-1).toFixed(0)}`);
  assert.ok(windows.at(-1) > 3000, 'the clip holds the voice, not only room noise');
  assert.deepEqual(errors, []);
});

test('the consent screen says whether the microphone is used, and an exam without it never asks', { timeout: 120_000 }, async (t) => {
  requireBuilt();
  const { file: video } = oneFaceVideo();
  const { file: wav } = speechAudio();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: ['window_blur', 'second_screen'] });
  const { tokens } = await server.exam({ id: 'quiet', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCameraAndMicrophone(video, wav);
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/student/#token=${tokens.student.s1}`);
  await passedSystemCheck(page);
  await page.getByText('not needed for this exam').waitFor();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('This exam does not use your microphone.').waitFor();
  assert.equal(await page.evaluate(() => window.__vigil.microphoneStartedAt()), 0, 'the microphone was never started');
});
