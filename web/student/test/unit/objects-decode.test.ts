import { describe, expect, it } from "vitest";
import {
  COCO_LABELS,
  PROCTOR_LABELS,
  ObjectDecodeError,
  cocoClassIndex,
  decodeCenterNet,
  fitContent,
  iou,
  nonMaxSuppression,
  type DecodeInput,
} from "../../src/objects-decode.ts";

const PHONE = cocoClassIndex("cell_phone");
const BOOK = cocoClassIndex("book");

/** A synthetic CenterNet output: gw×gh grid, channels for `classes`, stride inputSize/gw. */
function grid(gw: number, gh: number, classes: number[], inputSize = 512) {
  const heat = new Float32Array(gw * gh * classes.length);
  const wh = new Float32Array(gw * gh * 4);
  const input: DecodeInput = { heat, wh, gridWidth: gw, gridHeight: gh, channelClasses: classes, inputSize };
  return {
    input,
    /** Sets a peak at cell (x, y) of channel ch with box edges l, t, r, b (input px from x·s, y·s). */
    peak(x: number, y: number, ch: number, score: number, ltrb: [number, number, number, number]) {
      heat[(y * gw + x) * classes.length + ch] = score;
      wh.set(ltrb, (y * gw + x) * 4);
    },
    set(x: number, y: number, ch: number, score: number) {
      heat[(y * gw + x) * classes.length + ch] = score;
    },
  };
}

describe("label table", () => {
  it("has the 80 COCO classes in model channel order", () => {
    expect(COCO_LABELS).toHaveLength(80);
    expect(COCO_LABELS[0]).toBe("person");
    expect(cocoClassIndex("laptop")).toBe(63);
    expect(cocoClassIndex("remote")).toBe(65);
    expect(PHONE).toBe(67);
    expect(BOOK).toBe(73);
    expect(COCO_LABELS[79]).toBe("toothbrush");
    expect(new Set(COCO_LABELS).size).toBe(80);
    expect(cocoClassIndex("unicorn")).toBe(-1);
    for (const l of PROCTOR_LABELS) expect(cocoClassIndex(l)).toBeGreaterThanOrEqual(0);
  });
});

describe("decodeCenterNet", () => {
  it("decodes one peak into a normalised box (stride 4, whole input)", () => {
    const g = grid(128, 128, [PHONE]);
    // centre (64·4, 32·4) = (256, 128); box 256−56..256+72, 128−20..128+44
    g.peak(64, 32, 0, 0.8, [56, 20, 72, 44]);
    const [d, ...rest] = decodeCenterNet(g.input);
    expect(rest).toHaveLength(0);
    expect(d?.label).toBe("cell_phone");
    expect(d?.classIndex).toBe(PHONE);
    expect(d?.score).toBeCloseTo(0.8, 6);
    expect(d?.box.x).toBeCloseTo(200 / 512, 6);
    expect(d?.box.y).toBeCloseTo(108 / 512, 6);
    expect(d?.box.width).toBeCloseTo(128 / 512, 6);
    expect(d?.box.height).toBeCloseTo(64 / 512, 6);
  });

  it("maps boxes back through a letterbox content rect and clips to the frame", () => {
    const g = grid(128, 128, [BOOK]);
    const content = fitContent(640, 480, 512, "letterbox"); // 512×384 at y = 64
    expect(content).toEqual({ x: 0, y: 64, width: 512, height: 384 });
    // centre (100·4, 20·4) = (400, 80); y1 = 80−30 = 50 lies in the top padding
    g.peak(100, 20, 0, 0.9, [40, 30, 200, 50]);
    const [d] = decodeCenterNet({ ...g.input, content });
    expect(d).toBeDefined();
    expect(d?.box.x).toBeCloseTo(360 / 512, 6);
    expect(d?.box.y).toBe(0); // clipped
    expect(d?.box.width).toBeCloseTo(1 - 360 / 512, 6); // x2 = 600 > 512: clipped
    expect(d?.box.height).toBeCloseTo((130 - 64) / 384, 6);
  });

  it("drops boxes that lie wholly in the letterbox padding", () => {
    const g = grid(128, 128, [BOOK]);
    g.peak(10, 5, 0, 0.9, [8, 8, 8, 8]); // y 12..28 < 64
    expect(decodeCenterNet({ ...g.input, content: { x: 0, y: 64, width: 512, height: 384 } })).toEqual([]);
  });

  it("keeps only local maxima of each channel (3×3)", () => {
    const g = grid(16, 16, [PHONE, BOOK]);
    g.peak(5, 5, 0, 0.9, [4, 4, 4, 4]);
    g.set(6, 5, 0, 0.85); // neighbour, lower: not a peak
    g.set(4, 6, 0, 0.7);
    g.peak(6, 5, 1, 0.6, [4, 4, 4, 4]); // same cell as a phone shoulder, other channel: a peak
    g.peak(12, 12, 0, 0.5, [2, 2, 2, 2]); // far away: a peak
    const out = decodeCenterNet(g.input, { minScore: 0.3 });
    expect(out.map((d) => [d.label, Number(d.score.toFixed(2))])).toEqual([
      ["cell_phone", 0.9],
      ["book", 0.6],
      ["cell_phone", 0.5],
    ]);
  });

  it("keeps equal neighbours, as the graph's Equal(heat, maxpool) does, then NMS merges them", () => {
    const g = grid(8, 8, [PHONE]);
    g.peak(3, 3, 0, 0.6, [200, 200, 200, 200]); // stride 64
    g.peak(4, 3, 0, 0.6, [200, 200, 200, 200]);
    expect(decodeCenterNet(g.input, { iouThreshold: 0.99 })).toHaveLength(2);
    expect(decodeCenterNet(g.input)).toHaveLength(1);
  });

  it("applies minScore, sorts by score, caps maxDetections and topK", () => {
    const g = grid(32, 32, [PHONE]);
    const scores = [0.2, 0.95, 0.5, 0.31, 0.7];
    scores.forEach((s, i) => g.peak(3 + i * 5, 10, 0, s, [2, 2, 2, 2]));
    expect(decodeCenterNet(g.input).map((d) => d.score.toFixed(2))).toEqual(["0.95", "0.70", "0.50", "0.31"]);
    expect(decodeCenterNet(g.input, { minScore: 0.6 })).toHaveLength(2);
    expect(decodeCenterNet(g.input, { maxDetections: 1 }).map((d) => d.score.toFixed(2))).toEqual(["0.95"]);
    expect(decodeCenterNet(g.input, { topK: 2 })).toHaveLength(2);
    expect(decodeCenterNet(g.input, { maxDetections: 0 })).toEqual([]);
  });

  it("suppresses overlapping boxes per class, or across classes when classAgnostic", () => {
    const g = grid(64, 64, [PHONE, cocoClassIndex("remote")]);
    g.peak(20, 20, 0, 0.8, [40, 30, 40, 30]);
    g.peak(22, 20, 0, 0.6, [40, 30, 40, 30]); // same object, lower: suppressed
    g.peak(20, 20, 1, 0.5, [40, 30, 40, 30]); // same box as remote: kept per class
    const perClass = decodeCenterNet(g.input);
    expect(perClass.map((d) => d.label)).toEqual(["cell_phone", "remote"]);
    const agnostic = decodeCenterNet(g.input, { classAgnostic: true });
    expect(agnostic.map((d) => d.label)).toEqual(["cell_phone"]);
  });

  it("ignores NaN scores and non-finite box regressions", () => {
    const g = grid(8, 8, [PHONE]);
    g.peak(1, 1, 0, NaN, [2, 2, 2, 2]);
    g.peak(5, 5, 0, 0.9, [NaN, 2, 2, 2]);
    g.peak(2, 6, 0, 0.8, [Infinity, 2, 2, 2]); // x1 = −∞ clips to 0: still a box
    const out = decodeCenterNet(g.input);
    expect(out).toHaveLength(1);
    expect(out[0]?.box.x).toBe(0);
  });

  it("drops degenerate (zero or negative size) boxes", () => {
    const g = grid(8, 8, [PHONE]);
    g.peak(4, 4, 0, 0.9, [-5, 2, 2, 2]); // x1 > x2
    expect(decodeCenterNet(g.input)).toEqual([]);
  });

  it("returns nothing for no channels, and nothing for an all-zero map", () => {
    expect(decodeCenterNet({ heat: [], wh: new Float32Array(4 * 4 * 4), gridWidth: 4, gridHeight: 4, channelClasses: [], inputSize: 16 })).toEqual([]);
    expect(decodeCenterNet(grid(8, 8, [PHONE]).input)).toEqual([]);
  });

  it("throws ObjectDecodeError for wrong shapes and options", () => {
    const g = grid(8, 8, [PHONE]);
    const bad = (f: () => unknown, code: string) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ObjectDecodeError);
        expect((e as ObjectDecodeError).code).toBe(code);
        return;
      }
      throw new Error("did not throw");
    };
    bad(() => decodeCenterNet({ ...g.input, heat: new Float32Array(10) }), "bad_shape");
    bad(() => decodeCenterNet({ ...g.input, wh: new Float32Array(10) }), "bad_shape");
    bad(() => decodeCenterNet({ ...g.input, gridWidth: 0 }), "bad_shape");
    bad(() => decodeCenterNet({ ...g.input, gridWidth: 2.5 }), "bad_shape");
    bad(() => decodeCenterNet({ ...g.input, channelClasses: [80] }), "bad_shape");
    bad(() => decodeCenterNet({ ...g.input, content: { x: 0, y: 0, width: 0, height: 10 } }), "bad_shape");
    bad(() => decodeCenterNet({ ...g.input, content: { x: NaN, y: 0, width: 5, height: 10 } }), "bad_shape");
    bad(() => decodeCenterNet(g.input, { minScore: 1.5 }), "bad_option");
    bad(() => decodeCenterNet(g.input, { minScore: NaN }), "bad_option");
    bad(() => decodeCenterNet(g.input, { iouThreshold: -0.1 }), "bad_option");
    bad(() => decodeCenterNet(g.input, { maxDetections: 1.5 }), "bad_option");
    bad(() => decodeCenterNet(g.input, { topK: 0 }), "bad_option");
  });
});

describe("iou / nonMaxSuppression", () => {
  const box = (classIndex: number, score: number, x1: number, y1: number, x2: number, y2: number) => ({ classIndex, score, x1, y1, x2, y2 });

  it("computes IoU", () => {
    expect(iou(box(0, 1, 0, 0, 2, 2), box(0, 1, 1, 1, 3, 3))).toBeCloseTo(1 / 7, 9);
    expect(iou(box(0, 1, 0, 0, 1, 1), box(0, 1, 2, 2, 3, 3))).toBe(0);
    expect(iou(box(0, 1, 0, 0, 1, 1), box(0, 1, 0, 0, 1, 1))).toBe(1);
    expect(iou(box(0, 1, 0, 0, 0, 0), box(0, 1, 0, 0, 0, 0))).toBe(0);
  });

  it("keeps the best of overlapping boxes and respects maxKeep", () => {
    const boxes = [box(1, 0.9, 0, 0, 10, 10), box(1, 0.8, 1, 1, 11, 11), box(1, 0.7, 20, 20, 30, 30), box(2, 0.6, 0, 0, 10, 10)];
    expect(nonMaxSuppression(boxes, 0.5, 10).map((b) => b.score)).toEqual([0.9, 0.7, 0.6]);
    expect(nonMaxSuppression(boxes, 0.5, 10, true).map((b) => b.score)).toEqual([0.9, 0.7]);
    expect(nonMaxSuppression(boxes, 0.5, 1).map((b) => b.score)).toEqual([0.9]);
  });
});

describe("fitContent", () => {
  it("letterboxes landscape and portrait frames, or stretches", () => {
    expect(fitContent(640, 480, 512, "letterbox")).toEqual({ x: 0, y: 64, width: 512, height: 384 });
    expect(fitContent(480, 640, 512, "letterbox")).toEqual({ x: 64, y: 0, width: 384, height: 512 });
    expect(fitContent(1280, 720, 512, "letterbox")).toEqual({ x: 0, y: 112, width: 512, height: 288 });
    expect(fitContent(512, 512, 512, "letterbox")).toEqual({ x: 0, y: 0, width: 512, height: 512 });
    expect(fitContent(10000, 1, 512, "letterbox")).toEqual({ x: 0, y: 255, width: 512, height: 1 });
    expect(fitContent(640, 480, 512, "stretch")).toEqual({ x: 0, y: 0, width: 512, height: 512 });
  });

  it("rejects empty or fractional sizes", () => {
    expect(() => fitContent(0, 480, 512, "letterbox")).toThrow(ObjectDecodeError);
    expect(() => fitContent(640, -1, 512, "letterbox")).toThrow(ObjectDecodeError);
    expect(() => fitContent(640.5, 480, 512, "stretch")).toThrow(ObjectDecodeError);
  });
});
