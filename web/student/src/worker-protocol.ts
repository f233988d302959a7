// Messages between the page and the inference worker.

import type { ModelDirs } from "./models.ts";

export type Model = "landmarker" | "detector";
export type ModelChoice = Model | "auto";

export type ToWorker =
  /** `models`: where each group of model files is (models.ts); the worker loads "face" and "wasm". */
  | { type: "init"; models: ModelDirs; model: ModelChoice; targetFps: number }
  /** Frames straight from a MediaStreamTrackProcessor (transferred stream). */
  | { type: "stream"; readable: ReadableStream<VideoFrame> }
  /** One frame pushed by the page (when the browser has no track processor). */
  | { type: "frame"; frame: ImageBitmap | VideoFrame; at: number }
  /** Encode the last analysed frame as JPEG evidence for `id`. */
  | { type: "capture"; id: string; maxWidth: number; quality: number }
  /** A channel to the object worker: it asks for a frame on it when it wants one. */
  | { type: "objects-port"; port: MessagePort }
  | { type: "crash" };

/** The object worker's side of its channel with the inference worker. */
export type ToObjectsPort = { type: "frame"; frame: ImageBitmap; at: number };
export type FromObjectsPort = { type: "want" };

/** Page → object worker. */
export type ToObjectsWorker = { type: "init"; models: ModelDirs; port: MessagePort; minIntervalMs: number };

/** What the object detector saw on one frame. */
export interface ObjectsResult {
  type: "objects";
  /** Capture time of the frame (ms since epoch, page clock). */
  at: number;
  /** Best score of a handheld phone ("cell phone" or "remote"), 0..1; 0 when none was found. */
  phoneScore: number;
  /** Everything found above the detector's floor, best first. */
  detections: Array<{ label: string; score: number; box: { x: number; y: number; width: number; height: number } }>;
  inferMs: number;
}

/** Object worker → page. */
export type FromObjectsWorker =
  | { type: "ready"; initMs: number; backend: string }
  | ObjectsResult
  | { type: "error"; error: string; fatal: boolean };

export interface FrameResult {
  type: "result";
  /** Capture time of the frame (ms since epoch, page clock). */
  at: number;
  faces: number;
  yawDeg?: number;
  pitchDeg?: number;
  /** The eyes' direction in the head (gaze.ts), where the landmarker read the irises. */
  eyeYawDeg?: number;
  eyePitchDeg?: number;
  confidence?: number;
  brightness: number;
  model: Model;
  inferMs: number;
  /** Inferences per second over the last ~2 s. */
  fps: number;
  /** The test build only: the scripted test video's frame number, read from the frame. */
  frameIndex?: number;
}

export type FromWorker =
  | { type: "ready"; webgl: string | null; model: Model; initMs: number }
  | FrameResult
  | { type: "want-frame" }
  | { type: "model"; model: Model; reason: string }
  | { type: "evidence"; id: string; jpeg: ArrayBuffer; capturedAt: number; width: number; height: number; encodeMs: number }
  | { type: "evidence-failed"; id: string; error: string }
  | { type: "error"; error: string; fatal: boolean };

/** The voice worker's channel with the audio worklet. */
export type FromVoiceWorklet = { type: "rate"; sampleRate: number } | { type: "samples"; samples: Float32Array };

/** Page → voice worker. */
export type ToVoiceWorker =
  | { type: "init"; models: ModelDirs; port: MessagePort }
  /** A sound clip around now, as evidence of incident `id` (clip.ts). */
  | { type: "clip"; id: string };

/** What the voice detector heard over about 100 ms. */
export interface VoiceResult {
  type: "voice";
  /** When the audio ended (ms since epoch, page clock). */
  at: number;
  /** The highest speech probability (Silero VAD) over those frames, 0..1. */
  speech: number;
  /** Milliseconds of model time those frames took. */
  inferMs: number;
}

/** Voice worker → page. */
export type FromVoiceWorker =
  | { type: "ready"; initMs: number }
  | VoiceResult
  | { type: "clip"; id: string; wav: ArrayBuffer; startedAt: number; durationMs: number }
  | { type: "error"; error: string; fatal: boolean };
