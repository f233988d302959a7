// AudioWorklet: hands the microphone's samples to the voice worker over a
// MessagePort, in chunks of about 40 ms. It runs on the audio rendering
// thread, so it only copies: resampling and the model run in the worker.

/// <reference lib="webworker" />

// The AudioWorkletGlobalScope's names, which TypeScript's DOM library lacks.
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: new () => AudioWorkletProcessor): void;

/** Input samples per message: 2,048 is 43 ms at 48 kHz. */
const CHUNK = 2048;

class VoiceCapture extends AudioWorkletProcessor {
  private out: MessagePort | null = null;
  private buf = new Float32Array(CHUNK);
  private filled = 0;

  constructor() {
    super();
    this.port.onmessage = ({ data }: MessageEvent<{ port: MessagePort }>) => {
      this.out = data.port;
      this.out.postMessage({ type: "rate", sampleRate });
    };
  }

  process(inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0];
    if (!channel || !this.out) return true;
    let i = 0;
    while (i < channel.length) {
      const n = Math.min(channel.length - i, CHUNK - this.filled);
      this.buf.set(channel.subarray(i, i + n), this.filled);
      this.filled += n;
      i += n;
      if (this.filled === CHUNK) {
        this.out.postMessage({ type: "samples", samples: this.buf }, [this.buf.buffer]);
        this.buf = new Float32Array(CHUNK);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("vigil-voice-capture", VoiceCapture);
