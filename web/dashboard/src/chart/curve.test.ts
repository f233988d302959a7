import { describe, expect, it } from "vitest";
import { sampleCurve, scoreAt } from "./curve";

const T0 = 1_700_000_000_000;
const HL = 120; // s
const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;

describe("the score curve", () => {
  const points = [
    { t: T0, score: 4 },
    { t: T0 + 60_000, score: 7 },
    { t: T0 + 3_600_000, score: 2 },
  ];
  const s = sampleCurve(points, HL, T0 + 4_000_000);

  it("passes through every point, in time order, and ends at the end", () => {
    for (const p of points) expect(s.some((q) => q.t === p.t && q.score === p.score)).toBe(true);
    for (let i = 1; i < s.length; i++) expect(s[i]!.t).toBeGreaterThanOrEqual(s[i - 1]!.t);
    expect(s[0]).toEqual(points[0]);
    expect(s.at(-1)!.t).toBe(T0 + 4_000_000);
  });

  it("decays between points as the server does, and rises upright at a point", () => {
    // The sample just before the second point is the first point's score decayed by half a half-life.
    const i = s.findIndex((q) => q.t === T0 + 60_000 && q.score === 7);
    expect(s[i - 1]!.t).toBe(T0 + 60_000);
    expect(close(s[i - 1]!.score, 4 * 2 ** -0.5)).toBe(true);
    // After a half-life, half.
    const half = s.find((q) => q.t === T0 + 60_000 + HL * 1000);
    expect(half && close(half.score, 3.5)).toBe(true);
    // Every sample on the true curve.
    for (const q of s.filter((q) => q.t > T0 + 60_000 && q.t < T0 + 3_600_000)) {
      expect(close(q.score, 7 * 2 ** (-(q.t - T0 - 60_000) / (HL * 1000)))).toBe(true);
    }
  });

  it("samples a long decay densely only while it shows, so the size stays bounded", () => {
    // An hour at a 2-minute half-life: ~7 half-lives to reach 1 %, 4 samples each, then one at the segment's end.
    const long = s.filter((q) => q.t > T0 + 60_000 && q.t < T0 + 3_600_000);
    expect(long.length).toBeGreaterThan(20);
    expect(long.length).toBeLessThan(40);
    expect(s.length).toBeLessThan(100);
  });

  it("holds the score without decay, and draws nothing without points", () => {
    expect(sampleCurve([{ t: T0, score: 3 }], 0, T0 + 10_000)).toEqual([
      { t: T0, score: 3 },
      { t: T0 + 10_000, score: 3 },
    ]);
    expect(sampleCurve([], HL, T0)).toEqual([]);
    // An end before the last point stops at the last point.
    expect(sampleCurve([{ t: T0, score: 3 }], HL, T0 - 5)).toEqual([{ t: T0, score: 3 }]);
    // A zero score does not loop over a long segment.
    expect(sampleCurve([{ t: T0, score: 0 }], 0.001, T0 + 3_600_000)).toHaveLength(2);
  });

  it("gives the score at any time", () => {
    expect(scoreAt(points, HL, T0 - 1)).toBe(0);
    expect(scoreAt(points, HL, T0)).toBe(4);
    expect(close(scoreAt(points, HL, T0 + 60_000 + 120_000), 3.5)).toBe(true);
  });
});
