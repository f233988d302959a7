/**
 * The review queue's model, apart from React: which students a reviewer
 * sees (filtered by decision and incident kind), in which order, how far
 * the review has come, and where "next undecided" leads.
 *
 * The server already sends the queue highest priority first; the page
 * sorts again with the same rule (priority, then id) so that a filter, a
 * reload or a merged row can never show another order than the server's.
 */
import type { IncidentKind, ReviewQueue, ReviewRow } from "@proto";
import { KIND_LABEL } from "../services";

export type DecidedFilter = "undecided" | "decided" | "all";

export interface QueueCriteria {
  readonly decided: DecidedFilter;
  /** Only students with at least one (not dismissed) incident of this kind. */
  readonly kind: IncidentKind | "all";
}

/**
 * Everyone by default: a decided student stays in sight with the decision,
 * so a reviewer sees what was decided; "next undecided" skips them.
 */
export const DEFAULT_QUEUE_CRITERIA: QueueCriteria = { decided: "all", kind: "all" };

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Highest priority first, ties by student id (the server's order). */
export function byPriority(a: ReviewRow, b: ReviewRow): number {
  return b.priority - a.priority || byId(a.student.id, b.student.id);
}

/** The rows to show, in review order. */
export function queueRows(rows: readonly ReviewRow[], c: QueueCriteria): ReviewRow[] {
  return rows
    .filter((r) => {
      if (c.decided === "decided" && !r.decision) return false;
      if (c.decided === "undecided" && r.decision) return false;
      if (c.kind !== "all" && !((r.counts[c.kind] ?? 0) > 0)) return false;
      return true;
    })
    .sort(byPriority);
}

/** The kinds any student has, for the filter: most frequent first, then by name. */
export function kindsIn(rows: readonly ReviewRow[]): IncidentKind[] {
  const total = new Map<IncidentKind, number>();
  for (const r of rows) {
    for (const [k, n] of Object.entries(r.counts) as [IncidentKind, number | undefined][]) {
      if (n && n > 0) total.set(k, (total.get(k) ?? 0) + n);
    }
  }
  return [...total.keys()].sort((a, b) => total.get(b)! - total.get(a)! || label(a).localeCompare(label(b)));
}

const label = (k: IncidentKind): string => KIND_LABEL[k] ?? k;

/** A student's incidents by kind, most first: "Two or more faces ×2 · No face ×1"; "none". */
export function countsText(counts: ReviewRow["counts"]): string {
  const parts = (Object.entries(counts) as [IncidentKind, number | undefined][])
    .filter((e): e is [IncidentKind, number] => (e[1] ?? 0) > 0)
    .sort((a, b) => b[1] - a[1] || label(a[0]).localeCompare(label(b[0])));
  return parts.length === 0 ? "none" : parts.map(([k, n]) => `${label(k)} ×${n}`).join(" · ");
}

/** "3 of 12 reviewed": students with a decision, of every student of the exam (whatever is filtered). */
export function progressText(q: Pick<ReviewQueue, "decided" | "students">): string {
  return `${q.decided} of ${q.students.length} reviewed`;
}

/**
 * Where "next undecided student" leads from `current`: the first student
 * without a decision after it in review order, wrapping round to the top;
 * never `current` itself. Undefined when everyone else is decided.
 */
export function nextUndecided(rows: readonly ReviewRow[], current: string): ReviewRow | undefined {
  const sorted = [...rows].sort(byPriority);
  const at = sorted.findIndex((r) => r.student.id === current);
  for (let i = 1; i <= sorted.length; i++) {
    const r = sorted[(Math.max(at, -1) + i) % sorted.length]!;
    if (r.student.id !== current && !r.decision) return r;
  }
  return undefined;
}

/**
 * Which row to select in `rows`: the student selected before if still
 * shown (coming back from their page, or after a reload), else the row now
 * at the index they had (the one that moved up), else the first.
 */
export function selectionIndex(rows: readonly ReviewRow[], selected: string | undefined, previousIndex: number): number {
  if (rows.length === 0) return -1;
  const at = selected === undefined ? -1 : rows.findIndex((r) => r.student.id === selected);
  if (at >= 0) return at;
  return Math.max(0, Math.min(rows.length - 1, previousIndex));
}

/**
 * `queue` with one student's row brought up to date from their review
 * page (a decision made there), so the queue and "next undecided" are right
 * before the queue is fetched again.
 */
export function withDecision(queue: ReviewQueue, student: string, decision: ReviewRow["decision"]): ReviewQueue {
  let decided = queue.decided;
  const students = queue.students.map((r) => {
    if (r.student.id !== student) return r;
    if (!r.decision && decision) decided += 1;
    if (r.decision && !decision) decided -= 1;
    const row: ReviewRow = { ...r };
    if (decision) row.decision = decision;
    else delete row.decision;
    return row;
  });
  return { ...queue, students, decided };
}
