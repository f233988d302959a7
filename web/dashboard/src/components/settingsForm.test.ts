import { describe, expect, it } from "vitest";
import type { ExamSettings } from "@proto";
import { DETECTORS, fieldsOf, fromLocalInput, locksAt, settingsFrom, toLocalInput } from "./settingsForm";

const OPENS = new Date(2026, 10, 28, 9, 0, 30, 250).getTime();

function base(): ExamSettings {
  return {
    window: { opens_at: OPENS, closes_at: OPENS + 3 * 3_600_000 },
    scoring: { half_life_s: 300, weights: { no_face: 3 }, watch_at: 4, alert_at: 8 },
    privacy: "events_only",
    evidence_retention_days: 30,
    stall_after_s: 10,
    disabled_detectors: ["looking_away", "media_stalled"],
  };
}

describe("the settings form", () => {
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
    expect(locksAt(base(), OPENS - 1)).toEqual({ opensAt: false, raisePrivacy: false, maxRetentionDays: undefined });
    expect(locksAt(base(), OPENS)).toEqual({ opensAt: true, raisePrivacy: true, maxRetentionDays: 30 });
  });
});
