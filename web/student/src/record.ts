// The student's own record after the exam (GET /api/v1/me/record), as the
// page shows it: what was flagged, what reviewers read and decided, and
// which decisions the student may still answer (one appeal per version).
// Pure: no DOM, no fetch.

import type { Appeal, Decision, IncidentKind, IncidentReview, StudentRecord } from "@proto";

/** The longest appeal the server takes, in characters. */
export const MAX_APPEAL_CHARS = 5000;

const KIND_TEXT: Record<IncidentKind, string> = {
  no_face: "No face in view",
  multiple_faces: "More than one face",
  looking_away: "Looking away",
  tab_hidden: "Left the exam tab",
  window_blur: "Another window in front",
  fullscreen_exit: "Left full screen",
  copy_paste: "Copy or paste",
  second_screen: "A second screen",
  camera_ended: "Camera stopped",
  worker_stalled: "Detection stopped",
  inference_rate_low: "Detection slowed down",
  heartbeat_lost: "Connection lost",
  media_stalled: "Video stopped",
  frame_rate_collapsed: "Video nearly stopped",
  keyframes_missing: "Video damaged",
  phone_visible: "A phone in view",
  voice_detected: "A voice heard",
  camera_suspect: "The camera looked virtual or like a screen share",
  devtools_open: "Developer tools open",
};

const VERDICT_TEXT: Record<Decision["verdict"], string> = {
  no_concern: "No concern",
  concern: "Concern",
  violation: "Violation",
};

export interface IncidentLine {
  id: string;
  at: number;
  what: string;
  /** A reviewer's latest reading, in words, if any. */
  reading: string | null;
  /** The kept frame's hash, to fetch at /api/v1/me/evidence/{sha}. */
  evidence: string | null;
  duringPause: boolean;
}

export interface DecisionLine {
  version: number;
  at: number;
  verdict: string;
  note: string;
  /** The student's answer to this version, if they gave one. */
  appeal: Appeal | null;
  /** Whether the student may still answer it (once, and only the latest). */
  mayAppeal: boolean;
}

export interface RecordView {
  incidents: IncidentLine[];
  decisions: DecisionLine[];
}

function readingText(r: IncidentReview | undefined): string | null {
  if (!r) return null;
  const verdict = r.verdict === "dismissed" ? "Dismissed by a reviewer (not held against you)" : "Confirmed by a reviewer";
  return r.note ? `${verdict}: ${r.note}` : verdict;
}

export function recordView(record: StudentRecord): RecordView {
  const latest = new Map<string, IncidentReview>();
  for (const r of record.incident_reviews) latest.set(r.incident_id, r);
  const incidents = [...record.incidents]
    .sort((a, b) => a.started_at - b.started_at)
    .map((i) => ({
      id: i.id,
      at: i.started_at,
      what: KIND_TEXT[i.kind],
      reading: readingText(latest.get(i.id)),
      evidence: i.evidence_sha256 ?? null,
      duringPause: i.during_pause === true,
    }));
  const newest = Math.max(0, ...record.decisions.map((d) => d.version));
  const decisions = [...record.decisions]
    .sort((a, b) => a.version - b.version)
    .map((d) => {
      const appeal = record.appeals.find((a) => a.decision_version === d.version) ?? null;
      return { version: d.version, at: d.at, verdict: VERDICT_TEXT[d.verdict], note: d.note, appeal, mayAppeal: !appeal && d.version === newest };
    });
  return { incidents, decisions };
}

/** An appeal as the server takes it, or why not. */
export function checkAppeal(text: string): { ok: true; text: string } | { ok: false; why: string } {
  const t = text.trim();
  if (!t) return { ok: false, why: "Write your answer first." };
  if ([...t].length > MAX_APPEAL_CHARS) return { ok: false, why: `An answer is at most ${MAX_APPEAL_CHARS} characters.` };
  return { ok: true, text: t };
}
