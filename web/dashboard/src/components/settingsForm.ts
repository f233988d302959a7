/**
 * The exam settings form's model, apart from React so it is tested alone:
 * settings to form fields and back, and which fields an open exam locks
 * (the server's rule, `vigil_core::settings`, mirrored so the form does not
 * offer what the server would refuse; the server still decides).
 */
import type { ExamSettings, IncidentKind, PrivacyTier } from "@proto";

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
}

/** What an open exam no longer lets change. */
export interface Locks {
  opensAt: boolean;
  /** The tier may only go down. */
  raisePrivacy: boolean;
  /** Retention may only shrink: the most it may be. */
  maxRetentionDays: number | undefined;
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
  };
}

export function locksAt(s: ExamSettings, now: number): Locks {
  const open = now >= s.window.opens_at;
  return {
    opensAt: open,
    raisePrivacy: open,
    maxRetentionDays: open ? s.evidence_retention_days : undefined,
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
  };
  if (url === "") delete next.assessment_url;
  else next.assessment_url = url;
  return next;
}
