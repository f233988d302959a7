// Module Web Worker running MediaPipe Tasks Vision the way the student app
// does: WASM fileset and models served same-origin, CPU delegate, IMAGE mode.
//
// Protocol (request {id, type, ...} -> reply {id, ok, result | error}):
//   init   {wasmBase, detectorUrl, landmarkerUrl}   -> {webgl}
//   image  {name, bitmap}                           -> {width, height}   (bitmap transferred, kept)
//   detect {task: 'detector'|'landmarker', name}    -> summary of one run
//   bench  {task, name, runs}                       -> {medianMs, runsMs}

import { createFaceTasks, serveRequests } from './face-tasks.mjs';

let detector;
let landmarker;
const images = new Map();

function webglInfo() {
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
  if (!gl) return null;
  const dbg = gl.getExtension('WEBGL_debug_renderer_info');
  return dbg ? gl.getParameter(dbg.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
}

/**
 * Yaw/pitch/roll in degrees from a 4x4 column-major rigid transform, for
 * R = Ry(yaw) · Rx(pitch) · Rz(roll) (y up, z towards the camera).
 */
function eulerDegrees(m) {
  const r = (row, col) => m[col * 4 + row];
  const deg = 180 / Math.PI;
  return {
    yaw: Math.atan2(r(0, 2), r(2, 2)) * deg,
    pitch: Math.asin(Math.max(-1, Math.min(1, -r(1, 2)))) * deg,
    roll: Math.atan2(r(1, 0), r(1, 1)) * deg,
  };
}

function summarize(task, res) {
  if (task === 'detector') {
    return {
      faces: res.detections.length,
      detections: res.detections.map((d) => ({
        score: d.categories[0]?.score,
        box: d.boundingBox && { x: d.boundingBox.originX, y: d.boundingBox.originY, w: d.boundingBox.width, h: d.boundingBox.height },
        keypoints: d.keypoints?.length ?? 0,
      })),
    };
  }
  return {
    faces: res.faceLandmarks.length,
    landmarkCounts: res.faceLandmarks.map((l) => l.length),
    // A few landmarks the tests use to sanity-check the output layout.
    points: res.faceLandmarks.map((l) => Object.fromEntries(
      [1, 33, 133, 263, 362, 468, 473].filter((i) => i < l.length).map((i) => [i, [l[i].x, l[i].y, l[i].z]]))),
    matrices: (res.facialTransformationMatrixes ?? []).map((m) => ({ rows: m.rows, columns: m.columns })),
    pose: (res.facialTransformationMatrixes ?? []).map((m) => eulerDegrees(m.data)),
  };
}

function run(task, name) {
  const img = images.get(name);
  if (!img) throw new Error(`unknown image ${name}`);
  return task === 'detector' ? detector.detect(img) : landmarker.detect(img);
}

const handlers = {
  async init(opts) {
    ({ detector, landmarker } = await createFaceTasks(opts));
    return { webgl: webglInfo() };
  },
  async image({ name, bitmap }) {
    images.set(name, bitmap);
    return { width: bitmap.width, height: bitmap.height };
  },
  async detect({ task, name }) {
    return summarize(task, run(task, name));
  },
  async bench({ task, name, runs }) {
    run(task, name); // warm-up (first call initialises graph buffers)
    const runsMs = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      run(task, name);
      runsMs.push(performance.now() - t0);
    }
    const sorted = [...runsMs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const medianMs = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return { medianMs, runsMs };
  },
};

serveRequests(handlers);
