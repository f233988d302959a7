// Sound clips as evidence of a voice, pure: the voice worker keeps the last
// CLIP_BEFORE_MS of 16 kHz audio (only in memory, as the detector itself
// does), and when the page asks for a clip it adds the next CLIP_AFTER_MS
// and hands back a WAV file. Only exams at the `recording` privacy tier with
// the microphone on ask for one; the server refuses clips anywhere else.
//
// The WAV header is written here: it is 44 bytes of a fixed layout, and an
// encoder library would be a dependency of the voice worker for that alone.

/** Audio kept from before the request: the incident is raised about 1 s after the voice began. */
export const CLIP_BEFORE_MS = 2_000;
/** Audio added after the request. */
export const CLIP_AFTER_MS = 3_000;

export interface Clip {
  id: string;
  wav: Uint8Array;
  /** When the clip's first sample was heard (ms since epoch, page clock). */
  startedAt: number;
  durationMs: number;
}

interface Pending {
  id: string;
  frames: Float32Array[];
  /** Samples still wanted after the request. */
  left: number;
  startedAt: number;
}

/** At most this many clips waiting for their audio at once (a burst of incidents asks for few). */
const MAX_PENDING = 4;

export class ClipRecorder {
  private history: Float32Array[] = [];
  private historySamples = 0;
  private readonly keep: number;
  private readonly after: number;
  private pending: Pending[] = [];
  /** When the newest frame pushed ended (page clock). */
  private lastEnd = 0;

  constructor(
    private readonly rate: number,
    beforeMs = CLIP_BEFORE_MS,
    afterMs = CLIP_AFTER_MS,
  ) {
    this.keep = Math.round((rate * beforeMs) / 1000);
    this.after = Math.round((rate * afterMs) / 1000);
  }

  /** Asks for a clip; it comes out of a later `push` once its audio has been heard. False if too many wait. */
  request(id: string): boolean {
    if (this.pending.length >= MAX_PENDING || this.pending.some((p) => p.id === id)) return false;
    const frames = [...this.history];
    const startedAt = this.lastEnd - (this.historySamples * 1000) / this.rate;
    this.pending.push({ id, frames, left: this.after, startedAt });
    return true;
  }

  /** Adds a frame of audio that ended at `endAt`; returns the clips it completed. */
  push(frame: Float32Array, endAt: number): Clip[] {
    this.lastEnd = endAt;
    this.history.push(frame);
    this.historySamples += frame.length;
    while (this.history.length > 1 && this.historySamples - this.history[0]!.length >= this.keep) {
      this.historySamples -= this.history.shift()!.length;
    }
    const done: Clip[] = [];
    for (const p of this.pending) {
      if (p.left <= 0) continue;
      p.frames.push(frame);
      p.left -= frame.length;
      if (p.left <= 0) {
        const samples = concatSamples(p.frames);
        done.push({ id: p.id, wav: encodeWav(samples, this.rate), startedAt: p.startedAt, durationMs: (samples.length * 1000) / this.rate });
      }
    }
    this.pending = this.pending.filter((p) => p.left > 0);
    return done;
  }
}

/** The samples of `frames`, one after another, in one array. */
export function concatSamples(frames: Float32Array[]): Float32Array {
  const out = new Float32Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/** A WAV file: RIFF, PCM 16-bit, one channel, `rate` Hz; samples clipped to [-1, 1]. */
export function encodeWav(samples: Float32Array, rate: number): Uint8Array {
  const dataBytes = samples.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVEfmt ");
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // one channel
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); // bytes a second
  view.setUint16(32, 2, true); // bytes a sample frame
  view.setUint16(34, 16, true); // bits a sample
  ascii(36, "data");
  view.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]!));
    view.setInt16(44 + 2 * i, Math.round(s < 0 ? s * 0x8000 : s * 0x7fff), true);
  }
  return out;
}
