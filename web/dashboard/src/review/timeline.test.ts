import { describe, expect, it } from "vitest";
import type { IncidentRecord, IncidentReview, RecordedTransition, SessionView } from "@proto";
import { byText, curveEnd, curveStart, dateTime, incidentOrder, latestReadings, mergeTimeline, sessionText, transitionText, type TimelineParts } from "./timeline";

const T0 = 1_700_000_000_000;
const incident = (id: string, at: number, extra: Partial<IncidentRecord> = {}): IncidentRecord => ({
  id,
  student_id: "s1",
  kind: "no_face",
  source: "client",
  started_at: at,
  ended_at: at + 500,
  accepted_at: at + 600,
  ...extra,
});
const reading = (incident_id: string, verdict: IncidentReview["verdict"], at: number, reviewer = "p1"): IncidentReview => ({ incident_id, verdict, reviewer, at });
const transition = (change: string, at: number, by = "student", extra: Partial<RecordedTransition> = {}): RecordedTransition => ({ change, at, by, ...extra });
const session = (phase: SessionView["phase"], extra: Partial<SessionView> = {}): SessionView => ({ phase, closes_at: T0 + 9e6, breaks_left: 0, as_of: T0 + 5000, ...extra });

const empty: TimelineParts = { incidents: [], incident_reviews: [], transitions: [], actions: [], chat: [], identity_photos: [] };

describe("the student's timeline", () => {
  const parts: TimelineParts = {
    incidents: [incident("i1", T0 + 100), incident("i2", T0 + 300, { during_pause: true }), incident("i3", T0 + 300)],
    incident_reviews: [reading("i1", "confirmed", T0 + 9000), reading("i1", "dismissed", T0 + 9500, "p2"), reading("i2", "confirmed", T0 + 9100)],
    transitions: [transition("start", T0), transition("pause", T0 + 200, "proctor:p1", { reason: "look up" }), transition("submit", T0 + 800)],
    actions: [{ proctor_id: "p1", kind: "pause", at: T0 + 200, text: "look up" }],
    chat: [{ seq: 7, id: "m", from: "student", student_id: "s1", text: "<b>hi</b>", at: T0 + 250 }],
    identity_photos: [{ kind: "face", sha256: "ab", width: 320, height: 240, bytes: 9, captured_at: T0 - 50 }],
  };

  it("merges every kind of record by time", () => {
    const entries = mergeTimeline(parts);
    expect(entries.map((e) => e.key)).toEqual(["p:face:ab", "t:0", "i:i1", "a:0", "t:1", "c:7", "i:i2", "i:i3", "t:2"]);
    const times = entries.map((e) => e.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // Incidents sit at their start; the two at the same time keep the server's order.
    expect(incidentOrder(entries)).toEqual(["i1", "i2", "i3"]);
  });

  it("puts a proctor's action before the change it caused, and a change before what happened in it", () => {
    const same: TimelineParts = {
      ...empty,
      incidents: [incident("x", T0)],
      transitions: [transition("pause", T0, "proctor:p1")],
      actions: [{ proctor_id: "p1", kind: "pause", at: T0 }],
    };
    expect(mergeTimeline(same).map((e) => e.kind)).toEqual(["action", "transition", "incident"]);
  });

  it("shows each incident's latest reading", () => {
    const entries = mergeTimeline(parts);
    const i1 = entries.find((e) => e.key === "i:i1");
    const i3 = entries.find((e) => e.key === "i:i3");
    expect(i1?.kind === "incident" && i1.reading).toMatchObject({ verdict: "dismissed", reviewer: "p2" });
    expect(i3?.kind === "incident" && i3.reading).toBeUndefined();
    // At the same time, the later in the list counts.
    const tie = latestReadings([reading("a", "confirmed", T0), reading("a", "dismissed", T0)]);
    expect(tie.get("a")?.verdict).toBe("dismissed");
    // An older reading listed after a newer one does not override it.
    const out = latestReadings([reading("a", "dismissed", T0 + 5), reading("a", "confirmed", T0)]);
    expect(out.get("a")?.verdict).toBe("dismissed");
  });

  it("is empty for an empty record", () => {
    expect(mergeTimeline(empty)).toEqual([]);
  });
});

describe("the words of the record", () => {
  const fmt = (ms: number) => `+${ms - T0}`;

  it("says how the session ended, by whom and why", () => {
    const ts = [transition("start", T0), transition("submit", T0 + 800)];
    expect(sessionText(session("submitted"), ts, fmt)).toBe("Handed in at +800 by the student");
    expect(sessionText(session("terminated", { reason: "phone" }), [transition("terminate", T0 + 900, "proctor:p1", { reason: "phone" })], fmt)).toBe(
      "Terminated at +900 by proctor p1: phone",
    );
    expect(sessionText(session("expired"), [transition("expire", T0 + 7, "server")], fmt)).toBe("Time up at +7 by the server");
    // Ended with no transition on record: the phase alone.
    expect(sessionText(session("expired"), [], fmt)).toBe("Time up");
    expect(sessionText(session("in_progress"), ts, fmt)).toBe("In progress");
    expect(sessionText(session("paused", { reason: "look up" }), ts, fmt)).toBe("Paused: look up");
  });

  it("names transitions and who made them", () => {
    expect(transitionText(transition("add_time", 0, "proctor:p1", { added_ms: 600_000 }))).toBe("Time added (+10 min)");
    expect(transitionText(transition("break_start", 0))).toBe("Break started");
    expect(transitionText(transition("something_new", 0))).toBe("something_new");
    expect(byText("proctor:p9")).toBe("proctor p9");
    expect(byText("server")).toBe("the server");
    expect(byText("student")).toBe("the student");
  });

  it("draws the curve from the first thing on record to the session's end (or now)", () => {
    const curve = [{ at: T0 + 100, score: 3 }];
    expect(curveEnd({ session: session("submitted"), transitions: [transition("submit", T0 + 800)], score_curve: curve }, T0 + 1e6)).toBe(T0 + 800);
    expect(curveEnd({ session: session("in_progress"), transitions: [], score_curve: curve }, T0 + 1e6)).toBe(T0 + 1e6);
    // Never before the last point.
    expect(curveEnd({ session: session("expired", { as_of: T0 }), transitions: [], score_curve: curve }, T0 + 1e6)).toBe(T0 + 100);
    const entries = mergeTimeline({ ...empty, transitions: [transition("start", T0 + 50)] });
    expect(curveStart(entries, { score_curve: curve })).toBe(T0 + 50);
    expect(curveStart([], { score_curve: curve })).toBe(T0 + 100);
    expect(curveStart([], { score_curve: [] })).toBeUndefined();
  });

  it("writes a date with the time", () => {
    expect(dateTime(new Date(2025, 2, 4, 9, 5, 7).getTime())).toBe("2025-03-04 09:05:07");
  });
});
