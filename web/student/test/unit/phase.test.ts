import { describe, expect, it } from "vitest";
import type { ProctorAction, SessionView } from "@proto";
import { ENDED_EARLIER, HANDED_IN, PLATFORM_ENDED, TIME_UP, initialState, transition, type PageEvent, type PageState, type PhaseName } from "../../src/phase.ts";

const proctor = (kind: ProctorAction["kind"], text?: string): PageEvent => ({
  type: "proctor",
  action: text === undefined ? { kind, at: 1 } : { kind, text, at: 1 },
});

/** Applies events in order from `from`. */
function run(from: PageState, ...events: PageEvent[]): PageState {
  return events.reduce(transition, from);
}

const connecting = initialState(true);
const inExam = run(connecting, { type: "welcome", progress: null }, { type: "checked" }, { type: "agreed" }, { type: "started" });

describe("phases", () => {
  it("starts at the join screen without a token, connecting with one", () => {
    expect(initialState(false).phase).toEqual({ name: "join" });
    expect(connecting).toEqual({ phase: { name: "connecting" }, monitoring: false, paused: null });
  });

  it("walks connecting → check → consent → preview → exam → ended, monitoring only during the exam", () => {
    const seen: Array<[PhaseName, boolean]> = [];
    let s = connecting;
    for (const e of [
      { type: "welcome", progress: null },
      { type: "checked" },
      { type: "agreed" },
      { type: "started" },
      { type: "handed_in" },
    ] satisfies PageEvent[]) {
      s = transition(s, e);
      seen.push([s.phase.name, s.monitoring]);
    }
    expect(seen).toEqual([
      ["check", false],
      ["consent", false],
      ["preview", false],
      ["exam", true],
      ["ended", false],
    ]);
    expect(s.phase).toEqual({ name: "ended", message: HANDED_IN });
  });

  it("ignores events that belong to another phase", () => {
    const check = run(connecting, { type: "welcome", progress: null });
    for (const e of [{ type: "agreed" }, { type: "started" }, { type: "handed_in" }, { type: "resumed" }] satisfies PageEvent[]) {
      expect(transition(check, e)).toBe(check);
    }
    // Only the first welcome of a page life decides where it starts; later ones (reconnects) change nothing.
    expect(transition(inExam, { type: "welcome", progress: null })).toBe(inExam);
  });

  it("a reloaded page resumes into the exam, or back to the check if the camera cannot start", () => {
    const resuming = run(connecting, { type: "welcome", progress: "exam" });
    expect(resuming.phase.name).toBe("resuming");
    expect(resuming.monitoring).toBe(false);
    expect(transition(resuming, { type: "resumed" })).toMatchObject({ phase: { name: "exam" }, monitoring: true });
    expect(transition(resuming, { type: "resume_failed" }).phase.name).toBe("check");
  });

  it("a page whose exam already ended opens at the end", () => {
    expect(run(connecting, { type: "welcome", progress: "ended" }).phase).toEqual({ name: "ended", message: ENDED_EARLIER });
  });

  it("a refusal shows from any phase and leaves monitoring as it was", () => {
    const refused = transition(inExam, { type: "refused", reason: "expired_token", text: "token expired" });
    expect(refused.phase).toEqual({ name: "refused", reason: "expired_token", text: "token expired" });
    expect(refused.monitoring).toBe(true);
    expect(transition(connecting, { type: "refused", reason: "invalid_token", text: "bad" }).phase.name).toBe("refused");
  });
});

describe("proctor actions", () => {
  it("pause holds the first reason until resume", () => {
    const paused = transition(inExam, proctor("pause", "Hold on"));
    expect(paused.paused).toEqual({ text: "Hold on" });
    expect(paused.phase.name).toBe("exam");
    expect(transition(paused, proctor("pause", "Again"))).toBe(paused);
    expect(transition(paused, proctor("resume")).paused).toBeNull();
    expect(transition(inExam, proctor("pause")).paused).toEqual({});
  });

  it("terminate ends the exam from any phase, with the proctor's reason, and lifts a pause", () => {
    const ended = run(inExam, proctor("pause"), proctor("terminate", "Rules broken"));
    expect(ended).toEqual({ phase: { name: "ended", message: "Your proctor ended your exam: Rules broken" }, monitoring: false, paused: null });
    const fromConsent = run(connecting, { type: "welcome", progress: null }, { type: "checked" }, proctor("terminate"));
    expect(fromConsent.phase).toEqual({ name: "ended", message: "Your proctor ended your exam." });
  });

  it("no pause once the exam has ended", () => {
    const ended = transition(inExam, { type: "handed_in" });
    expect(transition(ended, proctor("pause"))).toBe(ended);
  });

  it("warn, message and flag change no state (they are notices or records)", () => {
    for (const kind of ["warn", "message", "flag_for_review"] as const) {
      expect(transition(inExam, proctor(kind, "x"))).toBe(inExam);
    }
  });

  it("ends wherever the page is when the learning platform ends the attempt, but not a refusal or an end", () => {
    for (const from of [connecting, inExam, run(connecting, { type: "welcome", progress: null })]) {
      const s = transition(from, { type: "platform_ended" });
      expect(s.phase).toEqual({ name: "ended", message: PLATFORM_ENDED });
      expect(s.monitoring).toBe(false);
    }
    const refused = transition(connecting, { type: "refused", reason: "expired_token", text: "x" });
    expect(transition(refused, { type: "platform_ended" })).toBe(refused);
    const handedIn = transition(inExam, { type: "handed_in" });
    expect(transition(handedIn, { type: "platform_ended" })).toBe(handedIn);
  });
});

describe("the server's session", () => {
  const view = (phase: SessionView["phase"], reason?: string): PageEvent => ({
    type: "session",
    view: { phase, closes_at: 2, as_of: 1, ...(reason === undefined ? {} : { reason }) },
  });

  it("a reloaded page whose session is paused shows the pause, with the proctor's words", () => {
    const reloaded = run(connecting, { type: "welcome", progress: "exam" }, view("paused", "Phone on the desk"));
    expect(reloaded.paused).toEqual({ text: "Phone on the desk" });
    expect(run(reloaded, view("in_progress")).paused).toBeNull();
  });

  it("ends as the server says: handed in, terminated (with words) or out of time", () => {
    expect(run(inExam, view("submitted")).phase).toEqual({ name: "ended", message: HANDED_IN });
    expect(run(inExam, view("terminated", "Notes")).phase).toEqual({ name: "ended", message: "Your proctor ended your exam: Notes" });
    expect(run(inExam, view("expired")).phase).toEqual({ name: "ended", message: TIME_UP });
    expect(run(inExam, view("expired")).monitoring).toBe(false);
  });

  it("changes nothing once ended or refused, nor for a running session", () => {
    const over = run(inExam, view("expired"));
    expect(run(over, view("paused"))).toBe(over);
    const refused = run(connecting, { type: "refused", reason: "session_terminated", text: "ended" });
    expect(run(refused, view("terminated"))).toBe(refused);
    expect(run(inExam, view("in_progress"))).toBe(inExam);
  });
});
