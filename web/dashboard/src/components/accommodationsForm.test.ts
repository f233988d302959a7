import { describe, expect, it } from "vitest";
import type { Accommodations } from "@proto";
import { accommodationFieldsOf, accommodationsFrom, describeAccommodations } from "./accommodationsForm";

const some: Accommodations = {
  extra_time_pct: 50,
  extra_time_min: 15,
  extra_breaks: 2,
  disabled_detectors: ["looking_away", "media_stalled"],
  note: "Uses a screen reader",
  thresholds: { no_face_after_ms: 8000 },
};

describe("the accommodations form", () => {
  it("round-trips accommodations, keeping detectors the form does not show", () => {
    expect(accommodationsFrom(accommodationFieldsOf(some), some)).toEqual(some);
    const f = accommodationFieldsOf(some);
    const off = new Set(f.off);
    off.delete("looking_away");
    off.add("copy_paste");
    expect(accommodationsFrom({ ...f, off }, some)).toMatchObject({ disabled_detectors: ["media_stalled", "copy_paste"] });
  });

  it("starts from nothing: zeros, no detectors off, no thresholds", () => {
    const f = accommodationFieldsOf(undefined);
    expect(f).toMatchObject({ extraTimePct: "0", extraTimeMin: "0", extraBreaks: "0", note: "" });
    expect(accommodationsFrom(f)).toEqual({ extra_time_pct: 0, extra_time_min: 0, extra_breaks: 0, disabled_detectors: [] });
    // A blank number is no extra.
    expect(accommodationsFrom({ ...f, extraBreaks: "" })).toMatchObject({ extra_breaks: 0 });
  });

  it("sets extra breaks and per-student thresholds", () => {
    const f = accommodationFieldsOf(undefined);
    const next = accommodationsFrom({ ...f, extraBreaks: "20", thresholds: { noFaceMs: "", lookingAwayMs: "6000", yawDeg: "60", pitchDeg: "" } });
    expect(next).toMatchObject({ extra_breaks: 20, thresholds: { looking_away_after_ms: 6000, yaw_limit_deg: 60 } });
    expect(next).not.toHaveProperty("thresholds.no_face_after_ms");
  });

  it("refuses values outside the ranges the wire type states", () => {
    const f = accommodationFieldsOf(undefined);
    expect(accommodationsFrom({ ...f, extraBreaks: "21" })).toEqual({ error: "Extra breaks must be a whole number from 0 to 20." });
    expect(accommodationsFrom({ ...f, extraTimePct: "301" })).toHaveProperty("error");
    expect(accommodationsFrom({ ...f, extraTimeMin: "1441" })).toHaveProperty("error");
    expect(accommodationsFrom({ ...f, extraTimeMin: "-5" })).toHaveProperty("error");
    expect(accommodationsFrom({ ...f, thresholds: { noFaceMs: "100", lookingAwayMs: "", yawDeg: "", pitchDeg: "" } })).toHaveProperty("error");
    expect(accommodationsFrom({ ...f, note: "x".repeat(501) })).toEqual({ error: "The note is limited to 500 characters." });
  });

  it("says what a student has in one line", () => {
    expect(describeAccommodations(undefined)).toBe("none");
    expect(describeAccommodations({ extra_time_pct: 0, extra_time_min: 0, extra_breaks: 0, disabled_detectors: [] })).toBe("none");
    expect(describeAccommodations(some)).toBe("+50% time · +15 min · +2 breaks · off: Looking away, Video stalled · no face after 8,000 ms");
    expect(describeAccommodations({ ...some, extra_breaks: 1, extra_time_pct: 0, extra_time_min: 0, disabled_detectors: [], thresholds: undefined })).toBe("+1 break");
  });
});
