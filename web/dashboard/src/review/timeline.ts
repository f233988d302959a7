/**
 * One student's record as a single timeline, apart from React: incidents,
 * session transitions, proctors' actions, chat messages and identity
 * photos from `GET …/students/{s}/review`, merged by time; and the words
 * for the session's phase, how it ended, and who did what.
 */
import type {
  ChatMessage,
  IdentityPhoto,
  IncidentRecord,
  IncidentReview,
  RecordedAction,
  RecordedTransition,
  SessionPhase,
  SessionView,
  StudentReview,
} from "@proto";
import { clock } from "../services";

export type Entry =
  | { readonly kind: "incident"; readonly at: number; readonly key: string; readonly incident: IncidentRecord; readonly reading?: IncidentReview }
  | { readonly kind: "transition"; readonly at: number; readonly key: string; readonly transition: RecordedTransition }
  | { readonly kind: "action"; readonly at: number; readonly key: string; readonly action: RecordedAction }
  | { readonly kind: "chat"; readonly at: number; readonly key: string; readonly message: ChatMessage }
  | { readonly kind: "photo"; readonly at: number; readonly key: string; readonly photo: IdentityPhoto };

export type TimelineParts = Pick<StudentReview, "incidents" | "incident_reviews" | "transitions" | "actions" | "chat" | "identity_photos">;

/**
 * At the same millisecond: a proctor's action before the session change it
 * caused, a change (a start, a pause) before what happened in it, and
 * within a kind, the order the server gave.
 */
const TIE: Record<Entry["kind"], number> = { action: 0, transition: 1, incident: 2, chat: 3, photo: 4 };

/**
 * The reading that counts for each incident: its latest (by time; at the
 * same time, the later in the list, which the server sends oldest first).
 */
export function latestReadings(reviews: readonly IncidentReview[]): Map<string, IncidentReview> {
  const out = new Map<string, IncidentReview>();
  for (const r of reviews) {
    const was = out.get(r.incident_id);
    if (!was || r.at >= was.at) out.set(r.incident_id, r);
  }
  return out;
}

/** Everything in the record, oldest first; an incident at its start. */
export function mergeTimeline(r: TimelineParts): Entry[] {
  const readings = latestReadings(r.incident_reviews);
  const entries: Entry[] = [];
  r.incidents.forEach((incident) => {
    const reading = readings.get(incident.id);
    entries.push({ kind: "incident", at: incident.started_at, key: `i:${incident.id}`, incident, ...(reading ? { reading } : {}) });
  });
  r.transitions.forEach((transition, i) => entries.push({ kind: "transition", at: transition.at, key: `t:${i}`, transition }));
  r.actions.forEach((action, i) => entries.push({ kind: "action", at: action.at, key: `a:${i}`, action }));
  r.chat.forEach((message) => entries.push({ kind: "chat", at: message.at, key: `c:${message.seq}`, message }));
  r.identity_photos.forEach((photo) => entries.push({ kind: "photo", at: photo.captured_at, key: `p:${photo.kind}:${photo.sha256}`, photo }));
  // Array.prototype.sort is stable: within a kind the server's order stays.
  return entries.sort((a, b) => a.at - b.at || TIE[a.kind] - TIE[b.kind]);
}

/** The incidents' ids in timeline order (what `n` and `p` step through). */
export function incidentOrder(entries: readonly Entry[]): string[] {
  return entries.flatMap((e) => (e.kind === "incident" ? [e.incident.id] : []));
}

export const PHASE_TEXT: Record<SessionPhase, string> = {
  waiting: "Not started",
  identity_check: "Identity check waiting",
  ready: "Ready to start",
  in_progress: "In progress",
  paused: "Paused",
  on_break: "On a break",
  submitted: "Handed in",
  terminated: "Terminated",
  expired: "Time up",
};

const TRANSITION_TEXT: Record<string, string> = {
  start: "Started the exam",
  pause: "Paused",
  resume: "Resumed",
  submit: "Handed in",
  terminate: "Terminated",
  expire: "Time up",
  add_time: "Time added",
  identity_submit: "Sent identity photos",
  identity_approve: "Identity approved",
  identity_reject: "Identity rejected",
  break_start: "Break started",
  break_end: "Break ended",
};

/** `student`, `server`, `proctor:<id>` as a reader says them. */
export function byText(by: string): string {
  if (by === "student") return "the student";
  if (by === "server") return "the server";
  if (by.startsWith("proctor:")) return `proctor ${by.slice("proctor:".length)}`;
  return by;
}

/** "Time added (+10 min)", "Paused"; a change this page does not know, as the server named it. */
export function transitionText(t: RecordedTransition): string {
  const base = TRANSITION_TEXT[t.change] ?? t.change;
  if (t.change === "add_time" && t.added_ms) return `${base} (+${minutes(t.added_ms)})`;
  return base;
}

const minutes = (ms: number): string => {
  const m = ms / 60_000;
  return `${Number.isInteger(m) ? m : m.toFixed(1)} min`;
};

/** The latest transition of kind `change` (the list is oldest first). */
function lastChange(transitions: readonly RecordedTransition[], change: string): RecordedTransition | undefined {
  for (let i = transitions.length - 1; i >= 0; i--) if (transitions[i]!.change === change) return transitions[i];
  return undefined;
}

const ENDING: Partial<Record<SessionPhase, string>> = { submitted: "submit", terminated: "terminate", expired: "expire" };

/**
 * The session's phase and, once it ended, how: "Handed in at 10:32:05 by
 * the student"; "Terminated at 10:40:00 by proctor p1: phone on the desk";
 * "In progress" while it runs.
 */
export function sessionText(session: SessionView, transitions: readonly RecordedTransition[], fmt: (ms: number) => string = clock): string {
  const phase = PHASE_TEXT[session.phase] ?? session.phase;
  const change = ENDING[session.phase];
  if (!change) return session.reason ? `${phase}: ${session.reason}` : phase;
  const end = lastChange(transitions, change);
  const reason = end?.reason ?? session.reason;
  const when = end ? ` at ${fmt(end.at)} by ${byText(end.by)}` : "";
  return `${phase}${when}${reason ? `: ${reason}` : ""}`;
}

/**
 * Where the score curve stops: when the session ended (its last transition
 * into the end), else now; never before the last point (the decay after it
 * is part of the record).
 */
export function curveEnd(r: Pick<StudentReview, "session" | "transitions" | "score_curve">, now: number): number {
  const change = ENDING[r.session.phase];
  const end = change ? (lastChange(r.transitions, change)?.at ?? r.session.as_of) : now;
  const last = r.score_curve.at(-1)?.at ?? end;
  return Math.max(end, last);
}

/** Where the curve starts: the first thing on record (the start, usually), or its first point. */
export function curveStart(entries: readonly Entry[], r: Pick<StudentReview, "score_curve">): number | undefined {
  const first = [entries[0]?.at, r.score_curve[0]?.at].filter((t): t is number => t !== undefined);
  return first.length ? Math.min(...first) : undefined;
}

const two = (n: number) => (n < 10 ? `0${n}` : String(n));
/** Local "2025-03-14 10:32:05": a decision may be made days after the exam. */
export function dateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${clock(ms)}`;
}
