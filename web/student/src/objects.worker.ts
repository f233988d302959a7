// Module Web Worker: the phone/object detector (objects.ts), apart from the
// face models. One CenterNet inference takes ~250 ms on the WASM backend
// (scripts/bench-objects.mjs); in the inference worker it would hold up the
// face models for that long twice a second, so it runs here, on whichever
// core is free, and takes a frame from the inference worker only when it is
// ready for one (at most every `minIntervalMs`, and never faster than
// 1.3 × its own inference time, so a slow machine slows this down rather
// than the face models).

/// <reference lib="webworker" />
import { createObjectDetector, type ObjectDetector } from "./objects.ts";
import type { FromObjectsPort, FromObjectsWorker, ToObjectsPort, ToObjectsWorker } from "./worker-protocol.ts";

declare const self: DedicatedWorkerGlobalScope;

/** COCO classes that are a phone in a hand: the detector calls a held phone a remote more often than not. */
const PHONE_LABELS = new Set(["cell_phone", "remote"]);

let detector: ObjectDetector | null = null;
let port: MessagePort | null = null;
let minIntervalMs = 500;
let emaMs = 0;

function post(m: FromObjectsWorker): void {
  self.postMessage(m);
}

function want(afterMs: number): void {
  setTimeout(() => port?.postMessage({ type: "want" } satisfies FromObjectsPort), Math.max(0, afterMs));
}

function onFrame({ frame, at }: ToObjectsPort): void {
  const t0 = performance.now();
  try {
    if (!detector) return;
    const found = detector.detect(frame);
    const inferMs = performance.now() - t0;
    emaMs = emaMs === 0 ? inferMs : emaMs * 0.8 + inferMs * 0.2;
    let phoneScore = 0;
    for (const d of found) if (PHONE_LABELS.has(d.label)) phoneScore = Math.max(phoneScore, d.score);
    post({
      type: "objects",
      at,
      phoneScore,
      detections: found.map((d) => ({ label: d.label, score: d.score, box: d.box })),
      inferMs,
    });
  } catch (e) {
    post({ type: "error", error: String(e), fatal: false });
  } finally {
    frame.close();
    want(Math.max(minIntervalMs, emaMs * 1.3) - (performance.now() - t0));
  }
}

self.onmessage = async ({ data }: MessageEvent<ToObjectsWorker>) => {
  if (data.type !== "init") return;
  const t0 = performance.now();
  try {
    minIntervalMs = data.minIntervalMs;
    // A low floor: the page decides what counts as a phone (debounce.ts), and sees the scores below it too.
    detector = await createObjectDetector(data.models, { minScore: 0.1 });
    port = data.port;
    port.onmessage = ({ data: m }: MessageEvent<ToObjectsPort>) => {
      if (m.type === "frame") onFrame(m);
    };
    post({ type: "ready", initMs: performance.now() - t0, backend: detector.backend });
    want(0);
  } catch (e) {
    post({ type: "error", error: String(e), fatal: true });
  }
};
