#!/usr/bin/env node
// Test audio for the voice detector, made here rather than shipped: a loop of
// quiet room noise and then a voice reading a sentence, as a 48 kHz mono
// 16-bit WAV that Chromium's fake microphone plays
// (--use-file-for-fake-audio-capture). The voice is espeak-ng's and the
// noise sox's (Debian packages; scripts/test installs them). Returns where
// each part lies in the loop, as the scripted video's truth does.
//
// Usage alone: node test-media/make-speech.mjs [--out FILE.wav]

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SENTENCES = [
  'The answer to question four is the derivative of x squared, which is two x. Write that down now.',
];

/** Seconds of room noise before the voice. */
export const QUIET_S = 6;

function seconds(file) {
  return Number(execFileSync('soxi', ['-D', file]).toString().trim());
}

/** {file, truth: {loopMs, segments: [{name: 'quiet'|'speech', fromMs, toMs}]}} */
export function speechAudio({ dir = path.join(os.tmpdir(), 'vigil-student-media') } = {}) {
  const key = crypto.createHash('sha256').update(JSON.stringify({ SENTENCES, QUIET_S, v: 1 })).digest('hex').slice(0, 12);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `speech-${key}.wav`);
  const truthFile = file.replace(/\.wav$/, '.truth.json');
  if (!fs.existsSync(truthFile)) {
    const tmp = fs.mkdtempSync(path.join(dir, 'speech-'));
    try {
      const voice = path.join(tmp, 'voice.wav');
      execFileSync('espeak-ng', ['-s', '150', '-w', voice, SENTENCES.join(' ')]);
      const voice48 = path.join(tmp, 'voice48.wav');
      execFileSync('sox', [voice, '-r', '48000', '-c', '1', '-b', '16', voice48, 'gain', '-n', '-6']);
      const quiet = path.join(tmp, 'quiet.wav');
      // A quiet room: faint pink noise, as a real microphone never gives digital silence.
      execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', quiet, 'synth', String(QUIET_S), 'pinknoise', 'vol', '0.01']);
      const out = path.join(tmp, 'out.wav');
      execFileSync('sox', [quiet, voice48, out]);
      const speechS = seconds(voice48);
      fs.renameSync(out, file);
      const truth = {
        loopMs: Math.round((QUIET_S + speechS) * 1000),
        segments: [
          { name: 'quiet', fromMs: 0, toMs: QUIET_S * 1000 },
          { name: 'speech', fromMs: QUIET_S * 1000, toMs: Math.round((QUIET_S + speechS) * 1000) },
        ],
      };
      fs.writeFileSync(truthFile, JSON.stringify(truth));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { file, truth: JSON.parse(fs.readFileSync(truthFile, 'utf8')) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { file, truth } = speechAudio();
  const i = process.argv.indexOf('--out');
  if (i > 0 && process.argv[i + 1]) fs.copyFileSync(file, process.argv[i + 1]);
  console.log(`make-speech: ${i > 0 ? process.argv[i + 1] : file}: ${JSON.stringify(truth)}`);
}
