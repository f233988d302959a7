import { describe, expect, it } from "vitest";
import type { IdentityCheck, ProctorAction, SessionView } from "@proto";
import { ENDED_EARLIER, HANDED_IN, PLATFORM_ENDED, TIME_UP, initialState, needsIdentity, transition, type PageEvent, type PageState, type PhaseName } from "../../src/phase.ts";

const proctor = (kind: ProctorAction["kind"], text?: string): PageEvent => ({
  type: "proctor",
  action: text === undefined ? { kind, at: 1 } : { kind, text, at: 1 },
});

const welcome = (progress: "exam" | "ended" | null = null, identity: IdentityCheck = "off"): PageEvent => ({ type: "welcome", progress, identity });

/** Applies events in order from `from`. */
function run(from: PageState, ...events: PageEvent[]): PageState {
  return events.reduce(transition, from);
}

const connecting = initialState(true);
const inExam = run(connecting, welcome(), { type: "checked" }, { type: "agreed" }, { type: "started" });

describe("phases", () => {
  it("starts at the join screen without a token, connecting with one", () => {
    expect(initialState(false).phase).toEqual({ name: "join" });
    expect(connecting).toEqual({ phase: { name: "connecting" }, monitoring: false, paused: null, onBreak: null, identity: "off", server: null });
  });

  it("walks connecting → check → consent → preview → exam → ended, monitoring only during the exam", () => {
    const seen: Array<[PhaseName, boolean]> = [];
    let s = connecting;
    for (const e of [
      welcome(),
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
    const check = run(connecting, welcome());
    for (const e of [{ type: "agreed" }, { type: "started" }, { type: "handed_in" }, { type: "resumed" }] satisfies PageEvent[]) {
      expect(transition(check, e)).toBe(check);
    }
    // Only the first welcome of a page life decides where it starts; later ones (reconnects) change nothing.
    expect(transition(inExam, welcome())).toBe(inExam);
  });

  it("a reloaded page resumes into the exam, or back to the check if the camera cannot start", () => {
    const resuming = run(connecting, welcome("exam"));
    expect(resuming.phase.name).toBe("resuming");
    expect(resuming.monitoring).toBe(false);
    expect(transition(resuming, { type: "resumed" })).toMatchObject({ phase: { name: "exam" }, monitoring: true });
    expect(transition(resuming, { type: "resume_failed" }).phase.name).toBe("check");
  });

  it("a page whose exam already ended opens at the end", () => {
    expect(run(connecting, welcome("ended")).phase).toEqual({ name: "ended", message: ENDED_EARLIER });
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
    expect(ended).toMatchObject({ phase: { name: "ended", message: "Your proctor ended your exam: Rules broken" }, monitoring: false, paused: null });
    const fromConsent = run(connecting, welcome(), { type: "checked" }, proctor("terminate"));
    expect(fromConsent.phase).toEqual({ name: "ended", message: "Your proctor ended your exam." });
  });

  it("no pause once the exam has ended", () => {
    const ended = transition(inExam, { type: "handed_in" });
    expect(transition(ended, proctor("pause"))).toBe(ended);
  });

  it("warn, message, flag and the identity decisions change no state (notices, records, or the session's change decides)", () => {
    for (const kind of ["warn", "message", "flag_for_review", "approve_identity", "reject_identity"] as const) {
      expect(transition(inExam, proctor(kind, "x"))).toBe(inExam);
    }
  });

  it("ends wherever the page is when the learning platform ends the attempt, but not a refusal or an end", () => {
    for (const from of [connecting, inExam, run(connecting, welcome())]) {
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

const view = (phase: SessionView["phase"], reason?: string, extra: Partial<SessionView> = {}): PageEvent => ({
  type: "session",
  view: { phase, closes_at: 2, as_of: 1, breaks_left: 0, ...(reason === undefined ? {} : { reason }), ...extra },
});

describe("the server's session", () => {
  it("a reloaded page whose session is paused shows the pause, with the proctor's words", () => {
    const reloaded = run(connecting, welcome("exam"), view("paused", "Phone on the desk"));
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
    const running = run(inExam, view("in_progress"));
    expect(running.phase).toBe(inExam.phase);
    expect(running).toMatchObject({ monitoring: true, paused: null, onBreak: null });
    expect(running.server?.phase).toBe("in_progress");
  });
});

describe("the identity check", () => {
  /** Through check and consent on an exam with `identity`, the server at `phase`. */
  const consented = (identity: IdentityCheck, phase: SessionView["phase"] = "waiting", reason?: string) =>
    run(connecting, welcome(null, identity), view(phase, reason), { type: "checked" }, { type: "agreed" });

  it("comes after consent when the exam has one and the student has not passed it", () => {
    expect(consented("photo").phase).toEqual({ name: "identity", step: "capture" });
    expect(consented("photo_and_id").phase).toEqual({ name: "identity", step: "capture" });
    expect(consented("photo").monitoring).toBe(false);
    // None, or already approved (a reload after the approval): straight to the preview.
    expect(consented("off").phase).toEqual({ name: "preview" });
    expect(consented("photo", "ready").phase).toEqual({ name: "preview" });
    expect(needsIdentity(consented("photo", "ready"))).toBe(false);
    expect(needsIdentity(consented("photo", "identity_check"))).toBe(true);
  });

  it("waits for the proctor once submitted, and goes on to the preview when approved", () => {
    const awaiting = run(consented("photo"), view("identity_check"));
    expect(awaiting.phase).toEqual({ name: "identity", step: "awaiting" });
    // The same again changes no screen.
    expect(run(awaiting, view("identity_check")).phase).toBe(awaiting.phase);
    const approved = run(awaiting, view("ready"));
    expect(approved.phase).toEqual({ name: "preview" });
    const started = run(approved, { type: "started" }, view("in_progress"));
    expect(started).toMatchObject({ phase: { name: "exam" }, monitoring: true });
    // A reload while waiting for the decision comes back waiting.
    expect(consented("photo", "identity_check").phase).toEqual({ name: "identity", step: "awaiting" });
  });

  it("auto-approval: from the capture straight on to the preview", () => {
    expect(run(consented("photo"), view("ready")).phase).toEqual({ name: "preview" });
  });

  it("a refusal brings the capture back with the proctor's reason, also after a reload", () => {
    const rejected = run(consented("photo_and_id"), view("identity_check"), view("waiting", "Your face is not visible"));
    expect(rejected.phase).toEqual({ name: "identity", step: "capture", rejected: "Your face is not visible" });
    expect(run(rejected, view("waiting", "Your face is not visible")).phase).toBe(rejected.phase);
    expect(consented("photo", "waiting", "ID unreadable").phase).toEqual({ name: "identity", step: "capture", rejected: "ID unreadable" });
    // Retaken and submitted again: waiting once more, without the old reason.
    expect(run(rejected, view("identity_check")).phase).toEqual({ name: "identity", step: "awaiting" });
  });

  it("a start refused as identity_required is not an end: the check comes first", () => {
    // A page whose settings said no check, the server's say otherwise.
    const s = run(inExam, { type: "identity_required" });
    expect(s).toMatchObject({ phase: { name: "identity", step: "capture" }, monitoring: false, identity: "photo" });
    const ended = transition(inExam, { type: "handed_in" });
    expect(transition(ended, { type: "identity_required" })).toBe(ended);
  });

  it("a reload before the start reached the server resumes into the check, not the exam", () => {
    const resuming = run(connecting, welcome("exam", "photo"), view("waiting"));
    expect(transition(resuming, { type: "resumed" })).toMatchObject({ phase: { name: "identity", step: "capture" }, monitoring: false });
    const approved = run(connecting, welcome("exam", "photo"), view("ready"));
    expect(transition(approved, { type: "resumed" })).toMatchObject({ phase: { name: "exam" }, monitoring: true });
  });

  it("follows the settings: a check switched on before the start, or off while taking photos", () => {
    const preview = run(connecting, welcome(), view("waiting"), { type: "checked" }, { type: "agreed" });
    expect(preview.phase.name).toBe("preview");
    const on = transition(preview, { type: "settings", identity: "photo" });
    expect(on.phase).toEqual({ name: "identity", step: "capture" });
    expect(transition(on, { type: "settings", identity: "off" }).phase).toEqual({ name: "preview" });
    expect(transition(on, { type: "settings", identity: "photo" })).toBe(on);
    // During the exam a new check changes nothing: the student has started.
    expect(transition(run(inExam, view("in_progress")), { type: "settings", identity: "photo" }).phase.name).toBe("exam");
  });

  it("a pause during the check shows the pause and keeps the step", () => {
    const paused = run(consented("photo"), view("identity_check"), view("paused", "Wait"));
    expect(paused).toMatchObject({ phase: { name: "identity", step: "awaiting" }, paused: { text: "Wait" } });
    expect(run(paused, view("identity_check"))).toMatchObject({ phase: { name: "identity", step: "awaiting" }, paused: null });
  });
});

describe("breaks", () => {
  const running = run(inExam, view("in_progress", undefined, { breaks_left: 2 }));

  it("on_break hides the exam (a state of its own, not a pause), stops monitoring, and keeps when it ends", () => {
    const onBreak = run(running, view("on_break", undefined, { breaks_left: 1, break_ends_at: 600_000 }));
    expect(onBreak).toMatchObject({ phase: { name: "exam" }, monitoring: false, paused: null, onBreak: { endsAt: 600_000 } });
    const back = run(onBreak, view("in_progress", undefined, { breaks_left: 1 }));
    expect(back).toMatchObject({ phase: { name: "exam" }, monitoring: true, onBreak: null });
  });

  it("a reload during a break comes back on the break, and monitoring starts once it ends", () => {
    const reloaded = run(connecting, welcome("exam"), view("on_break", undefined, { break_ends_at: 5 }), { type: "resumed" });
    expect(reloaded).toMatchObject({ phase: { name: "exam" }, monitoring: false, onBreak: { endsAt: 5 } });
    expect(run(reloaded, view("in_progress")).monitoring).toBe(true);
  });

  it("a pause during a break ends the break; the resume goes back to the exam", () => {
    const paused = run(running, view("on_break", undefined, { break_ends_at: 9 }), view("paused", "Check"));
    expect(paused).toMatchObject({ onBreak: null, paused: { text: "Check" }, monitoring: true });
    expect(run(paused, view("in_progress"))).toMatchObject({ onBreak: null, paused: null, monitoring: true });
  });

  it("the exam ending during a break ends it", () => {
    const over = run(running, view("on_break", undefined, { break_ends_at: 9 }), view("expired"));
    expect(over).toMatchObject({ phase: { name: "ended", message: TIME_UP }, onBreak: null, monitoring: false });
  });
});
