// Silero VAD v5 over onnxruntime-web: one 512-sample frame of 16 kHz audio
// in, the probability that it holds speech out. The model reads each frame
// with the last 64 samples of the previous one and carries a recurrent state
// from frame to frame. Used by the voice worker and, in Node, by the
// accuracy test (test/unit/voice-accuracy.test.ts): one implementation, the
// one measured.

import type * as Ort from "onnxruntime-web";
import { VOICE_FRAME, VOICE_RATE } from "./resample.ts";

const CONTEXT = 64;

export class SileroVad {
  private state: Ort.Tensor;
  private readonly sr: Ort.Tensor;
  private context = new Float32Array(CONTEXT);

  constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
  ) {
    this.state = this.freshState();
    this.sr = new ort.Tensor("int64", BigInt64Array.from([BigInt(VOICE_RATE)]), [1]);
  }

  /** Speech probability (0..1) of the next 512 samples of the stream. */
  async speech(frame: Float32Array): Promise<number> {
    if (frame.length !== VOICE_FRAME) throw new RangeError(`a frame is ${VOICE_FRAME} samples, not ${frame.length}`);
    const input = new Float32Array(CONTEXT + VOICE_FRAME);
    input.set(this.context);
    input.set(frame, CONTEXT);
    this.context = frame.slice(VOICE_FRAME - CONTEXT);
    const out = await this.session.run({ input: new this.ort.Tensor("float32", input, [1, input.length]), state: this.state, sr: this.sr });
    const next = out["stateN"];
    const speech = out["output"]?.data[0];
    if (!next || typeof speech !== "number") throw new Error("the voice model gave no output");
    this.state = next;
    return speech;
  }

  /** Forgets the stream so far (a new recording). */
  reset(): void {
    this.state = this.freshState();
    this.context = new Float32Array(CONTEXT);
  }

  private freshState(): Ort.Tensor {
    return new this.ort.Tensor("float32", new Float32Array(2 * 128), [2, 1, 128]);
  }
}
