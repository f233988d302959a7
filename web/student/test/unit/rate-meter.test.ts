import { describe, expect, it } from "vitest";
import { RateMeter } from "../../src/rate-meter.ts";

describe("rate over a sliding window", () => {
  it("is 0 for one event, then events per second, and forgets what left the window", () => {
    const m = new RateMeter(5000);
    expect(m.tick(0)).toBe(0);
    let r = 0;
    for (let t = 100; t <= 2000; t += 100) r = m.tick(t);
    expect(r).toBeCloseTo(10, 6);
    // Slower now: after the window has passed, only the slow events count.
    for (let t = 2500; t <= 12_000; t += 500) r = m.tick(t);
    expect(r).toBeCloseTo(2, 6);
    m.reset();
    expect(m.tick(20_000)).toBe(0);
  });
});
