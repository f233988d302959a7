// The page's phases as a pure state machine: join → connecting → system
// check → consent → identity check (when the exam has one) → camera preview
// → exam → ended, a refusal by the server at any point, and a reloaded page
// going from connecting straight back into the exam (or to its end). The
// server's session decides what it alone knows: a pause, a break, an
// identity check approved or refused, the end. No DOM, no I/O: main.ts
// renders each phase's screen and runs what entering it implies.

import type { IdentityCheck, ProctorAction, SessionView } from "@proto";

export type Phase =
  /** No join token in the URL: the page asks for the link. */
  | { name: "join" }
  /** Waiting for the server's welcome. */
  | { name: "connecting" }
  /** The server refused the connection; the client does not retry on its own. */
  | { name: "refused"; reason: string; text: string }
  | { name: "check" }
  | { name: "consent" }
  /**
   * The identity check before the exam: photos to take (`capture`; after a
   * proctor refused the earlier ones, `rejected` is their reason), or a
   * proctor's approval to wait for (`awaiting`).
   */
  | { name: "identity"; step: "capture"; rejected?: string }
  | { name: "identity"; step: "awaiting" }
  | { name: "preview" }
  /** Reloaded mid-exam: the camera check restarts before the exam shows again. */
  | { name: "resuming" }
  | { name: "exam" }
  | { name: "ended"; message: string };

export type PhaseName = Phase["name"];

export interface PageState {
  readonly phase: Phase;
  /**
   * Page events and camera results become incidents. On from the start of
   * the exam to its end; a refused reconnect does not stop it, because the
   * outbox keeps what is raised for the next page life.
   */
  readonly monitoring: boolean;
  /** A proctor paused the exam; `text` is their reason, if they gave one. */
  readonly paused: { readonly text?: string } | null;
  /** The student is on one of their breaks (the exam is hidden); `endsAt` is the server's time it is up. */
  readonly onBreak: { readonly endsAt?: number } | null;
  /** The exam's identity check, from the welcome and each settings change. */
  readonly identity: IdentityCheck;
  /** The server's latest word on the session (null before the first). */
  readonly server: SessionView | null;
}

/** What this tab remembered (sessionStorage) of an earlier page life. */
export type Progress = "exam" | "ended" | null;

export type PageEvent =
  /** The first welcome of this page life, with the exam's identity check. */
  | { type: "welcome"; progress: Progress; identity: IdentityCheck }
  /** The exam's settings changed (the identity check may have). */
  | { type: "settings"; identity: IdentityCheck }
  /** The server refused `start` as `identity_required`: the check comes first. */
  | { type: "identity_required" }
  | { type: "refused"; reason: string; text: string }
  /** The system check passed and the student continued. */
  | { type: "checked" }
  | { type: "agreed" }
  | { type: "started" }
  /** After a reload: the camera check runs again. */
  | { type: "resumed" }
  | { type: "resume_failed" }
  | { type: "handed_in" }
  /** The learning platform ended the attempt (LTI Proctoring Services). */
  | { type: "platform_ended" }
  | { type: "proctor"; action: ProctorAction }
  /** The server's word on the session (in every welcome, and on each change): it decides. */
  | { type: "session"; view: SessionView };

export const HANDED_IN = "You handed in your answers. Thank you: you can close this page.";
export const ENDED_EARLIER = "Your exam has ended.";
export const TIME_UP = "Your time is up, and your exam has ended. What you answered so far counts. You can close this page.";
export const PLATFORM_ENDED = "Your learning platform has ended this attempt, and proctoring has stopped. You can close this page.";

export function initialState(hasToken: boolean): PageState {
  return { phase: hasToken ? { name: "connecting" } : { name: "join" }, monitoring: false, paused: null, onBreak: null, identity: "off", server: null };
}

function ended(message: string, s: PageState): PageState {
  return { ...s, phase: { name: "ended", message }, monitoring: false, paused: null, onBreak: null };
}

/** Whether the student must still pass the identity check before starting. */
export function needsIdentity(s: PageState): boolean {
  if (s.identity === "off") return false;
  const at = s.server?.phase;
  return at === undefined || at === "waiting" || at === "identity_check";
}

/**
 * The identity step as the server's session has it: waiting for the
 * photos (with the proctor's reason after a refusal) or for a decision.
 * `same` is kept when nothing changed, so a capture in progress is not
 * thrown away by a session event that says the same again.
 */
function identityPhase(s: PageState, same: Phase = s.phase): Phase {
  if (s.server?.phase === "identity_check") {
    return same.name === "identity" && same.step === "awaiting" ? same : { name: "identity", step: "awaiting" };
  }
  const rejected = s.server?.phase === "waiting" ? s.server.reason : undefined;
  if (same.name === "identity" && same.step === "capture" && same.rejected === rejected) return same;
  return rejected !== undefined ? { name: "identity", step: "capture", rejected } : { name: "identity", step: "capture" };
}

/** Where the student goes once consent (or, after a reload, the camera) is done. */
function beforeExam(s: PageState, then: Phase): PageState {
  if (needsIdentity(s)) return { ...s, phase: identityPhase(s), monitoring: false };
  return { ...s, phase: then, monitoring: then.name === "exam" && !s.onBreak };
}

/** The next state; the same object when the event changes nothing. */
export function transition(s: PageState, e: PageEvent): PageState {
  const at = s.phase.name;
  switch (e.type) {
    case "welcome":
      if (at !== "connecting") return s;
      if (e.progress === "ended") return ended(ENDED_EARLIER, { ...s, identity: e.identity });
      return { ...s, identity: e.identity, phase: e.progress === "exam" ? { name: "resuming" } : { name: "check" } };
    case "settings":
      return onSettings(s, e.identity);
    case "identity_required": {
      if (at === "join" || at === "refused" || at === "ended") return s;
      // The page's settings were older than the server's: at least a photo.
      const next: PageState = { ...s, identity: s.identity === "off" ? "photo" : s.identity, monitoring: false };
      return { ...next, phase: identityPhase(next) };
    }
    case "refused":
      return { ...s, phase: { name: "refused", reason: e.reason, text: e.text } };
    case "checked":
      return at === "check" ? { ...s, phase: { name: "consent" } } : s;
    case "agreed":
      return at === "consent" ? beforeExam(s, { name: "preview" }) : s;
    case "started":
      return at === "preview" ? { ...s, phase: { name: "exam" }, monitoring: !s.onBreak } : s;
    case "resumed":
      // A reload before the start reached the server, on an exam with a
      // check not yet passed: the check, then the preview's start button.
      return at === "resuming" ? beforeExam(s, { name: "exam" }) : s;
    case "resume_failed":
      return at === "resuming" ? { ...s, phase: { name: "check" } } : s;
    case "handed_in":
      return at === "exam" ? ended(HANDED_IN, s) : s;
    case "platform_ended":
      return at === "join" || at === "refused" || at === "ended" ? s : ended(PLATFORM_ENDED, s);
    case "proctor":
      return onProctor(s, e.action);
    case "session":
      return onSession(s, e.view);
  }
}

function terminated(s: PageState, text?: string): PageState {
  return ended(text ? `Your proctor ended your exam: ${text}` : "Your proctor ended your exam.", s);
}

/** An identity check switched on (or off) before the student started. */
function onSettings(s: PageState, identity: IdentityCheck): PageState {
  if (identity === s.identity) return s;
  const next = { ...s, identity };
  if (s.phase.name === "preview" && needsIdentity(next)) return { ...next, phase: identityPhase(next) };
  if (s.phase.name === "identity" && !needsIdentity(next)) return { ...next, phase: { name: "preview" } };
  return next;
}

/**
 * The server's session: a reload of a paused exam stays paused; a break
 * hides the exam and stops monitoring until it ends; the identity check
 * follows the proctor's decision; an ended session shows its end.
 */
function onSession(prev: PageState, v: SessionView): PageState {
  const at = prev.phase.name;
  if (at === "ended" || at === "join" || at === "refused") return prev;
  const s: PageState = { ...prev, server: v };
  // Out of a pause or a break (each phase below says which it is in).
  const calm: PageState = { ...s, paused: null, onBreak: null, monitoring: at === "exam" };
  switch (v.phase) {
    case "paused":
      if (s.paused && s.paused.text === v.reason) return s;
      // A pause during a break ends the break (the server's resume goes back to the exam).
      return { ...s, onBreak: null, monitoring: at === "exam", paused: v.reason !== undefined ? { text: v.reason } : {} };
    case "on_break": {
      const onBreak = v.break_ends_at !== undefined ? { endsAt: v.break_ends_at } : {};
      return { ...s, paused: null, onBreak, monitoring: false };
    }
    case "waiting":
    case "identity_check":
      if (at === "identity" || (at === "preview" && needsIdentity(s))) return { ...calm, phase: identityPhase(s) };
      return calm;
    case "ready":
    case "in_progress":
      // Approved (or started from another page): on to the preview and its start button.
      if (at === "identity") return { ...calm, phase: { name: "preview" } };
      return calm;
    case "submitted":
      return ended(HANDED_IN, s);
    case "terminated":
      return terminated(s, v.reason);
    case "expired":
      return ended(TIME_UP, s);
  }
}

function onProctor(s: PageState, a: ProctorAction): PageState {
  switch (a.kind) {
    case "pause":
      // A second pause keeps the first one's text on screen.
      if (s.paused || s.phase.name === "ended") return s;
      return { ...s, paused: a.text !== undefined ? { text: a.text } : {} };
    case "resume":
      return s.paused ? { ...s, paused: null } : s;
    case "terminate":
      return terminated(s, a.text);
    case "warn":
    case "message":
    case "flag_for_review":
    case "add_time":
    case "approve_identity":
    case "reject_identity":
      // The identity decision arrives as the session's change, which decides.
      // Notices only (or, for a flag, the proctors' records): no change of state.
      return s;
  }
}
