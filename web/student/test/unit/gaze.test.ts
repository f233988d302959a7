import { describe, expect, it } from "vitest";
import { DEFAULT_CALIBRATION, GazeCalibration, combine, eyeDirection, type Point } from "../../src/gaze.ts";

/**
 * A face's 478 landmarks with only the eyes placed: each eye 0.06 image
 * widths across, its iris moved `along` and `across` eye widths from the
 * middle of the eye (towards the image's right and down).
 */
function face(along: number, across: number, opts: { roll?: number; leftIrisFirst?: boolean } = {}): Point[] {
  const pts: Point[] = Array.from({ length: 478 }, () => ({ x: 0.5, y: 0.5 }));
  const roll = opts.roll ?? 0;
  const w = 0.06;
  const u = { x: Math.cos(roll), y: Math.sin(roll) };
  const n = { x: -u.y, y: u.x };
  const eye = (cx: number, cy: number, outer: number, inner: number, irisAt: number, outerFirst: boolean) => {
    const a = { x: cx - (u.x * w) / 2, y: cy - (u.y * w) / 2 };
    const b = { x: cx + (u.x * w) / 2, y: cy + (u.y * w) / 2 };
    pts[outer] = outerFirst ? a : b;
    pts[inner] = outerFirst ? b : a;
    pts[irisAt] = { x: cx + (u.x * along + n.x * across) * w, y: cy + (u.y * along + n.y * across) * w };
  };
  // Image-left eye (landmarks 33/133) and image-right eye (263/362).
  const [first, second] = opts.leftIrisFirst === false ? [473, 468] : [468, 473];
  eye(0.4, 0.4, 33, 133, first, true);
  eye(0.6, 0.4, 263, 362, second, false);
  return pts;
}

const deg = (d: number) => (d * Math.PI) / 180;

describe("eye direction from the iris", () => {
  it("is zero with the irises in the middle of the eyes", () => {
    const d = eyeDirection(face(0, 0))!;
    expect(d.yawDeg).toBeCloseTo(0, 6);
    expect(d.pitchDeg).toBeCloseTo(0, 6);
  });

  it("reads an iris moved along the eye as yaw, across it as pitch, with the head pose's signs", () => {
    // 0.2 eye widths on a 0.4-eye-width eyeball: asin(0.5) = 30°.
    expect(eyeDirection(face(0.2, 0))!.yawDeg).toBeCloseTo(30, 6);
    expect(eyeDirection(face(-0.2, 0))!.yawDeg).toBeCloseTo(-30, 6);
    expect(eyeDirection(face(0, 0.1))!.pitchDeg).toBeCloseTo((Math.asin(0.25) * 180) / Math.PI, 6);
    expect(eyeDirection(face(0, -0.1))!.pitchDeg).toBeLessThan(0);
  });

  it("does not depend on a tilted head or on which iris the layout lists first", () => {
    const tilted = eyeDirection(face(0.2, 0, { roll: deg(20) }))!;
    expect(tilted.yawDeg).toBeCloseTo(30, 6);
    expect(tilted.pitchDeg).toBeCloseTo(0, 6);
    expect(eyeDirection(face(0.2, 0.05, { leftIrisFirst: false }))).toEqual(eyeDirection(face(0.2, 0.05)));
  });

  it("gives nothing without iris landmarks or with eyes too small to read", () => {
    expect(eyeDirection(face(0, 0).slice(0, 468))).toBeNull();
    const tiny = face(0, 0);
    for (const i of [33, 133, 263, 362]) tiny[i] = { x: 0.4, y: 0.4 };
    expect(eyeDirection(tiny)).toBeNull();
  });

  it("adds up with the head", () => {
    expect(combine({ yawDeg: 20, pitchDeg: 5 }, { yawDeg: -15, pitchDeg: 10 })).toEqual({ yawDeg: 5, pitchDeg: 15 });
    expect(combine({ yawDeg: 20, pitchDeg: 5 }, null)).toEqual({ yawDeg: 20, pitchDeg: 5 });
  });
});

describe("calibration", () => {
  const at15fps = (i: number) => i * 67;

  it("takes the median direction over 2 s of steady frames", () => {
    const c = new GazeCalibration();
    let last;
    for (let i = 0; i < 40 && last?.state !== "done"; i++) {
      last = c.add(at15fps(i), { yawDeg: -12 + (i % 3) - 1, pitchDeg: 8 + ((i % 3) - 1) * 0.5 });
    }
    expect(last).toMatchObject({ state: "done", screen: { yawDeg: -12, pitchDeg: 8 } });
    expect(c.screen).toEqual({ yawDeg: -12, pitchDeg: 8 });
    // Done is done: later frames change nothing.
    expect(c.add(10_000, { yawDeg: 40, pitchDeg: 0 })).toMatchObject({ state: "done", screen: { yawDeg: -12, pitchDeg: 8 } });
  });

  it("reports progress, and starts again when the face leaves", () => {
    const c = new GazeCalibration();
    expect(c.add(0, { yawDeg: 0, pitchDeg: 0 })).toEqual({ state: "collecting", progress: 0 });
    expect(c.add(1000, { yawDeg: 0, pitchDeg: 0 })).toEqual({ state: "collecting", progress: 0.5 });
    expect(c.add(1100, null)).toEqual({ state: "restarted", reason: "no single face in view" });
    expect(c.add(1200, { yawDeg: 0, pitchDeg: 0 })).toEqual({ state: "collecting", progress: 0 });
    expect(c.screen).toBeNull();
  });

  it("starts again when the gaze wandered, so it never keeps a calibration made looking elsewhere", () => {
    const c = new GazeCalibration();
    const states = [];
    for (let i = 0; i < DEFAULT_CALIBRATION.minSamples * 3; i++) {
      states.push(c.add(at15fps(i), { yawDeg: i % 2 ? 30 : -30, pitchDeg: 0 }).state);
    }
    expect(states).toContain("restarted");
    expect(states).not.toContain("done");
    expect(c.screen).toBeNull();
  });

  it("needs enough samples, not only enough time", () => {
    const c = new GazeCalibration();
    expect(c.add(0, { yawDeg: 0, pitchDeg: 0 }).state).toBe("collecting");
    expect(c.add(5000, { yawDeg: 0, pitchDeg: 0 }).state).toBe("collecting");
  });
});
