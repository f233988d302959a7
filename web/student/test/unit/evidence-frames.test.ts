import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EvidenceFrames } from "../../src/evidence-frames.ts";

class Frame {
  closed = false;
  constructor(readonly name: string) {}
  close(): void {
    this.closed = true;
  }
}

function make(waitMs = 3000, maxAgeMs = 4000) {
  return new EvidenceFrames<Frame>({
    waitMs,
    maxAgeMs,
    now: () => Date.now(),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  });
}

/** What a capture saw: the frame's name and time, and whether it was still open when drawn. */
const draw = (frame: Frame, at: number) => ({ name: frame.name, at, open: !frame.closed });

describe("evidence frames", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(10_000);
  });
  afterEach(() => vi.useRealTimers());

  it("a fresh frame nobody has used is taken at once", async () => {
    const frames = make();
    frames.keep(new Frame("a"), 10_000);
    await expect(frames.take(draw)).resolves.toEqual({ name: "a", at: 10_000, open: true });
  });

  it("two incidents a moment apart get two frames, the second waiting for the next one", async () => {
    const frames = make();
    frames.keep(new Frame("a"), 10_000);
    const first = await frames.take(draw);
    let second: unknown = "pending";
    void frames.take(draw).then((r) => (second = r));
    await vi.advanceTimersByTimeAsync(1200);
    expect(second).toBe("pending");
    vi.setSystemTime(11_250);
    frames.keep(new Frame("b"), 11_250);
    await vi.advanceTimersByTimeAsync(0);
    expect(first).toEqual({ name: "a", at: 10_000, open: true });
    expect(second).toEqual({ name: "b", at: 11_250, open: true });
  });

  it("captures waiting together take new frames in the order they asked", async () => {
    const frames = make();
    frames.keep(new Frame("a"), 10_000);
    await frames.take(draw);
    const got: string[] = [];
    const waits = ["x", "y", "z"].map((tag) => frames.take((f) => got.push(`${tag}:${f.name}`)));
    frames.keep(new Frame("b"), 10_100);
    frames.keep(new Frame("c"), 10_200);
    frames.keep(new Frame("d"), 10_300);
    await Promise.all(waits);
    expect(got).toEqual(["x:b", "y:c", "z:d"]);
  });

  it("a new capture queues behind one already waiting instead of taking the frame meant for it", async () => {
    const frames = make();
    frames.keep(new Frame("a"), 10_000);
    await frames.take(draw);
    const got: string[] = [];
    const early = frames.take((f) => got.push(`early:${f.name}`));
    const late = frames.take((f) => got.push(`late:${f.name}`));
    frames.keep(new Frame("b"), 10_100);
    frames.keep(new Frame("c"), 10_200);
    await Promise.all([early, late]);
    expect(got).toEqual(["early:b", "late:c"]);
  });

  it("a frozen loop: after the wait the last frame is taken again, still open", async () => {
    const frames = make(3000);
    frames.keep(new Frame("a"), 10_000);
    await frames.take(draw);
    let again: unknown = "pending";
    void frames.take(draw).then((r) => (again = r));
    await vi.advanceTimersByTimeAsync(2999);
    expect(again).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    expect(again).toEqual({ name: "a", at: 10_000, open: true });
  });

  it("a frame from before a stall is not taken while a fresher one may come", async () => {
    const frames = make(3000, 4000);
    frames.keep(new Frame("old"), 10_000);
    vi.setSystemTime(14_001);
    let got: unknown = "pending";
    void frames.take(draw).then((r) => (got = r));
    await vi.advanceTimersByTimeAsync(500);
    expect(got).toBe("pending");
    frames.keep(new Frame("new"), 14_501);
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual({ name: "new", at: 14_501, open: true });
  });

  it("no frame analysed at all: waits, then resolves null", async () => {
    const frames = make(3000);
    let got: unknown = "pending";
    void frames.take(draw).then((r) => (got = r));
    await vi.advanceTimersByTimeAsync(3000);
    expect(got).toBeNull();
  });

  it("the first frame to arrive serves a capture that asked before any frame", async () => {
    const frames = make(3000);
    const pending = frames.take(draw);
    frames.keep(new Frame("first"), 10_500);
    await expect(pending).resolves.toEqual({ name: "first", at: 10_500, open: true });
  });

  it("keeping a frame closes the one before, never the one kept", () => {
    const frames = make();
    const a = new Frame("a");
    const b = new Frame("b");
    frames.keep(a, 10_000);
    frames.keep(b, 10_100);
    expect([a.closed, b.closed]).toEqual([true, false]);
  });

  it("a capture whose drawing throws rejects, and the next capture still works", async () => {
    const frames = make();
    frames.keep(new Frame("a"), 10_000);
    await frames.take(draw);
    const failing = frames.take(() => {
      throw new Error("draw failed");
    });
    frames.keep(new Frame("b"), 10_100);
    await expect(failing).rejects.toThrow("draw failed");
    const next = frames.take(draw);
    frames.keep(new Frame("c"), 10_200);
    await expect(next).resolves.toEqual({ name: "c", at: 10_200, open: true });
  });

  it("a skipped frame serves a waiting capture, and is not taken when nobody waits", async () => {
    const frames = make();
    const analysed = new Frame("analysed");
    frames.keep(analysed, 10_000);
    await frames.take(draw);
    expect(frames.offer(new Frame("skipped-early"), 10_010)).toBe(false);
    const waiting = frames.take(draw);
    expect(frames.offer(new Frame("skipped"), 10_040)).toBe(true);
    await expect(waiting).resolves.toEqual({ name: "skipped", at: 10_040, open: true });
    // The analysed frame stays kept and open: the caller closes the skipped one.
    expect(analysed.closed).toBe(false);
    // The next capture waits again, and a frame after the wait is the analysed one.
    let again: unknown = "pending";
    void frames.take(draw).then((r) => (again = r));
    await vi.advanceTimersByTimeAsync(3000);
    expect(again).toEqual({ name: "analysed", at: 10_000, open: true });
  });
});
