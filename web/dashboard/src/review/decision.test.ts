import { describe, expect, it } from "vitest";
import type { Decision } from "@proto";
import { changeText, checkDecision, checkIncidentReview, latestDecision, latestVersion } from "./decision";

const d = (version: number, extra: Partial<Decision> = {}): Decision => ({ version, verdict: "concern", note: "n", reviewer: "p1", at: version, ...extra });

describe("the decision form", () => {
  it("needs a verdict and a note; sends the trimmed note and the version it was made on", () => {
    expect(checkDecision({ verdict: "violation", note: "  Phone on the desk.\nTwice.  " }, 3)).toEqual({
      ok: true,
      body: { verdict: "violation", note: "Phone on the desk.\nTwice.", based_on: 3 },
    });
    const none = checkDecision({ verdict: null, note: "   " }, 0);
    expect(none.ok).toBe(false);
    expect(!none.ok && none.verdict).toMatch(/Choose a verdict/);
    expect(!none.ok && none.note).toMatch(/Write a note/);
    const noVerdict = checkDecision({ verdict: null, note: "fine" }, 0);
    expect(!noVerdict.ok && [noVerdict.verdict !== undefined, noVerdict.note]).toEqual([true, undefined]);
  });

  it("counts the note as the server does (characters, not UTF-16 units), up to 2,000", () => {
    const emoji = "😀".repeat(2000); // 4,000 UTF-16 units, 2,000 characters
    expect(checkDecision({ verdict: "concern", note: emoji }, 0).ok).toBe(true);
    const over = checkDecision({ verdict: "concern", note: "x".repeat(2003) }, 0);
    expect(!over.ok && over.note).toBe("Too long: 3 characters over the 2,000 allowed.");
  });

  it("is based on the latest version shown (0 when none)", () => {
    expect(latestVersion([])).toBe(0);
    expect(latestVersion([d(1), d(3), d(2)])).toBe(3);
    expect(latestDecision([d(1), d(3), d(2)])?.version).toBe(3);
    expect(latestDecision([])).toBeUndefined();
  });

  it("says each version's change", () => {
    expect(changeText(d(1))).toBe("— → Concern");
    expect(changeText(d(2, { verdict: "violation", previous: "concern" }))).toBe("Concern → Violation");
  });
});

describe("an incident's reading", () => {
  it("leaves an empty note out, trims one, refuses one over 2,000 characters", () => {
    expect(checkIncidentReview("dismissed", "   ")).toEqual({ ok: true, body: { verdict: "dismissed" } });
    expect(checkIncidentReview("confirmed", " glare from a window ")).toEqual({ ok: true, body: { verdict: "confirmed", note: "glare from a window" } });
    expect(checkIncidentReview("dismissed", "x".repeat(2000)).ok).toBe(true);
    const over = checkIncidentReview("dismissed", "x".repeat(2001));
    expect(over).toEqual({ ok: false, problem: "Note too long: 1 characters over the 2,000 allowed." });
  });
});
