import { describe, expect, it } from "vitest";
import type { ExamSettings } from "@proto";
import { DETECTORS, describeThresholds, fieldsOf, fromLocalInput, locksAt, settingsFrom, thresholdsFrom, toLocalInput } from "./settingsForm";

const OPENS = new Date(2026, 10, 28, 9, 0, 30, 250).getTime();

function base(): ExamSettings {
  return {
    window: { opens_at: OPENS, closes_at: OPENS + 3 * 3_600_000 },
    scoring: { half_life_s: 300, weights: { no_face: 3 }, watch_at: 4, alert_at: 8 },
    privacy: "events_only",
    evidence_retention_days: 30,
    stall_after_s: 10,
    disabled_detectors: ["looking_away", "media_stalled"],
    identity_check: "off",
    identity_auto_approve: false,
    microphone: false,
  };
}

describe("the settings form", () => {
  it("turns the microphone on and off", () => {
    const on = settingsFrom(base(), { ...fieldsOf(base()), microphone: true });
    expect(on).toMatchObject({ microphone: true });
    expect(fieldsOf(on as ExamSettings).microphone).toBe(true);
  });

  it("round-trips untouched settings exactly, seconds included", () => {
    const s = base();
    expect(settingsFrom(s, fieldsOf(s))).toEqual(s);
  });

  it("shows detectors on unless switched off, and keeps kinds it does not show", () => {
    const f = fieldsOf(base());
    expect(f.enabled.has("looking_away")).toBe(false);
    expect(f.enabled.has("no_face")).toBe(true);
    const enabled = new Set(f.enabled);
    enabled.add("looking_away");
    enabled.delete("copy_paste");
    const next = settingsFrom(base(), { ...f, enabled });
    if ("error" in next) throw new Error(next.error);
    expect(next.disabled_detectors).toEqual(["media_stalled", "copy_paste"]);
    expect(DETECTORS).not.toContain("media_stalled");
  });

  it("sets and clears the assessment URL", () => {
    const f = fieldsOf(base());
    const set = settingsFrom(base(), { ...f, assessmentUrl: "  https://lms.example.edu/quiz/7 " });
    expect(set).toMatchObject({ assessment_url: "https://lms.example.edu/quiz/7" });
    const withUrl = { ...base(), assessment_url: "https://lms.example.edu/quiz/7" };
    const cleared = settingsFrom(withUrl, { ...fieldsOf(withUrl), assessmentUrl: "" });
    expect(cleared).not.toHaveProperty("assessment_url");
    expect(settingsFrom(base(), { ...f, assessmentUrl: "javascript:alert(1)" })).toHaveProperty("error");
  });

  it("refuses a window that closes before it opens, and bad retention", () => {
    const f = fieldsOf(base());
    expect(settingsFrom(base(), { ...f, closesAt: f.opensAt })).toEqual({ error: "The exam must close after it opens." });
    expect(settingsFrom(base(), { ...f, closesAt: "" })).toHaveProperty("error");
    expect(settingsFrom(base(), { ...f, retentionDays: "2.5" })).toHaveProperty("error");
  });

  it("moves a changed time to the minute given", () => {
    const f = fieldsOf(base());
    const later = OPENS + 4 * 3_600_000;
    const next = settingsFrom(base(), { ...f, closesAt: toLocalInput(later) });
    if ("error" in next) throw new Error(next.error);
    expect(next.window.closes_at).toBe(fromLocalInput(toLocalInput(later)));
    expect(next.window.opens_at).toBe(OPENS);
  });

  it("locks what an open exam no longer changes", () => {
    expect(locksAt(base(), OPENS - 1)).toEqual({ opensAt: false, raisePrivacy: false, maxRetentionDays: undefined, microphoneOn: false });
    expect(locksAt(base(), OPENS)).toEqual({ opensAt: true, raisePrivacy: true, maxRetentionDays: 30, microphoneOn: true });
  });

  it("round-trips an identity check, breaks and thresholds", () => {
    const s: ExamSettings = {
      ...base(),
      identity_check: "photo_and_id",
      identity_auto_approve: true,
      breaks: { count: 2, minutes: 15 },
      thresholds: { no_face_after_ms: 5000, yaw_limit_deg: 45 },
    };
    const f = fieldsOf(s);
    expect(f).toMatchObject({ identityCheck: "photo_and_id", identityAutoApprove: true, breakCount: "2", breakMinutes: "15" });
    expect(f.thresholds).toEqual({ noFaceMs: "5000", lookingAwayMs: "", yawDeg: "45", pitchDeg: "" });
    expect(settingsFrom(s, f)).toEqual(s);
  });

  it("sets the identity check and breaks; 0 breaks (or none given) removes them", () => {
    const f = fieldsOf(base());
    expect(f).toMatchObject({ identityCheck: "off", identityAutoApprove: false, breakCount: "0", breakMinutes: "10" });
    const on = settingsFrom(base(), { ...f, identityCheck: "photo", identityAutoApprove: true, breakCount: "3", breakMinutes: "5" });
    expect(on).toMatchObject({ identity_check: "photo", identity_auto_approve: true, breaks: { count: 3, minutes: 5 } });
    const withBreaks = { ...base(), breaks: { count: 3, minutes: 5 } };
    expect(settingsFrom(withBreaks, { ...fieldsOf(withBreaks), breakCount: "0" })).not.toHaveProperty("breaks");
    expect(settingsFrom(withBreaks, { ...fieldsOf(withBreaks), breakCount: " " })).not.toHaveProperty("breaks");
    // With no breaks the length is not checked (its field is disabled).
    expect(settingsFrom(base(), { ...f, breakCount: "0", breakMinutes: "" })).not.toHaveProperty("error");
  });

  it("refuses breaks and thresholds outside the ranges the wire types state", () => {
    const f = fieldsOf(base());
    const bad = (patch: Partial<typeof f>) => settingsFrom(base(), { ...f, ...patch });
    expect(bad({ breakCount: "21" })).toEqual({ error: "The number of breaks must be a whole number from 1 to 20." });
    expect(bad({ breakCount: "1.5" })).toHaveProperty("error");
    expect(bad({ breakCount: "-1" })).toHaveProperty("error");
    expect(bad({ breakCount: "1", breakMinutes: "0" })).toEqual({ error: "A break's length in minutes must be a whole number from 1 to 120." });
    expect(bad({ breakCount: "1", breakMinutes: "121" })).toHaveProperty("error");
    expect(bad({ breakCount: "20", breakMinutes: "120" })).toMatchObject({ breaks: { count: 20, minutes: 120 } });
    const t = f.thresholds;
    expect(bad({ thresholds: { ...t, noFaceMs: "499" } })).toEqual({ error: "The time without a face (ms) must be a whole number from 500 to 60,000." });
    expect(bad({ thresholds: { ...t, lookingAwayMs: "60001" } })).toHaveProperty("error");
    expect(bad({ thresholds: { ...t, yawDeg: "9", pitchDeg: "" } })).toHaveProperty("error");
    expect(bad({ thresholds: { ...t, yawDeg: "81", pitchDeg: "" } })).toHaveProperty("error");
    expect(bad({ thresholds: { noFaceMs: "500", lookingAwayMs: "60000", yawDeg: "80", pitchDeg: "" } })).toMatchObject({
      thresholds: { no_face_after_ms: 500, looking_away_after_ms: 60_000, yaw_limit_deg: 80 },
    });
  });

  it("leaves thresholds out when none is set, and describes those that are", () => {
    expect(thresholdsFrom({ noFaceMs: "", lookingAwayMs: " ", yawDeg: "", pitchDeg: "" })).toBeUndefined();
    expect(thresholdsFrom({ noFaceMs: "", lookingAwayMs: "2500", yawDeg: "", pitchDeg: "" })).toEqual({ looking_away_after_ms: 2500 });
    const withT = { ...base(), thresholds: { yaw_limit_deg: 40 } };
    expect(settingsFrom(withT, { ...fieldsOf(withT), thresholds: { noFaceMs: "", lookingAwayMs: "", yawDeg: "", pitchDeg: "" } })).not.toHaveProperty("thresholds");
    expect(describeThresholds({ no_face_after_ms: 5000, yaw_limit_deg: 45 })).toBe("no face after 5,000 ms · sideways limit 45°");
    expect(describeThresholds(undefined)).toBe("");
  });
});
