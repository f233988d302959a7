// Gaze, pure: where the eyes point inside the head, from FaceLandmarker's
// iris landmarks, and the calibration that says where the screen is.
//
// FaceLandmarker already returns 478 landmarks, the last ten of them the two
// irises (centre first, then four points on the rim). An eye's direction in
// the head is the iris centre's offset from the middle of the eye opening,
// along and across the line between the eye's corners, in eye widths. The
// eyeball's radius is about 0.4 eye widths (12 mm against 30 mm), so an
// offset `d` is a rotation of asin(d / 0.4). This is what MediaPipe's iris
// demos and the eye-tracking literature call the pupil-centre/eye-corner
// method: it has no glint to work with, so it is good to a few degrees,
// which is enough to tell "at the screen" from "at the desk".
//
// Signs follow the head pose's (inference.worker.ts `euler`): yaw > 0 looks
// towards the image's right, pitch > 0 looks down. Head and eyes then add up.

/** A landmark in image-normalised coordinates (x right, y down). */
export interface Point {
  x: number;
  y: number;
}

/** Direction in degrees: yaw > 0 towards the image's right, pitch > 0 down. */
export interface Direction {
  yawDeg: number;
  pitchDeg: number;
}

/** Eye corners and iris centres in FaceLandmarker's 478-point layout. */
const EYES = [
  { outer: 33, inner: 133 },
  { outer: 263, inner: 362 },
] as const;
const IRIS_CENTRES = [468, 473] as const;
/** Eyeball radius in eye widths (≈ 12 mm / 30 mm). */
const EYEBALL_RADIUS = 0.4;
/** An eye narrower than this (image widths) is too small or too turned away to read. */
const MIN_EYE_WIDTH = 0.012;

const DEG = 180 / Math.PI;
const asinDeg = (v: number) => Math.asin(Math.max(-1, Math.min(1, v))) * DEG;

/**
 * The eyes' direction in the head, both eyes averaged by their width (the
 * nearer, wider eye reads better), or null when there are no iris
 * landmarks or no readable eye.
 */
export function eyeDirection(landmarks: readonly Point[]): Direction | null {
  if (landmarks.length < 478) return null;
  const irises = IRIS_CENTRES.map((i) => landmarks[i]!);
  let yaw = 0;
  let pitch = 0;
  let weight = 0;
  for (const eye of EYES) {
    const a = landmarks[eye.outer]!;
    const b = landmarks[eye.inner]!;
    const ax = b.x - a.x;
    const ay = b.y - a.y;
    const width = Math.hypot(ax, ay);
    if (!(width >= MIN_EYE_WIDTH)) continue;
    const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
    // Which iris is this eye's: the nearer to its middle (the layout's own
    // left/right naming differs between model versions; distance does not).
    const iris = irises.reduce((p, q) => (dist(q, mid) < dist(p, mid) ? q : p));
    if (dist(iris, mid) > width) continue;
    // Unit vectors along the eye (towards the image's right) and across it (down).
    const sign = ax >= 0 ? 1 : -1;
    const ux = (sign * ax) / width;
    const uy = (sign * ay) / width;
    const dx = iris.x - mid.x;
    const dy = iris.y - mid.y;
    const along = (dx * ux + dy * uy) / width;
    const across = (-dx * uy + dy * ux) / width;
    yaw += asinDeg(along / EYEBALL_RADIUS) * width;
    pitch += asinDeg(across / EYEBALL_RADIUS) * width;
    weight += width;
  }
  if (weight === 0) return null;
  return { yawDeg: yaw / weight, pitchDeg: pitch / weight };
}

function dist(p: Point, q: Point): number {
  return Math.hypot(p.x - q.x, p.y - q.y);
}

/** Head and eyes together, or the head alone where the eyes were not read. */
export function combine(head: Direction, eyes: Direction | null): Direction {
  return eyes ? { yawDeg: head.yawDeg + eyes.yawDeg, pitchDeg: head.pitchDeg + eyes.pitchDeg } : head;
}

export interface CalibrationOptions {
  /** How long the student must look at the dot, in ms of usable frames. */
  durationMs: number;
  /** Fewer samples than this in that time: not enough to trust. */
  minSamples: number;
  /** A spread (degrees from the median that 80% of samples keep within) above this: the student was not still; start again. */
  maxSpreadDeg: number;
}

export const DEFAULT_CALIBRATION: CalibrationOptions = { durationMs: 2000, minSamples: 12, maxSpreadDeg: 6 };

export type CalibrationState =
  | { state: "collecting"; progress: number }
  | { state: "done"; screen: Direction; samples: number }
  /** The samples wandered: collecting again from the next one. */
  | { state: "restarted"; reason: string };

/**
 * Where the screen is, from where the student looked while asked to look at
 * a dot in its middle: the median of head-and-eyes directions over
 * `durationMs` of frames with one face. A frame without exactly one face
 * restarts the wait (the student stepped away); a wandering gaze restarts it
 * too, so a calibration made while looking elsewhere is not kept.
 */
export class GazeCalibration {
  private samples: Array<{ at: number; d: Direction }> = [];
  private result: Direction | null = null;

  constructor(private readonly opts: CalibrationOptions = DEFAULT_CALIBRATION) {}

  get screen(): Direction | null {
    return this.result;
  }

  /** One analysed frame: `direction` is head and eyes together, absent without exactly one face. */
  add(at: number, direction: Direction | null): CalibrationState {
    if (this.result) return { state: "done", screen: this.result, samples: this.samples.length };
    if (!direction || !Number.isFinite(direction.yawDeg) || !Number.isFinite(direction.pitchDeg)) {
      const had = this.samples.length > 0;
      this.samples = [];
      return had ? { state: "restarted", reason: "no single face in view" } : { state: "collecting", progress: 0 };
    }
    this.samples.push({ at, d: direction });
    const first = this.samples[0]!.at;
    const elapsed = at - first;
    if (elapsed < this.opts.durationMs || this.samples.length < this.opts.minSamples) {
      return { state: "collecting", progress: Math.min(0.99, elapsed / this.opts.durationMs) };
    }
    const yaw = median(this.samples.map((s) => s.d.yawDeg));
    const pitch = median(this.samples.map((s) => s.d.pitchDeg));
    // Most (80%) of the samples must lie near the median: a plain median
    // deviation would miss a gaze that went back and forth between two places.
    const spread = Math.max(
      quantile(this.samples.map((s) => Math.abs(s.d.yawDeg - yaw)), 0.8),
      quantile(this.samples.map((s) => Math.abs(s.d.pitchDeg - pitch)), 0.8),
    );
    if (spread > this.opts.maxSpreadDeg) {
      this.samples = [];
      return { state: "restarted", reason: `the gaze moved (${spread.toFixed(1)}° spread)` };
    }
    this.result = { yawDeg: yaw, pitchDeg: pitch };
    return { state: "done", screen: this.result, samples: this.samples.length };
  }
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
