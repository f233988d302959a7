// Test page: builds test images from the committed fixtures (composites,
// mirrored and "turned" variants) and forwards work to the inference worker.
// The Node test drives it through `window.vigilTest`.

import { workerCaller } from './face-tasks.mjs';

const call = workerCaller(new Worker(new URL('./inference-worker.mjs', import.meta.url), { type: 'module' }));

async function loadBitmap(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return createImageBitmap(await res.blob());
}

/**
 * Fakes a head turn on a frontal photo: a smooth horizontal warp across the
 * face box that moves the face's centre line (nose) towards one side while
 * the face outline stays put, which is what the landmark model sees when a
 * head yaws. `shift` is the centre displacement as a fraction of box width
 * (positive = towards +x).
 */
function turned(img, box, shift) {
  const c = new OffscreenCanvas(img.width, img.height);
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const { x0, x1 } = box;
  const w = x1 - x0;
  const warp = (x) => x + shift * w * Math.sin((Math.PI * (x - x0)) / w);
  g.clearRect(x0, 0, w, img.height);
  for (let x = x0; x < x1; x++) {
    const a = warp(x), b = warp(x + 1);
    g.drawImage(img, x, 0, 1, img.height, a, 0, b - a + 0.5, img.height);
  }
  return c;
}

/** A crop of `img` (optionally mirrored), e.g. the head region so composites keep faces large. */
function crop(img, { x, y, w, h }, mirror = false) {
  const c = new OffscreenCanvas(w, h);
  const g = c.getContext('2d');
  if (mirror) { g.translate(w, 0); g.scale(-1, 1); }
  g.drawImage(img, mirror ? img.width - x - w : x, y, w, h, 0, 0, w, h);
  return c;
}

async function prepareImages(fixturesBase) {
  const astronaut = await loadBitmap(`${fixturesBase}/astronaut.jpg`);
  const coffee = await loadBitmap(`${fixturesBase}/coffee.jpg`);
  // Head region of the 320x320 astronaut fixture (face box ≈ x 111–170, y 52–111).
  const head = { x: 60, y: 0, w: 160, h: 200 };
  const two = new OffscreenCanvas(2 * head.w, head.h);
  const g = two.getContext('2d');
  g.drawImage(crop(astronaut, head), 0, 0);
  g.drawImage(crop(astronaut, head, true), head.w, 0);
  const faceSpan = { x0: 100, x1: 180 };
  const variants = {
    astronaut,
    coffee,
    two_astronauts: two,
    astronaut_mirrored: crop(astronaut, { x: 0, y: 0, w: astronaut.width, h: astronaut.height }, true),
    astronaut_turned_left: turned(astronaut, faceSpan, -0.22),
    astronaut_turned_right: turned(astronaut, faceSpan, 0.22),
  };
  const sizes = {};
  for (const [name, src] of Object.entries(variants)) {
    const bitmap = src instanceof ImageBitmap ? src : await createImageBitmap(src);
    sizes[name] = await call('image', { name, bitmap }, [bitmap]);
  }
  return sizes;
}

/**
 * Reads the (fake) camera for `ms` milliseconds. For each frame the page
 * manages to grab: decode its barcode frame index, then run both tasks on it
 * in the worker. Frames arriving while the worker is busy are skipped, as in
 * the app.
 */
async function cameraRun(ms) {
  const { decodeFrameIndex } = await import('/media/frame-index.mjs');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480, frameRate: 15 } });
  const video = document.createElement('video');
  video.muted = true;
  video.srcObject = stream;
  await video.play();
  const canvas = new OffscreenCanvas(video.videoWidth, video.videoHeight);
  const g = canvas.getContext('2d', { willReadFrequently: true });
  const samples = [];
  const t0 = performance.now();
  try {
    while (performance.now() - t0 < ms) {
      await new Promise((resolve) => video.requestVideoFrameCallback(resolve));
      g.drawImage(video, 0, 0);
      const index = decodeFrameIndex(g.getImageData(0, 0, canvas.width, canvas.height));
      const bitmap = await createImageBitmap(canvas);
      await call('image', { name: 'camera', bitmap }, [bitmap]);
      const det = await call('detect', { task: 'detector', name: 'camera' });
      const lm = await call('detect', { task: 'landmarker', name: 'camera' });
      samples.push({ index, faces: det.faces, landmarkFaces: lm.faces, yaw: lm.pose[0]?.yaw ?? null });
    }
  } finally {
    for (const t of stream.getTracks()) t.stop();
  }
  return { width: canvas.width, height: canvas.height, samples };
}

window.vigilTest = {
  cameraRun,
  init: (opts) => call('init', opts),
  prepareImages,
  detect: (task, name) => call('detect', { task, name }),
  bench: (task, name, runs) => call('bench', { task, name, runs }),
};
window.vigilReady = true;
