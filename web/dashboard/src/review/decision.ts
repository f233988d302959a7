/**
 * What a reviewer writes, made into what the server accepts, apart from
 * React: the decision on a student (`SetDecision`: a verdict, a note of
 * 1–2,000 characters after trimming, and the version it was made on) and
 * the reading of one incident (`ReviewIncident`: an optional note of at
 * most 2,000). The server still decides; this says what is wrong before
 * sending, in the words the form shows.
 */
import type { Decision, IncidentVerdict, ReviewIncident, SetDecision, Verdict } from "@proto";
import { charCount } from "../chat/text";

/** The server's limits, in characters (code points, as Rust counts them). */
export const DECISION_NOTE_MAX = 2000;
export const INCIDENT_NOTE_MAX = 2000;

export const VERDICTS: readonly Verdict[] = ["no_concern", "concern", "violation"];
export const VERDICT_LABEL: Record<Verdict, string> = { no_concern: "No concern", concern: "Concern", violation: "Violation" };
/** Shapes as well as words, as the levels have: never colour alone. */
export const VERDICT_ICON: Record<Verdict, string> = { no_concern: "○", concern: "△", violation: "◆" };
export const INCIDENT_VERDICT_LABEL: Record<IncidentVerdict, string> = { confirmed: "Confirmed", dismissed: "Dismissed" };

const verdictText = (v: Verdict): string => VERDICT_LABEL[v] ?? v;

/** A version's change, "— → Concern" for the first, "Concern → Violation" after. */
export function changeText(d: Pick<Decision, "verdict" | "previous">): string {
  return `${d.previous ? verdictText(d.previous) : "—"} → ${verdictText(d.verdict)}`;
}

export interface DecisionDraft {
  readonly verdict: Verdict | null;
  readonly note: string;
}

export const EMPTY_DRAFT: DecisionDraft = { verdict: null, note: "" };

export type DecisionCheck =
  | { readonly ok: true; readonly body: SetDecision }
  | { readonly ok: false; readonly verdict?: string; readonly note?: string };

/**
 * The body to send, or what is missing. `basedOn` is the version the
 * reviewer has in front of them (0 when none): the server refuses the
 * change if another reviewer decided since.
 */
export function checkDecision(draft: DecisionDraft, basedOn: number): DecisionCheck {
  const note = draft.note.trim();
  const n = charCount(note);
  const problems: { verdict?: string; note?: string } = {};
  if (draft.verdict === null) problems.verdict = "Choose a verdict.";
  if (n === 0) problems.note = "Write a note: it is kept with the decision, and the student may read it.";
  else if (n > DECISION_NOTE_MAX) problems.note = `Too long: ${(n - DECISION_NOTE_MAX).toLocaleString("en")} characters over the ${DECISION_NOTE_MAX.toLocaleString("en")} allowed.`;
  if (problems.verdict || problems.note || draft.verdict === null) return { ok: false, ...problems };
  return { ok: true, body: { verdict: draft.verdict, note, based_on: basedOn } };
}

/** The latest version among `decisions` (0 when there is none): what a new decision is based on. */
export function latestVersion(decisions: readonly Pick<Decision, "version">[]): number {
  return decisions.reduce((v, d) => Math.max(v, d.version), 0);
}

/** The latest decision, if any. */
export function latestDecision(decisions: readonly Decision[]): Decision | undefined {
  return decisions.reduce<Decision | undefined>((best, d) => (!best || d.version > best.version ? d : best), undefined);
}

export type IncidentCheck = { readonly ok: true; readonly body: ReviewIncident } | { readonly ok: false; readonly problem: string };

/** A reading of an incident; an empty note is left out. */
export function checkIncidentReview(verdict: IncidentVerdict, rawNote: string): IncidentCheck {
  const note = rawNote.trim();
  const n = charCount(note);
  if (n > INCIDENT_NOTE_MAX) {
    return { ok: false, problem: `Note too long: ${(n - INCIDENT_NOTE_MAX).toLocaleString("en")} characters over the ${INCIDENT_NOTE_MAX.toLocaleString("en")} allowed.` };
  }
  return { ok: true, body: n === 0 ? { verdict } : { verdict, note } };
}
