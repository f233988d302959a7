// Module Web Worker: voice activity from the microphone, with Silero VAD v5
// (ONNX, from @ricky0123/vad-web's package) on onnxruntime-web's WASM
// backend, one thread. Samples come straight from the audio worklet over a
// MessagePort (the page never touches them), are brought down to 16 kHz
// (resample.ts) and judged 512 at a time (32 ms); the page gets the highest
// speech probability of every three frames.

/// <reference lib="webworker" />
import * as ort from "onnxruntime-web/wasm";
import { Downsampler, VOICE_FRAME, VOICE_RATE } from "./resample.ts";
import { SileroVad } from "./silero.ts";
import type { FromVoiceWorker, FromVoiceWorklet, ToVoiceWorker } from "./worker-protocol.ts";

declare const self: DedicatedWorkerGlobalScope;

/** Frames per result sent to the page (96 ms). */
const FRAMES_PER_RESULT = 3;

let vad: SileroVad | null = null;
let downsampler: Downsampler | null = null;
let queue: Float32Array[] = [];
let running = false;
let best = 0;
let inferMs = 0;
let frames = 0;

function post(m: FromVoiceWorker): void {
  self.postMessage(m);
}

/** Runs queued frames one at a time (a model call is ~1 ms; a backlog after a stall drains quickly). */
async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    while (queue.length) {
      const frame = queue.shift()!;
      const t0 = performance.now();
      const speech = await vad!.speech(frame);
      inferMs += performance.now() - t0;
      best = Math.max(best, speech);
      frames += 1;
      if (frames === FRAMES_PER_RESULT) {
        // The newest audio judged ended about as long ago as the frames still queued last.
        post({ type: "voice", at: Date.now() - (queue.length * VOICE_FRAME * 1000) / VOICE_RATE, speech: best, inferMs });
        best = 0;
        inferMs = 0;
        frames = 0;
      }
    }
  } catch (e) {
    post({ type: "error", error: String(e), fatal: true });
  } finally {
    running = false;
  }
}

function onWorklet({ data }: MessageEvent<FromVoiceWorklet>): void {
  if (data.type === "rate") {
    try {
      downsampler = new Downsampler(data.sampleRate);
    } catch (e) {
      post({ type: "error", error: String(e), fatal: true });
    }
    return;
  }
  if (!downsampler || !vad) return;
  // After a long stall (a frozen tab) only the last two seconds matter.
  queue.push(...downsampler.push(data.samples));
  if (queue.length > 64) queue = queue.slice(-64);
  void drain();
}

self.onmessage = async ({ data }: MessageEvent<ToVoiceWorker>) => {
  if (data.type !== "init") return;
  const t0 = performance.now();
  try {
    ort.env.wasm.numThreads = 1;
    // Same-origin, prepared at build time (scripts/prepare-voice-model.mjs): the glue module and the WASM.
    ort.env.wasm.wasmPaths = `${data.modelsBase}ort/`;
    const session = await ort.InferenceSession.create(`${data.modelsBase}voice/silero_vad_v5.onnx`, { executionProviders: ["wasm"] });
    vad = new SileroVad(ort, session);
    data.port.onmessage = onWorklet;
    post({ type: "ready", initMs: performance.now() - t0 });
  } catch (e) {
    post({ type: "error", error: String(e), fatal: true });
  }
};
