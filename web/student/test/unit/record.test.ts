import { describe, expect, it } from "vitest";
import type { StudentRecord } from "@proto";
import { checkAppeal, recordView } from "../../src/record.ts";

const record = (): StudentRecord => ({
  exam_id: "e1",
  exam_title: "Algebra",
  student: { id: "ada", name: "Ada" },
  session: { phase: "submitted", closes_at: 9, breaks_left: 0, as_of: 5 },
  incidents: [
    { id: "b", student_id: "ada", kind: "tab_hidden", source: "client", started_at: 20, accepted_at: 21 },
    { id: "a", student_id: "ada", kind: "no_face", source: "client", started_at: 10, accepted_at: 11, evidence_sha256: "ab", during_pause: true },
  ],
  incident_reviews: [
    { incident_id: "a", verdict: "confirmed", reviewer: "pat", at: 30 },
    { incident_id: "a", verdict: "dismissed", note: "A poster", reviewer: "pat", at: 31 },
  ],
  transitions: [],
  actions: [],
  chat: [],
  identity_photos: [],
  decisions: [
    { version: 2, verdict: "no_concern", note: "Checked", reviewer: "pat", at: 41, previous: "concern" },
    { version: 1, verdict: "concern", note: "Left the tab", reviewer: "pat", at: 40 },
  ],
  appeals: [{ decision_version: 1, text: "My cat", at: 50 }],
});

describe("the student's own record", () => {
  it("lists incidents by time with the latest reading, and which decision may still be answered", () => {
    const v = recordView(record());
    expect(v.incidents.map((i) => [i.id, i.what, i.reading, i.evidence, i.duringPause])).toEqual([
      ["a", "No face in view", "Dismissed by a reviewer (not held against you): A poster", "ab", true],
      ["b", "Left the exam tab", null, null, false],
    ]);
    expect(v.decisions.map((d) => [d.version, d.verdict, d.appeal?.text ?? null, d.mayAppeal])).toEqual([
      [1, "Concern", "My cat", false],
      [2, "No concern", null, true],
    ]);
  });

  it("an appeal is written, and not too long", () => {
    expect(checkAppeal("  ")).toEqual({ ok: false, why: "Write your answer first." });
    expect(checkAppeal(" Fine ")).toEqual({ ok: true, text: "Fine" });
    expect(checkAppeal("x".repeat(5001)).ok).toBe(false);
  });
});
