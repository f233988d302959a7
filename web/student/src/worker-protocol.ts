// Messages between the page and the inference worker.

export type Model = "landmarker" | "detector";
export type ModelChoice = Model | "auto";

export type ToWorker =
  | { type: "init"; modelsBase: string; model: ModelChoice; targetFps: number }
  /** Frames straight from a MediaStreamTrackProcessor (transferred stream). */
  | { type: "stream"; readable: ReadableStream<VideoFrame> }
  /** One frame pushed by the page (when the browser has no track processor). */
  | { type: "frame"; frame: ImageBitmap | VideoFrame; at: number }
  /** Encode the last analysed frame as JPEG evidence for `id`. */
  | { type: "capture"; id: string; maxWidth: number; quality: number }
  | { type: "crash" };

export interface FrameResult {
  type: "result";
  /** Capture time of the frame (ms since epoch, page clock). */
  at: number;
  faces: number;
  yawDeg?: number;
  pitchDeg?: number;
  confidence?: number;
  brightness: number;
  model: Model;
  inferMs: number;
  /** Inferences per second over the last ~2 s. */
  fps: number;
}

export type FromWorker =
  | { type: "ready"; webgl: string | null; model: Model; initMs: number }
  | FrameResult
  | { type: "want-frame" }
  | { type: "model"; model: Model; reason: string }
  | { type: "evidence"; id: string; jpeg: ArrayBuffer; capturedAt: number; width: number; height: number; encodeMs: number }
  | { type: "evidence-failed"; id: string; error: string }
  | { type: "error"; error: string; fatal: boolean };
