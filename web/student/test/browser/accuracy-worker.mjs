// Module Web Worker for test/detection-accuracy.test.mjs: runs FaceDetector
// and FaceLandmarker (MediaPipe Tasks Vision, CPU delegate, IMAGE mode, the
// options src/inference.worker.ts uses) on raw RGBA frames and returns boxes
// normalised to the frame.
//
// Protocol (request {id, type, ...} -> reply {id, ok, result | error}):
//   init   {wasmBase, detectorUrl, landmarkerUrl}  -> {}
//   detect {url, width, height}                    -> {detector: [{box, score}], landmarker: [{box}]}
//     url: raw RGBA bytes (width × height × 4) of one frame

import { createFaceTasks, serveRequests } from './face-tasks.mjs';

let detector;
let landmarker;

const handlers = {
  async init(opts) {
    ({ detector, landmarker } = await createFaceTasks(opts));
    return {};
  },
  async detect({ url, width, height }) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const data = new Uint8ClampedArray(await res.arrayBuffer());
    const bitmap = await createImageBitmap(new ImageData(data, width, height));
    try {
      const d = detector.detect(bitmap);
      const l = landmarker.detect(bitmap);
      return {
        detector: d.detections.map((x) => ({
          score: x.categories[0]?.score ?? 0,
          box: [x.boundingBox.originX / width, x.boundingBox.originY / height, x.boundingBox.width / width, x.boundingBox.height / height],
        })),
        landmarker: l.faceLandmarks.map((pts) => {
          let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
          for (const p of pts) {
            x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
          }
          return { box: [x0, y0, x1 - x0, y1 - y0], landmarks: pts.length };
        }),
      };
    } finally {
      bitmap.close();
    }
  },
};

serveRequests(handlers);
