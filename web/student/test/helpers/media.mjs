// Scripted camera videos for the app tests, rendered once per scenario into
// the temp dir (the full scenario is ~190 MB of raw y4m).

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeY4m, DEFAULT_SCRIPT } from '../../test-media/make-y4m.mjs';

export function scriptedVideo(script = JSON.parse(fs.readFileSync(DEFAULT_SCRIPT, 'utf8')), { timeScale = 1 } = {}) {
  const key = crypto.createHash('sha256').update(JSON.stringify({ script, timeScale })).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), 'vigil-student-media');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${key}.y4m`);
  const truthFile = path.join(dir, `${key}.truth.json`);
  if (!fs.existsSync(truthFile)) {
    const tmp = path.join(dir, `${key}.${process.pid}.tmp.y4m`);
    const truth = makeY4m(script, tmp, { timeScale });
    fs.renameSync(tmp, file);
    fs.writeFileSync(truthFile, JSON.stringify(truth));
    fs.rmSync(tmp.replace(/\.y4m$/, '.truth.json'), { force: true });
  }
  return { file, truth: JSON.parse(fs.readFileSync(truthFile, 'utf8')) };
}

/** A short looping video of one frontal face (page-event tests). */
export function oneFaceVideo() {
  const script = JSON.parse(fs.readFileSync(DEFAULT_SCRIPT, 'utf8'));
  return scriptedVideo({ ...script, segments: [script.segments[0]] }, { timeScale: 0.4 });
}
