import { describe, expect, it } from "vitest";
import type { ExamSettings, SessionView } from "@proto";
import { DEFAULT_BREAK_MINUTES, breakConfirmText, breakCountdownText, breakLeftMs, breakOffer, examTimeLeftMs } from "../../src/timing.ts";

const view = (phase: SessionView["phase"], extra: Partial<SessionView> = {}): SessionView => ({ phase, closes_at: 10_000_000, as_of: 1_000_000, breaks_left: 0, ...extra });

describe("exam time left", () => {
  it("counts down from the server's view by the server's clock while in progress", () => {
    const v = view("in_progress", { time_left_ms: 60_000 });
    expect(examTimeLeftMs(v, 1_000_000)).toBe(60_000);
    expect(examTimeLeftMs(v, 1_010_000)).toBe(50_000);
    // A page clock behind the server's view never adds time.
    expect(examTimeLeftMs(v, 990_000)).toBe(60_000);
  });

  it("is held while paused or on a break, and absent without a duration or before the start", () => {
    expect(examTimeLeftMs(view("on_break", { time_left_ms: 42_000 }), 9_999_999)).toBe(42_000);
    expect(examTimeLeftMs(view("paused", { time_left_ms: 42_000 }), 9_999_999)).toBe(42_000);
    expect(examTimeLeftMs(view("in_progress"), 1)).toBeNull();
    expect(examTimeLeftMs(view("ready", { time_left_ms: 5 }), 1)).toBeNull();
    expect(examTimeLeftMs(null, 1)).toBeNull();
  });
});

describe("breaks", () => {
  it("a break's time left runs to break_ends_at by the server's clock, and stops at 0", () => {
    const v = view("on_break", { break_ends_at: 1_600_000 });
    expect(breakLeftMs(v, 1_000_000)).toBe(600_000);
    expect(breakLeftMs(v, 1_599_000)).toBe(1_000);
    expect(breakLeftMs(v, 1_700_000)).toBe(0);
    expect(breakLeftMs(view("in_progress", { break_ends_at: 5 }), 1)).toBeNull();
  });

  it("is offered while in progress with breaks left, lasting the policy's minutes (10 without one)", () => {
    const settings = { breaks: { count: 2, minutes: 5 } } as ExamSettings;
    expect(breakOffer(view("in_progress", { breaks_left: 2 }), settings)).toEqual({ left: 2, minutes: 5 });
    expect(breakOffer(view("in_progress", { breaks_left: 1 }), {} as ExamSettings)).toEqual({ left: 1, minutes: DEFAULT_BREAK_MINUTES });
    expect(breakOffer(view("in_progress", { breaks_left: 0 }), settings)).toBeNull();
    expect(breakOffer(view("paused", { breaks_left: 2 }), settings)).toBeNull();
    expect(breakOffer(view("on_break", { breaks_left: 1 }), settings)).toBeNull();
    expect(breakOffer(null, settings)).toBeNull();
  });

  it("says how many remain and how long one lasts; counts down in words", () => {
    expect(breakConfirmText({ left: 2, minutes: 5 })).toMatch(/^You have 2 breaks left; this uses one\. A break lasts up to 5 minutes\./);
    expect(breakConfirmText({ left: 1, minutes: 10 })).toMatch(/^This is your last break\. A break lasts up to 10 minutes\./);
    expect(breakConfirmText({ left: 3, minutes: 1 })).toMatch(/up to 1 minute\. .* after 1 minute it/);
    expect(breakCountdownText(125_000)).toBe("Your break ends in 2:05.");
    expect(breakCountdownText(0)).toMatch(/over/);
    expect(breakCountdownText(null)).toBe("Your break has started.");
  });
});
