// The face detector inside the FaceLandmarker's `.task` bundle.
//
// `face_landmarker.task` is a ZIP that holds the very `face_detector.tflite`
// the fallback FaceDetector loads (scripts/prepare-models.mjs writes both
// from the same bytes). Reading it out of the bundle the page downloads
// anyway saves a first visit a request and 0.19 MB. fflate reads the ZIP.

import { unzipSync } from "fflate";

export const FACE_DETECTOR_ENTRY = "face_detector.tflite";

export class FaceTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FaceTaskError";
  }
}

/** The face detector model held in a FaceLandmarker `.task`; throws FaceTaskError when it is not there. */
export function faceDetectorFromTask(task: Uint8Array): Uint8Array {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(task, { filter: (f) => f.name === FACE_DETECTOR_ENTRY });
  } catch (e) {
    throw new FaceTaskError(`face_landmarker.task is not a readable ZIP: ${String(e)}`);
  }
  const model = files[FACE_DETECTOR_ENTRY];
  if (!model || model.length === 0) throw new FaceTaskError(`face_landmarker.task holds no ${FACE_DETECTOR_ENTRY}`);
  return model;
}
