// Microphone audio to what the voice model takes, pure: any input sample
// rate down to 16 kHz mono, cut into 512-sample frames (32 ms). Each output
// sample is the mean of the input samples its interval covers (a box
// filter): a crude low-pass that lets some of what lies above 8 kHz fold
// back, which a voice activity model, listening for the voice's 100 Hz–4 kHz,
// does not mind. Written here because it is a dozen lines and runs in
// the voice worker, where a resampling library would be a dependency for
// that alone.

export const VOICE_RATE = 16_000;
export const VOICE_FRAME = 512;

export class Downsampler {
  /** Input samples per output sample (≥ 1). */
  private readonly ratio: number;
  /** Input samples not yet consumed; `base` is the stream index of the first. */
  private pending = new Float32Array(0);
  private base = 0;
  /** Output samples produced so far: output n covers input [n·ratio, (n+1)·ratio). */
  private produced = 0;
  private frame = new Float32Array(VOICE_FRAME);
  private filled = 0;

  constructor(inputRate: number) {
    if (!(Number.isFinite(inputRate) && inputRate >= VOICE_RATE)) throw new RangeError(`input rate ${inputRate} Hz: at least ${VOICE_RATE} Hz needed`);
    this.ratio = inputRate / VOICE_RATE;
  }

  /** Feeds input samples; returns the 512-sample frames they completed (each a new array). */
  push(input: Float32Array): Float32Array[] {
    const all = new Float32Array(this.pending.length + input.length);
    all.set(this.pending);
    all.set(input, this.pending.length);
    const end = this.base + all.length;
    const out: Float32Array[] = [];
    // Interval ends from the output's index, never from a running sum, so
    // how the input was cut into chunks changes nothing.
    for (;;) {
      const from = Math.floor(this.produced * this.ratio);
      const to = Math.floor((this.produced + 1) * this.ratio);
      if (to > end) break;
      let sum = 0;
      for (let i = from; i < to; i++) sum += all[i - this.base]!;
      this.frame[this.filled++] = sum / (to - from);
      this.produced += 1;
      if (this.filled === VOICE_FRAME) {
        out.push(this.frame);
        this.frame = new Float32Array(VOICE_FRAME);
        this.filled = 0;
      }
    }
    const keepFrom = Math.floor(this.produced * this.ratio);
    this.pending = all.slice(keepFrom - this.base);
    this.base = keepFrom;
    return out;
  }
}
