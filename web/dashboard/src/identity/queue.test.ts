import { describe, expect, it, vi } from "vitest";
import type { ExamSnapshot, SessionPhase, SessionUpdate } from "@proto";
import { demoId, demoSnapshot } from "../demo";
import { IdentityQueue } from "./queue";

const T0 = 1_700_000_000_000;

function snapshot(phases: SessionPhase[], at = T0): ExamSnapshot {
  const s = demoSnapshot(phases.length, at);
  s.students.forEach((v, i) => (v.session = { ...v.session, phase: phases[i]! }));
  return s;
}
const session = (i: number, phase: SessionPhase, at: number): SessionUpdate => ({
  student_id: demoId(i),
  session: { phase, closes_at: T0 + 3_600_000, breaks_left: 0, as_of: at },
});
const ids = (q: IdentityQueue) => q.get().map((x) => x.id);

describe("the identity queue", () => {
  it("holds exactly the students in identity_check, from the snapshot then session events", () => {
    const q = new IdentityQueue();
    q.loadSnapshot(snapshot(["waiting", "identity_check", "in_progress", "identity_check"]));
    expect(ids(q)).toEqual([demoId(1), demoId(3)]);
    q.applySession(session(0, "identity_check", T0 + 10));
    q.applySession(session(1, "ready", T0 + 11)); // approved
    q.applySession(session(3, "waiting", T0 + 12)); // rejected
    expect(ids(q)).toEqual([demoId(0)]);
  });

  it("oldest first, by the server time of each submission, whether from the snapshot or live", () => {
    const q = new IdentityQueue();
    const snap = snapshot(["identity_check", "waiting", "waiting", "identity_check"], T0);
    snap.students[0]!.session = { ...snap.students[0]!.session, as_of: T0 - 1000 };
    snap.students[3]!.session = { ...snap.students[3]!.session, as_of: T0 - 4000 };
    q.loadSnapshot(snap);
    q.applySession(session(2, "identity_check", T0 + 50));
    q.applySession(session(1, "identity_check", T0 + 20));
    expect(ids(q)).toEqual([demoId(3), demoId(0), demoId(1), demoId(2)]);
    expect(q.get()[0]!.since).toBe(T0 - 4000);
  });

  it("another change while waiting keeps the place; a new snapshot keeps known times and drops who left", () => {
    const q = new IdentityQueue();
    q.applySession(session(0, "identity_check", T0 + 5));
    q.applySession(session(1, "identity_check", T0 + 6));
    q.applySession(session(0, "identity_check", T0 + 30));
    expect(q.get()[0]).toEqual({ id: demoId(0), since: T0 + 5 });
    const snap = snapshot(["identity_check", "ready", "identity_check"], T0 + 100);
    snap.students[2]!.session = { ...snap.students[2]!.session, as_of: T0 + 90 };
    q.loadSnapshot(snap);
    expect(q.get()).toEqual([
      { id: demoId(0), since: T0 + 5 },
      { id: demoId(2), since: T0 + 90 },
    ]);
  });

  it("notifies only on a change, with a new array", () => {
    const q = new IdentityQueue();
    const l = vi.fn();
    q.subscribe(l);
    const empty = q.get();
    q.applySession(session(0, "in_progress", T0));
    expect(l).not.toHaveBeenCalled();
    q.applySession(session(0, "identity_check", T0));
    expect(l).toHaveBeenCalledTimes(1);
    expect(q.get()).not.toBe(empty);
    const one = q.get();
    q.loadSnapshot(snapshot(["identity_check"]));
    expect(l).toHaveBeenCalledTimes(1);
    expect(q.get()).toBe(one);
  });
});
