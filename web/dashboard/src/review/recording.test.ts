import { describe, expect, it } from "vitest";
import type { IncidentRecord, RecordingSegment } from "@proto";
import { LEAD_IN_MS, covers, extent, fraction, locate, markers, momentOf, seekTargetFor, spans } from "./recording";

const T0 = 1_700_000_000_000;
const segment = (sha256: string, at: number, durationMs: number): RecordingSegment => ({
  sha256,
  container: "webm",
  started_at: at,
  duration_ms: durationMs,
  frames: 900,
  keyframes: 20,
  width: 640,
  height: 480,
  bytes: 2_000_000,
});
const incident = (id: string, at: number): IncidentRecord => ({ id, student_id: "s1", kind: "no_face", source: "client", started_at: at, accepted_at: at + 100 });

// Two back-to-back minutes, a gap of 30 s (the camera was off), a last half minute; given out of order.
const all = spans([segment("c", T0 + 150_000, 30_000), segment("a", T0, 60_000), segment("b", T0 + 60_000, 60_000)]);

describe("a recording's segments on the exam's clock", () => {
  it("orders the segments and ends each where it ends", () => {
    expect(all.map((s) => [s.segment.sha256, s.start - T0, s.end - T0])).toEqual([
      ["a", 0, 60_000],
      ["b", 60_000, 120_000],
      ["c", 150_000, 180_000],
    ]);
    expect(extent(all)).toEqual({ from: T0, to: T0 + 180_000 });
    expect(extent([])).toBeUndefined();
  });

  it("clips a segment that runs past the next one's start (a clock step between them)", () => {
    const overlapping = spans([segment("a", T0, 61_000), segment("b", T0 + 60_000, 1_000)]);
    expect(overlapping.map((s) => s.end - T0)).toEqual([60_000, 61_000]);
  });

  it("finds the segment and the offset of a moment", () => {
    expect(locate(all, T0)).toEqual({ index: 0, offsetS: 0 });
    expect(locate(all, T0 + 59_500)).toEqual({ index: 0, offsetS: 59.5 });
    expect(locate(all, T0 + 60_000)).toEqual({ index: 1, offsetS: 0 });
    expect(locate(all, T0 + 151_250)).toEqual({ index: 2, offsetS: 1.25 });
  });

  it("plays a moment in a gap, or before the recording, from the next segment's start", () => {
    expect(locate(all, T0 + 130_000)).toEqual({ index: 2, offsetS: 0 });
    expect(locate(all, T0 - 5_000)).toEqual({ index: 0, offsetS: 0 });
    expect(locate(all, T0 + 180_000)).toBeUndefined();
    expect(locate([], T0)).toBeUndefined();
  });

  it("turns the player's position back into the exam's clock", () => {
    expect(momentOf(all, 1, 12.5)).toBe(T0 + 72_500);
    // A player may run a little past the duration the server measured.
    expect(momentOf(all, 2, 31)).toBe(T0 + 180_000);
    expect(momentOf(all, 3, 0)).toBeUndefined();
  });

  it("tells which moments the recording shows", () => {
    expect(covers(all, T0 + 10_000)).toBe(true);
    expect(covers(all, T0 + 130_000)).toBe(false);
    expect(covers(all, T0 + 180_000)).toBe(false);
  });

  it("places incidents along the recording, marking those in a gap", () => {
    const ms = markers(all, [incident("late", T0 + 200_000), incident("gap", T0 + 135_000), incident("first", T0 + 45_000), incident("early", T0 - 1)]);
    expect(ms.map((m) => [m.incident.id, m.at, m.recorded])).toEqual([
      ["first", 0.25, true],
      ["gap", 0.75, false],
    ]);
    expect(fraction({ from: 10, to: 10 }, 10)).toBe(0);
  });

  it("starts an incident's playback a little before it, within its segment", () => {
    expect(seekTargetFor(all, T0 + 45_000)).toBe(T0 + 45_000 - LEAD_IN_MS);
    // Near a segment's start the lead-in stops there rather than playing the gap.
    expect(seekTargetFor(all, T0 + 150_500)).toBe(T0 + 150_000);
    // In a gap: the moment itself (locate plays the next segment).
    expect(seekTargetFor(all, T0 + 135_000)).toBe(T0 + 135_000);
  });
});
