// Module Web Worker: voice activity from the microphone, with Silero VAD v5
// (ONNX, from @ricky0123/vad-web's package) on onnxruntime-web's WASM
// backend, one thread. Samples come straight from the audio worklet over a
// MessagePort (the page never touches them), are brought down to 16 kHz
// (resample.ts) and judged 512 at a time (32 ms); the page gets the highest
// speech probability of every three frames.

/// <reference lib="webworker" />
import * as ort from "onnxruntime-web/wasm";
import { Downsampler, VOICE_FRAME, VOICE_RATE } from "./resample.ts";
import type { FromVoiceWorker, FromVoiceWorklet, ToVoiceWorker } from "./worker-protocol.ts";

declare const self: DedicatedWorkerGlobalScope;

/** Silero v5 reads each frame with the last 64 samples of the one before. */
const CONTEXT = 64;
/** Frames per result sent to the page (96 ms). */
const FRAMES_PER_RESULT = 3;

let session: ort.InferenceSession | null = null;
let state: ort.Tensor | null = null;
let sr: ort.Tensor | null = null;
let context = new Float32Array(CONTEXT);
let downsampler: Downsampler | null = null;
let queue: Float32Array[] = [];
let running = false;
let best = 0;
let inferMs = 0;
let frames = 0;

function post(m: FromVoiceWorker): void {
  self.postMessage(m);
}

async function judge(frame: Float32Array): Promise<number> {
  const input = new Float32Array(CONTEXT + VOICE_FRAME);
  input.set(context);
  input.set(frame, CONTEXT);
  context = frame.slice(VOICE_FRAME - CONTEXT);
  const out = await session!.run({ input: new ort.Tensor("float32", input, [1, input.length]), state: state!, sr: sr! });
  const next = out["stateN"];
  const speech = out["output"]?.data[0];
  if (!next || typeof speech !== "number") throw new Error("the voice model gave no output");
  state = next;
  return speech;
}

/** Runs queued frames one at a time (a model call is ~1 ms; a backlog after a stall drains quickly). */
async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    while (queue.length) {
      const frame = queue.shift()!;
      const t0 = performance.now();
      const speech = await judge(frame);
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
  if (!downsampler || !session) return;
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
    session = await ort.InferenceSession.create(`${data.modelsBase}voice/silero_vad_v5.onnx`, { executionProviders: ["wasm"] });
    state = new ort.Tensor("float32", new Float32Array(2 * 128), [2, 1, 128]);
    sr = new ort.Tensor("int64", BigInt64Array.from([BigInt(VOICE_RATE)]), [1]);
    data.port.onmessage = onWorklet;
    post({ type: "ready", initMs: performance.now() - t0 });
  } catch (e) {
    post({ type: "error", error: String(e), fatal: true });
  }
};
