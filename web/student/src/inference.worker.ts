// Module Web Worker: MediaPipe Tasks Vision on camera frames. Faces, head
// yaw/pitch (FaceLandmarker's facial transformation matrix; FaceDetector
// keypoints as the coarse fallback on slow machines), the eyes' direction
// from the iris landmarks (gaze.ts), mean brightness from a tiny downscaled
// copy, and JPEG evidence of the last analysed frame (one no other
// incident has used, when a fresh one comes in time: evidence-frames.ts).

/// <reference lib="webworker" />
import { FaceDetector, FaceLandmarker, FilesetResolver } from "@mediapipe/tasks-vision";
import { eyeDirection } from "./gaze.ts";
import type { FrameResult, FromObjectsPort, FromWorker, Model, ModelChoice, ToObjectsPort, ToWorker } from "./worker-protocol.ts";
import type { ModelDirs } from "./models.ts";
import { EvidenceFrames } from "./evidence-frames.ts";
import { faceDetectorFromTask } from "./face-task.ts";

declare const self: DedicatedWorkerGlobalScope & { ModuleFactory?: unknown };

let detector: FaceDetector | null = null;
let landmarker: FaceLandmarker | null = null;
let model: Model = "landmarker";
let choice: ModelChoice = "auto";
let minIntervalMs = 1000 / 15;
let emaMs = 0;
let analysed = 0;
const recent: number[] = []; // end times of recent inferences (performance.now)
/**
 * The last analysed frame, for evidence. A capture waits up to 3 s for a
 * frame no other incident has used, analysed or skipped (evidence-frames.ts
 * says why): 3 s stays inside the page's 5 s capture timeout (vision.ts)
 * and the server's 5 s capture slack, and a frame up to 4 s old still lies
 * within that slack.
 */
const evidenceFrames = new EvidenceFrames<ImageBitmap | VideoFrame>({
  waitMs: 3000,
  maxAgeMs: 4000,
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});
/** The object worker's channel, and whether it waits for a frame (it asks when it is ready). */
let objectsPort: MessagePort | null = null;
let objectsWant = false;
/**
 * The test build reads the scripted camera video's frame number from the
 * strip along its bottom (test-media/frame-index.mjs), so that a benchmark
 * knows which frame showed what; the production build has none of this.
 */
let frameIndexOf: ((frame: ImageBitmap | VideoFrame) => number | null) | null = null;
if (import.meta.env.MODE === "test") {
  void import("../test-media/frame-index.mjs").then(({ decodeFrameIndex }) => {
    // 480 rows onto 30: the 16-row strip becomes the last row whole.
    const strip = new OffscreenCanvas(160, 30).getContext("2d", { willReadFrequently: true })!;
    frameIndexOf = (frame) => {
      strip.drawImage(frame, 0, 0, 160, 30);
      return decodeFrameIndex(strip.getImageData(0, 0, 160, 30));
    };
  });
}
const lumaCanvas = new OffscreenCanvas(32, 24);
const luma = lumaCanvas.getContext("2d", { willReadFrequently: true })!;

/** Slower than this per frame (ms, moving average) and the landmarker gives way to the detector. */
const LANDMARKER_BUDGET_MS = 85;

function post(m: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(m, transfer);
}

function webglInfo(): string | null {
  const gl = new OffscreenCanvas(1, 1).getContext("webgl2");
  if (!gl) return null;
  const dbg = gl.getExtension("WEBGL_debug_renderer_info");
  return String(dbg ? gl.getParameter(dbg.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
}

async function init(models: ModelDirs, wanted: ModelChoice, targetFps: number): Promise<void> {
  const t0 = performance.now();
  choice = wanted;
  minIntervalMs = 1000 / targetFps;
  // FilesetResolver adds "/<file>" to the base itself.
  const fileset = await FilesetResolver.forVisionTasks(models.wasm.replace(/\/$/, ""), true);
  // tasks-vision clears self.ModuleFactory after creating a task, and the
  // cached import() does not set it again: keep the factory and re-arm it
  // before every createFromOptions.
  const loader = (await import(/* @vite-ignore */ fileset.wasmLoaderPath)) as { default: unknown };
  self.ModuleFactory = loader.default;
  // One fetch (from the cache the system check filled) for both models: the
  // detector is read out of the landmarker's bundle (face-task.ts).
  const taskResponse = await fetch(`${models.face}face_landmarker.task`);
  if (!taskResponse.ok) throw new Error(`face_landmarker.task: HTTP ${taskResponse.status}`);
  const task = new Uint8Array(await taskResponse.arrayBuffer());
  detector = await FaceDetector.createFromOptions(fileset, {
    baseOptions: { modelAssetBuffer: faceDetectorFromTask(task), delegate: "CPU" },
    runningMode: "IMAGE",
    minDetectionConfidence: 0.5,
  });
  if (wanted !== "detector") {
    self.ModuleFactory = loader.default;
    landmarker = await FaceLandmarker.createFromOptions(fileset, {
      baseOptions: { modelAssetBuffer: task, delegate: "CPU" },
      runningMode: "IMAGE",
      numFaces: 2,
      outputFacialTransformationMatrixes: true,
    });
    model = "landmarker";
  } else {
    model = "detector";
  }
  post({ type: "ready", webgl: webglInfo(), model, initMs: performance.now() - t0 });
}

/** Yaw/pitch in degrees from a column-major 4×4 rigid transform, R = Ry(yaw)·Rx(pitch)·Rz(roll). */
function euler(m: ArrayLike<number>): { yaw: number; pitch: number } {
  const r = (row: number, col: number) => m[col * 4 + row] ?? 0;
  const deg = 180 / Math.PI;
  return {
    yaw: Math.atan2(r(0, 2), r(2, 2)) * deg,
    pitch: Math.asin(Math.max(-1, Math.min(1, -r(1, 2)))) * deg,
  };
}

function brightness(frame: ImageBitmap | VideoFrame): number {
  luma.drawImage(frame, 0, 0, 32, 24);
  const d = luma.getImageData(0, 0, 32, 24).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += 0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!;
  return sum / (d.length / 4) / 255;
}

function analyse(frame: ImageBitmap | VideoFrame, at: number): void {
  const t0 = performance.now();
  let r: Pick<FrameResult, "faces" | "yawDeg" | "pitchDeg" | "eyeYawDeg" | "eyePitchDeg" | "confidence">;
  const used = model;
  if (used === "landmarker" && landmarker) {
    const res = landmarker.detect(frame);
    r = { faces: res.faceLandmarks.length };
    const m = res.facialTransformationMatrixes?.[0];
    if (r.faces >= 1 && m) {
      const e = euler(m.data);
      r.yawDeg = e.yaw;
      r.pitchDeg = e.pitch;
      const eyes = r.faces === 1 ? eyeDirection(res.faceLandmarks[0]!) : null;
      if (eyes) {
        r.eyeYawDeg = eyes.yawDeg;
        r.eyePitchDeg = eyes.pitchDeg;
      }
    }
  } else {
    const res = detector!.detect(frame);
    const faces = res.detections;
    r = { faces: faces.length };
    const d = faces[0];
    if (d) {
      r.confidence = d.categories[0]?.score ?? 0;
      // Keypoints: right eye, left eye, nose tip, mouth, right ear, left ear.
      const k = d.keypoints;
      if (k && k.length >= 3) {
        const mid = (k[0]!.x + k[1]!.x) / 2;
        const eyes = Math.abs(k[1]!.x - k[0]!.x) || 1e-6;
        const ratio = Math.max(-1, Math.min(1, ((k[2]!.x - mid) / eyes) * 1.2));
        r.yawDeg = (Math.asin(ratio) * 180) / Math.PI;
      }
    }
  }
  const inferMs = performance.now() - t0;
  const b = brightness(frame);
  const end = performance.now();
  recent.push(end);
  while (recent.length && recent[0]! < end - 2000) recent.shift();
  analysed += 1;
  emaMs = analysed === 1 ? inferMs : emaMs * 0.85 + inferMs * 0.15;
  if (choice === "auto" && model === "landmarker" && analysed > 15 && emaMs > LANDMARKER_BUDGET_MS) {
    const slow = Math.round(emaMs);
    model = "detector";
    emaMs = 0;
    analysed = 0;
    post({ type: "model", model, reason: `landmarker took ${slow} ms per frame` });
  }
  const span = recent.length > 1 ? (end - recent[0]!) / 1000 : 1;
  const fps = recent.length > 1 ? (recent.length - 1) / span : recent.length;
  const frameIndex = frameIndexOf?.(frame) ?? undefined;
  post({ type: "result", at, ...r, brightness: b, model: used, inferMs, fps, ...(frameIndex !== undefined ? { frameIndex } : {}) });
}

/** Hands the object worker a copy of this frame if it asked for one (it closes the copy). */
function shareWithObjects(frame: ImageBitmap | VideoFrame, at: number): void {
  if (!objectsPort || !objectsWant) return;
  objectsWant = false;
  const port = objectsPort;
  createImageBitmap(frame).then(
    (copy) => port.postMessage({ type: "frame", frame: copy, at } satisfies ToObjectsPort, [copy]),
    () => {
      objectsWant = true;
    },
  );
}

/** Keeps the last analysed frame for evidence; releases the one before. */
function keep(frame: ImageBitmap | VideoFrame, at: number): void {
  evidenceFrames.keep(frame, at);
}

/** Time to wait after an inference so the worker keeps some CPU for the rest of the machine. */
function intervalMs(): number {
  return Math.max(minIntervalMs, emaMs * 1.25);
}

async function readStream(readable: ReadableStream<VideoFrame>): Promise<void> {
  const reader = readable.getReader();
  let due = 0;
  for (;;) {
    const { value: frame, done } = await reader.read();
    if (done || !frame) break;
    const now = performance.now();
    if (now < due || !detector) {
      // Not due for analysis, but an incident may be waiting for evidence.
      evidenceFrames.offer(frame, Date.now());
      frame.close();
      continue;
    }
    // Half a frame of slack at 30 fps, so a 15 fps camera is not read at 7.5/s.
    due = now + intervalMs() - 16;
    const at = Date.now();
    try {
      analyse(frame, at);
    } catch (e) {
      post({ type: "error", error: String(e), fatal: false });
    }
    shareWithObjects(frame, at);
    keep(frame, at);
  }
}

async function capture(id: string, maxWidth: number, quality: number): Promise<void> {
  // Drawn while the frame is open: `take` hands it over synchronously.
  const drawn = await evidenceFrames.take((frame, at) => {
    const t0 = performance.now();
    const w0 = "displayWidth" in frame ? frame.displayWidth : frame.width;
    const h0 = "displayHeight" in frame ? frame.displayHeight : frame.height;
    const scale = Math.min(1, maxWidth / w0);
    const w = Math.max(64, Math.round(w0 * scale));
    const h = Math.max(64, Math.round(h0 * scale));
    const canvas = new OffscreenCanvas(w, h);
    canvas.getContext("2d")!.drawImage(frame, 0, 0, w, h);
    return { canvas, at, w, h, t0 };
  });
  if (!drawn) {
    post({ type: "evidence-failed", id, error: "no frame analysed yet" });
    return;
  }
  const blob = await drawn.canvas.convertToBlob({ type: "image/jpeg", quality });
  const jpeg = await blob.arrayBuffer();
  post(
    { type: "evidence", id, jpeg, capturedAt: drawn.at, width: drawn.w, height: drawn.h, encodeMs: performance.now() - drawn.t0 },
    [jpeg],
  );
}

self.onmessage = async ({ data }: MessageEvent<ToWorker>) => {
  try {
    switch (data.type) {
      case "init":
        await init(data.models, data.model, data.targetFps);
        break;
      case "stream":
        await readStream(data.readable);
        break;
      case "frame": {
        const t0 = performance.now();
        analyse(data.frame, data.at);
        shareWithObjects(data.frame, data.at);
        keep(data.frame, data.at);
        // Ask for the next frame when it is due.
        setTimeout(() => post({ type: "want-frame" }), Math.max(0, intervalMs() - (performance.now() - t0)));
        break;
      }
      case "capture":
        await capture(data.id, data.maxWidth, data.quality);
        break;
      case "objects-port":
        objectsPort?.close();
        objectsPort = data.port;
        objectsWant = false;
        objectsPort.onmessage = ({ data: m }: MessageEvent<FromObjectsPort>) => {
          if (m.type === "want") objectsWant = true;
        };
        break;
      case "crash":
        // Test hook: a worker that dies the hard way.
        setTimeout(() => {
          throw new Error("crash requested");
        });
        self.close();
        break;
    }
  } catch (e) {
    const fatal = data.type === "init";
    if (data.type === "capture") post({ type: "evidence-failed", id: data.id, error: String(e) });
    else post({ type: "error", error: String(e), fatal });
  }
};
