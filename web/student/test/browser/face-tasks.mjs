// Shared by the browser test workers and pages (inference-worker.mjs,
// accuracy-worker.mjs, page.mjs, accuracy-page.mjs): the face tasks created
// the way the student app creates them, and the request/reply plumbing
// between a page and its worker ({id, type, ...} → {id, ok, result | error}).

import { FilesetResolver, FaceDetector, FaceLandmarker } from '/vendor/tasks-vision/vision_bundle.mjs';

/**
 * FaceDetector and FaceLandmarker with src/inference.worker.ts's options
 * (WASM fileset and models same-origin, CPU delegate, IMAGE mode).
 */
export async function createFaceTasks({ wasmBase, detectorUrl, landmarkerUrl }) {
  const fileset = await FilesetResolver.forVisionTasks(wasmBase, true);
  // In a module worker, tasks-vision loads the WASM loader with dynamic
  // import(), which sets `self.ModuleFactory`, and clears that global after
  // creating a task. A second import() of the same URL is served from the
  // module cache and does not run again, so the second task would fail with
  // "ModuleFactory not set". Keep the factory ourselves and re-arm it before
  // every task creation.
  const { default: moduleFactory } = await import(fileset.wasmLoaderPath);
  self.ModuleFactory = moduleFactory;
  const detector = await FaceDetector.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: detectorUrl, delegate: 'CPU' },
    runningMode: 'IMAGE',
    minDetectionConfidence: 0.5,
  });
  self.ModuleFactory = moduleFactory;
  const landmarker = await FaceLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: landmarkerUrl, delegate: 'CPU' },
    runningMode: 'IMAGE',
    numFaces: 2,
    outputFacialTransformationMatrixes: true,
  });
  return { detector, landmarker };
}

/** Worker side: answers each request with its handler's result or error. */
export function serveRequests(handlers) {
  self.onmessage = async ({ data }) => {
    const { id, type, ...args } = data;
    try {
      self.postMessage({ id, ok: true, result: await handlers[type](args) });
    } catch (err) {
      self.postMessage({ id, ok: false, error: String(err?.stack ?? err) });
    }
  };
}

/** Page side: `call(type, args, transfer)` → the worker's result, or its error thrown. */
export function workerCaller(worker) {
  let nextId = 1;
  const pending = new Map();
  worker.onmessage = ({ data }) => {
    const p = pending.get(data.id);
    pending.delete(data.id);
    if (data.ok) p.resolve(data.result);
    else p.reject(new Error(data.error));
  };
  worker.onerror = (e) => {
    for (const p of pending.values()) p.reject(new Error(`worker error: ${e.message}`));
  };
  return (type, args = {}, transfer = []) => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, type, ...args }, transfer);
    });
  };
}
