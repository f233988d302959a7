import { describe, expect, it } from "vitest";
import type { Decision, IncidentKind, ReviewQueue, ReviewRow } from "@proto";
import { DEFAULT_QUEUE_CRITERIA, byPriority, countsText, kindsIn, nextUndecided, progressText, queueRows, selectionIndex, withDecision } from "./queue";

const T0 = 1_700_000_000_000;
const decision = (reviewer = "p1", version = 1): Decision => ({ version, verdict: "concern", note: "n", reviewer, at: T0 });
function row(id: string, priority: number, counts: Partial<Record<IncidentKind, number>> = {}, decided?: Decision): ReviewRow {
  const n = Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    student: { id, name: `Name ${id}` },
    session: { phase: "submitted", closes_at: T0, breaks_left: 0, as_of: T0 },
    priority,
    peak_score: priority * 8,
    counts,
    incident_count: n,
    unreviewed: n,
    gaps: 0,
    ...(decided ? { decision: decided } : {}),
  };
}
const ids = (rows: readonly ReviewRow[]) => rows.map((r) => r.student.id);

const rows = [
  row("c", 0.5, { no_face: 1 }),
  row("a", 2.1, { multiple_faces: 2, no_face: 1 }, decision()),
  row("e", 0),
  row("b", 1.2, { tab_hidden: 3 }),
  row("d", 0.5, { tab_hidden: 1, no_face: 1 }, decision("p2")),
];

describe("the review queue", () => {
  it("orders by priority, highest first, ties by id", () => {
    expect(ids(queueRows(rows, DEFAULT_QUEUE_CRITERIA))).toEqual(["a", "b", "c", "d", "e"]);
    expect(ids([...rows].sort(byPriority))).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("filters by decision and by incident kind, together", () => {
    expect(ids(queueRows(rows, { decided: "undecided", kind: "all" }))).toEqual(["b", "c", "e"]);
    expect(ids(queueRows(rows, { decided: "decided", kind: "all" }))).toEqual(["a", "d"]);
    expect(ids(queueRows(rows, { decided: "all", kind: "no_face" }))).toEqual(["a", "c", "d"]);
    expect(ids(queueRows(rows, { decided: "undecided", kind: "tab_hidden" }))).toEqual(["b"]);
    expect(ids(queueRows(rows, { decided: "all", kind: "copy_paste" }))).toEqual([]);
    // A zero count is no incident of that kind.
    expect(ids(queueRows([row("z", 1, { no_face: 0 })], { decided: "all", kind: "no_face" }))).toEqual([]);
  });

  it("lists the kinds present for the filter, most frequent first", () => {
    expect(kindsIn(rows)).toEqual(["tab_hidden", "no_face", "multiple_faces"]);
    expect(kindsIn([row("x", 0)])).toEqual([]);
  });

  it("says a student's incidents by kind, most first", () => {
    expect(countsText({ no_face: 1, multiple_faces: 2 })).toBe("Two or more faces ×2 · No face ×1");
    expect(countsText({})).toBe("none");
    expect(countsText({ no_face: 0 })).toBe("none");
  });

  it("counts progress as decided of every student, whatever is filtered", () => {
    const q: Pick<ReviewQueue, "decided" | "students"> = { decided: 2, students: rows };
    expect(progressText(q)).toBe("2 of 5 reviewed");
  });

  it("leads to the next undecided student after the current one, wrapping round, never itself", () => {
    expect(nextUndecided(rows, "a")?.student.id).toBe("b");
    expect(nextUndecided(rows, "b")?.student.id).toBe("c");
    expect(nextUndecided(rows, "c")?.student.id).toBe("e"); // d is decided
    expect(nextUndecided(rows, "e")?.student.id).toBe("b"); // round to the top
    expect(nextUndecided(rows, "unknown")?.student.id).toBe("b");
    expect(nextUndecided([row("a", 1), row("b", 0, {}, decision())], "a")).toBeUndefined();
  });

  it("keeps the selection on the same student, else at the same place", () => {
    const shown = queueRows(rows, DEFAULT_QUEUE_CRITERIA);
    expect(selectionIndex(shown, "c", 0)).toBe(2);
    expect(selectionIndex(shown, "gone", 3)).toBe(3);
    expect(selectionIndex(shown, "gone", 99)).toBe(4);
    expect(selectionIndex(shown, undefined, -4)).toBe(0);
    expect(selectionIndex([], "a", 2)).toBe(-1);
  });

  it("takes a decision made on a student's page into the queue and its count", () => {
    const q: ReviewQueue = { exam: { id: "e", title: "E", settings: {} as never }, students: rows, decided: 2 };
    const after = withDecision(q, "b", decision("p3"));
    expect(after.decided).toBe(3);
    expect(after.students.find((r) => r.student.id === "b")?.decision?.reviewer).toBe("p3");
    // A new version on someone already decided: the count stays.
    const again = withDecision(after, "a", decision("p3", 2));
    expect(again.decided).toBe(3);
    expect(again.students.find((r) => r.student.id === "a")?.decision?.version).toBe(2);
    expect(q.students.find((r) => r.student.id === "b")?.decision).toBeUndefined(); // not mutated
  });
});
