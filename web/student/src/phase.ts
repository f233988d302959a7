// The page's phases as a pure state machine: join → connecting → system
// check → consent → camera preview → exam → ended, a refusal by the server
// at any point, and a reloaded page going from connecting straight back into
// the exam (or to its end). No DOM, no I/O: main.ts renders each phase's
// screen and runs what entering it implies.

import type { ProctorAction, SessionView } from "@proto";

export type Phase =
  /** No join token in the URL: the page asks for the link. */
  | { name: "join" }
  /** Waiting for the server's welcome. */
  | { name: "connecting" }
  /** The server refused the connection; the client does not retry on its own. */
  | { name: "refused"; reason: string; text: string }
  | { name: "check" }
  | { name: "consent" }
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
}

/** What this tab remembered (sessionStorage) of an earlier page life. */
export type Progress = "exam" | "ended" | null;

export type PageEvent =
  /** The first welcome of this page life. */
  | { type: "welcome"; progress: Progress }
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
  return { phase: hasToken ? { name: "connecting" } : { name: "join" }, monitoring: false, paused: null };
}

function ended(message: string): PageState {
  return { phase: { name: "ended", message }, monitoring: false, paused: null };
}

/** The next state; the same object when the event changes nothing. */
export function transition(s: PageState, e: PageEvent): PageState {
  const at = s.phase.name;
  switch (e.type) {
    case "welcome":
      if (at !== "connecting") return s;
      if (e.progress === "ended") return ended(ENDED_EARLIER);
      return { ...s, phase: e.progress === "exam" ? { name: "resuming" } : { name: "check" } };
    case "refused":
      return { ...s, phase: { name: "refused", reason: e.reason, text: e.text } };
    case "checked":
      return at === "check" ? { ...s, phase: { name: "consent" } } : s;
    case "agreed":
      return at === "consent" ? { ...s, phase: { name: "preview" } } : s;
    case "started":
      return at === "preview" ? { ...s, phase: { name: "exam" }, monitoring: true } : s;
    case "resumed":
      return at === "resuming" ? { ...s, phase: { name: "exam" }, monitoring: true } : s;
    case "resume_failed":
      return at === "resuming" ? { ...s, phase: { name: "check" } } : s;
    case "handed_in":
      return at === "exam" ? ended(HANDED_IN) : s;
    case "platform_ended":
      return at === "join" || at === "refused" || at === "ended" ? s : ended(PLATFORM_ENDED);
    case "proctor":
      return onProctor(s, e.action);
    case "session":
      return onSession(s, e.view);
  }
}

function terminated(text?: string): PageState {
  return ended(text ? `Your proctor ended your exam: ${text}` : "Your proctor ended your exam.");
}

/** The server's session: a reload of a paused exam stays paused; an ended one shows its end. */
function onSession(s: PageState, v: SessionView): PageState {
  if (s.phase.name === "ended" || s.phase.name === "join" || s.phase.name === "refused") return s;
  switch (v.phase) {
    case "paused":
      if (s.paused && s.paused.text === v.reason) return s;
      return { ...s, paused: v.reason !== undefined ? { text: v.reason } : {} };
    case "waiting":
    case "in_progress":
      return s.paused ? { ...s, paused: null } : s;
    case "submitted":
      return ended(HANDED_IN);
    case "terminated":
      return terminated(v.reason);
    case "expired":
      return ended(TIME_UP);
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
      return terminated(a.text);
    case "warn":
    case "message":
    case "flag_for_review":
    case "add_time":
      // Notices only (or, for a flag, the proctors' records): no change of state.
      return s;
  }
}
