/**
 * The exam settings form's model, apart from React so it is tested alone:
 * settings to form fields and back, which fields an open exam locks (the
 * server's rule, `vigil_core::settings`, mirrored so the form does not
 * offer what the server would refuse; the server still decides), and the
 * ranges of breaks and detector thresholds (shared with the accommodations
 * form).
 */
import type { DetectorThresholds, ExamSettings, IdentityCheck, IncidentKind, PrivacyTier } from "@proto";

/** Detectors the student page runs, which an instructor may switch off. */
export const DETECTORS: readonly IncidentKind[] = [
  "no_face",
  "multiple_faces",
  "looking_away",
  "tab_hidden",
  "window_blur",
  "fullscreen_exit",
  "copy_paste",
  "second_screen",
  "camera_ended",
  "phone_visible",
  "voice_detected",
  "camera_suspect",
  "devtools_open",
];

export interface SettingsFields {
  assessmentUrl: string;
  /** `datetime-local` values, in the proctor's time zone. */
  opensAt: string;
  closesAt: string;
  privacy: PrivacyTier;
  retentionDays: string;
  /** Detectors left on. */
  enabled: ReadonlySet<IncidentKind>;
  identityCheck: IdentityCheck;
  identityAutoApprove: boolean;
  /** The student's microphone: listened to for voices, heard by the proctor who watches them. */
  microphone: boolean;
  /** Breaks per student; "0" (or empty): none. */
  breakCount: string;
  /** How long each may last, in minutes (kept while there are none, for when they come back). */
  breakMinutes: string;
  thresholds: ThresholdFields;
}

// ---------------------------------------------------------------------------
// Ranges: the doc comments of the wire types (web/proto/vigil.ts), which the
// server enforces; mirrored so the form says what to fix before it asks.

export const BREAK_COUNT = { min: 1, max: 20 } as const;
export const BREAK_MINUTES = { min: 1, max: 120 } as const;
/** A break's length when the form has none to show yet (the server's for extra breaks alone). */
export const DEFAULT_BREAK_MINUTES = 10;

/** Detector thresholds, each optional: empty is the student page's default. */
export interface ThresholdFields {
  noFaceMs: string;
  lookingAwayMs: string;
  yawDeg: string;
  pitchDeg: string;
}

interface ThresholdSpec {
  field: keyof ThresholdFields;
  key: keyof DetectorThresholds;
  label: string;
  /** The field in a sentence ("… must be a whole number …"). */
  what: string;
  min: number;
  max: number;
  /** The student page's default (crates/vigil-proto: DetectorThresholds), shown as the placeholder. */
  fallback: number;
}

export const THRESHOLDS: readonly ThresholdSpec[] = [
  { field: "noFaceMs", key: "no_face_after_ms", label: "No face after (ms)", what: "The time without a face (ms)", min: 500, max: 60_000, fallback: 2000 },
  {
    field: "lookingAwayMs",
    key: "looking_away_after_ms",
    label: "Looking away after (ms)",
    what: "The time looking away (ms)",
    min: 500,
    max: 60_000,
    fallback: 2000,
  },
  {
    field: "yawDeg",
    key: "yaw_limit_deg",
    label: "Sideways limit, head and eyes (degrees)",
    what: "The sideways limit (degrees)",
    min: 10,
    max: 80,
    fallback: 25,
  },
  {
    field: "pitchDeg",
    key: "pitch_limit_deg",
    label: "Up/down limit, head and eyes (degrees)",
    what: "The up/down limit (degrees)",
    min: 10,
    max: 60,
    fallback: 20,
  },
];

/** A whole number in [min, max] from a form field; a sentence naming `what` otherwise. */
export function wholeIn(value: string, min: number, max: number, what: string): number | { error: string } {
  const v = value.trim();
  const n = Number(v);
  if (v === "" || !Number.isInteger(n) || n < min || n > max) {
    return { error: `${what} must be a whole number from ${min.toLocaleString("en")} to ${max.toLocaleString("en")}.` };
  }
  return n;
}

export function thresholdFieldsOf(t: DetectorThresholds | undefined): ThresholdFields {
  const f = (n: number | undefined) => (n === undefined ? "" : String(n));
  return {
    noFaceMs: f(t?.no_face_after_ms),
    lookingAwayMs: f(t?.looking_away_after_ms),
    yawDeg: f(t?.yaw_limit_deg),
    pitchDeg: f(t?.pitch_limit_deg),
  };
}

/** The thresholds the fields set; `undefined` when none is set (the defaults apply). */
export function thresholdsFrom(f: ThresholdFields): DetectorThresholds | undefined | { error: string } {
  const out: DetectorThresholds = {};
  for (const spec of THRESHOLDS) {
    if (f[spec.field].trim() === "") continue;
    const n = wholeIn(f[spec.field], spec.min, spec.max, spec.what);
    if (typeof n !== "number") return n;
    out[spec.key] = n;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** "no face 5,000 ms · yaw 45°", or "" when none is set. */
export function describeThresholds(t: DetectorThresholds | undefined): string {
  if (!t) return "";
  return [
    t.no_face_after_ms !== undefined ? `no face after ${t.no_face_after_ms.toLocaleString("en")} ms` : "",
    t.looking_away_after_ms !== undefined ? `looking away after ${t.looking_away_after_ms.toLocaleString("en")} ms` : "",
    t.yaw_limit_deg !== undefined ? `sideways limit ${t.yaw_limit_deg}°` : "",
    t.pitch_limit_deg !== undefined ? `up/down limit ${t.pitch_limit_deg}°` : "",
  ]
    .filter(Boolean)
    .join(" · ");
}

/** What an open exam no longer lets change. */
export interface Locks {
  opensAt: boolean;
  /** The tier may only go down. */
  raisePrivacy: boolean;
  /** Retention may only shrink: the most it may be. */
  maxRetentionDays: number | undefined;
  /** The microphone may be turned off, not on. */
  microphoneOn: boolean;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** A time as a `datetime-local` value in the page's time zone. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value back to Unix ms; NaN when it is not one. */
export function fromLocalInput(value: string): number {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value) ? new Date(value).getTime() : NaN;
}

export function fieldsOf(s: ExamSettings): SettingsFields {
  const off = new Set(s.disabled_detectors);
  return {
    assessmentUrl: s.assessment_url ?? "",
    opensAt: toLocalInput(s.window.opens_at),
    closesAt: toLocalInput(s.window.closes_at),
    privacy: s.privacy,
    retentionDays: String(s.evidence_retention_days),
    enabled: new Set(DETECTORS.filter((k) => !off.has(k))),
    identityCheck: s.identity_check,
    identityAutoApprove: s.identity_auto_approve,
    microphone: s.microphone,
    breakCount: String(s.breaks?.count ?? 0),
    breakMinutes: String(s.breaks?.minutes ?? DEFAULT_BREAK_MINUTES),
    thresholds: thresholdFieldsOf(s.thresholds),
  };
}

export function locksAt(s: ExamSettings, now: number): Locks {
  const open = now >= s.window.opens_at;
  return {
    opensAt: open,
    raisePrivacy: open,
    maxRetentionDays: open ? s.evidence_retention_days : undefined,
    microphoneOn: open,
  };
}

/**
 * The settings the form describes, on top of `base` (scoring and the stall
 * threshold are kept as they are), or a sentence saying what to fix.
 * Minutes: a `datetime-local` value has no seconds, so a time that did not
 * change keeps its exact milliseconds.
 */
export function settingsFrom(base: ExamSettings, f: SettingsFields): ExamSettings | { error: string } {
  const keep = (value: string, was: number) => (value === toLocalInput(was) ? was : fromLocalInput(value));
  const opens = keep(f.opensAt, base.window.opens_at);
  const closes = keep(f.closesAt, base.window.closes_at);
  if (!Number.isFinite(opens) || !Number.isFinite(closes)) return { error: "Give both the opening and the closing time." };
  if (closes <= opens) return { error: "The exam must close after it opens." };
  const days = Number(f.retentionDays);
  if (!Number.isInteger(days) || days < 0) return { error: "Evidence is kept for a whole number of days." };
  const url = f.assessmentUrl.trim();
  if (url !== "" && !/^https?:\/\/[^\s/]+/i.test(url)) return { error: "The assessment URL must start with https:// (or http://)." };
  // No breaks is 0 (or nothing); otherwise both numbers in range.
  const noBreaks = f.breakCount.trim() === "" || f.breakCount.trim() === "0";
  const count = noBreaks ? 0 : wholeIn(f.breakCount, BREAK_COUNT.min, BREAK_COUNT.max, "The number of breaks");
  if (typeof count !== "number") return count;
  const minutes = noBreaks ? 0 : wholeIn(f.breakMinutes, BREAK_MINUTES.min, BREAK_MINUTES.max, "A break's length in minutes");
  if (typeof minutes !== "number") return minutes;
  const thresholds = thresholdsFrom(f.thresholds);
  if (thresholds && "error" in thresholds) return thresholds;
  // In the order they were, so untouched settings compare equal; kinds the
  // form does not show (a newer server's) keep their state.
  const disabled = [
    ...base.disabled_detectors.filter((k) => !DETECTORS.includes(k) || !f.enabled.has(k)),
    ...DETECTORS.filter((k) => !f.enabled.has(k) && !base.disabled_detectors.includes(k)),
  ];
  const next: ExamSettings = {
    ...base,
    window: { opens_at: opens, closes_at: closes },
    privacy: f.privacy,
    evidence_retention_days: days,
    disabled_detectors: disabled,
    identity_check: f.identityCheck,
    identity_auto_approve: f.identityAutoApprove,
    microphone: f.microphone,
  };
  if (url === "") delete next.assessment_url;
  else next.assessment_url = url;
  if (noBreaks) delete next.breaks;
  else next.breaks = { count, minutes };
  if (thresholds === undefined) delete next.thresholds;
  else next.thresholds = thresholds;
  return next;
}
