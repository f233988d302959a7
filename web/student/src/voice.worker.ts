// Module Web Worker: voice activity from the microphone, with Silero VAD v5
// (ONNX, from @ricky0123/vad-web's package) on onnxruntime-web's WASM
// backend, one thread. Samples come straight from the audio worklet over a
// MessagePort (the page never touches them), are brought down to 16 kHz
// (resample.ts) and judged 512 at a time (32 ms); the page gets the highest
// speech probability of every three frames. The last 2 s are kept in memory
// for a sound clip, which the page asks for only where the exam keeps them
// (clip.ts).

/// <reference lib="webworker" />
import * as ort from "onnxruntime-web/wasm";
import { ClipRecorder } from "./clip.ts";
import { Downsampler, VOICE_FRAME, VOICE_RATE } from "./resample.ts";
import { SileroVad } from "./silero.ts";
import type { FromVoiceWorker, FromVoiceWorklet, ToVoiceWorker } from "./worker-protocol.ts";

declare const self: DedicatedWorkerGlobalScope;

/** Frames per result sent to the page (96 ms). */
const FRAMES_PER_RESULT = 3;

let vad: SileroVad | null = null;
let downsampler: Downsampler | null = null;
const clips = new ClipRecorder(VOICE_RATE);
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
  const frames = downsampler.push(data.samples);
  const now = Date.now();
  frames.forEach((frame, i) => {
    for (const clip of clips.push(frame, now - ((frames.length - 1 - i) * VOICE_FRAME * 1000) / VOICE_RATE)) {
      const wav = clip.wav.buffer as ArrayBuffer;
      self.postMessage({ type: "clip", id: clip.id, wav, startedAt: clip.startedAt, durationMs: clip.durationMs } satisfies FromVoiceWorker, [wav]);
    }
  });
  // After a long stall (a frozen tab) only the last two seconds matter.
  queue.push(...frames);
  if (queue.length > 64) queue = queue.slice(-64);
  void drain();
}

self.onmessage = async ({ data }: MessageEvent<ToVoiceWorker>) => {
  if (data.type === "clip") {
    if (!clips.request(data.id)) post({ type: "error", error: `clip ${data.id} refused: too many wait`, fatal: false });
    return;
  }
  const t0 = performance.now();
  try {
    ort.env.wasm.numThreads = 1;
    // Same-origin, prepared at build time (scripts/prepare-voice-model.mjs): the glue module and the WASM.
    ort.env.wasm.wasmPaths = data.models.ort;
    const session = await ort.InferenceSession.create(`${data.models.voice}silero_vad_v5.onnx`, { executionProviders: ["wasm"] });
    vad = new SileroVad(ort, session);
    data.port.onmessage = onWorklet;
    post({ type: "ready", initMs: performance.now() - t0 });
  } catch (e) {
    post({ type: "error", error: String(e), fatal: true });
  }
};
