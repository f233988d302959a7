import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FaceTaskError, faceDetectorFromTask } from "../../src/face-task.ts";

// The prepared models (npm test runs scripts/ensure-models.mjs first).
const faceDir = path.join(import.meta.dirname, "..", "..", "public", "models", "face");
const read = (name: string) => new Uint8Array(fs.readFileSync(path.join(faceDir, name)));

describe("faceDetectorFromTask", () => {
  it("reads out of face_landmarker.task the same bytes as the standalone face_detector.tflite", () => {
    const fromTask = faceDetectorFromTask(read("face_landmarker.task"));
    expect(fromTask.length).toBeGreaterThan(100_000);
    expect(Buffer.from(fromTask).equals(Buffer.from(read("face_detector.tflite")))).toBe(true);
  });

  it("refuses what is not a ZIP, a truncated bundle, and a ZIP without the detector", () => {
    expect(() => faceDetectorFromTask(new Uint8Array([1, 2, 3, 4]))).toThrow(FaceTaskError);
    const task = read("face_landmarker.task");
    expect(() => faceDetectorFromTask(task.subarray(0, task.length - 30))).toThrow(FaceTaskError);
    // A ZIP without the detector: the bundle with that entry renamed (central directory and local header alike).
    const renamed = Buffer.from(task);
    for (let i = renamed.indexOf("face_detector.tflite"); i >= 0; i = renamed.indexOf("face_detector.tflite", i + 1)) {
      renamed.write("face_detectox.tflite", i);
    }
    expect(() => faceDetectorFromTask(new Uint8Array(renamed))).toThrow(/holds no face_detector.tflite/);
  });
});
