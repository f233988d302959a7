/**
 * Who is on the watch wall: the N most suspicious students right now, with
 * hysteresis so the wall does not flap when scores are close.
 *
 * A student already on the wall keeps their place until a challenger beats
 * the weakest member by a clear margin (both `ratio` times and `margin`
 * points higher), or until they drop below `minScore` or go offline. Free
 * places are filled by the strongest candidates at once. Members keep their
 * slot index so a video element does not jump around.
 */
export interface Candidate {
  readonly id: string;
  /** The current (decayed) score. */
  readonly score: number;
  /** Offline students have no video to show. */
  readonly eligible: boolean;
}

export interface WallOptions {
  readonly size: number;
  /** A challenger must score at least `ratio` × the weakest member … */
  readonly ratio: number;
  /** … and at least `margin` points more. */
  readonly margin: number;
  /** Below this a student is not suspicious enough to be shown. */
  readonly minScore: number;
}

export const DEFAULT_WALL: WallOptions = { size: 6, ratio: 1.25, margin: 0.5, minScore: 0.5 };

/**
 * The next wall, by slot: `current[i]` is the student in slot `i` (or null).
 * Pure: same input, same output.
 */
export function nextWall(
  current: readonly (string | null)[],
  candidates: readonly Candidate[],
  opts: WallOptions = DEFAULT_WALL,
): (string | null)[] {
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const ok = (c: Candidate | undefined): c is Candidate => !!c && c.eligible && c.score >= opts.minScore;
  const slots: (string | null)[] = Array.from({ length: opts.size }, (_, i) => current[i] ?? null);
  // Members who no longer qualify leave.
  for (let i = 0; i < slots.length; i++) {
    const id = slots[i];
    if (id != null && !ok(byId.get(id))) slots[i] = null;
  }
  const onWall = new Set(slots.filter((x): x is string => x != null));
  const challengers = candidates
    .filter((c) => ok(c) && !onWall.has(c.id))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
  let next = 0;
  // Fill empty places with the strongest.
  for (let i = 0; i < slots.length && next < challengers.length; i++) {
    if (slots[i] == null) {
      slots[i] = challengers[next++]!.id;
    }
  }
  // Replace the weakest member while a challenger beats it clearly.
  while (next < challengers.length) {
    const c = challengers[next]!;
    let weakest = -1;
    for (let i = 0; i < slots.length; i++) {
      const m = byId.get(slots[i]!);
      if (m && (weakest < 0 || m.score < byId.get(slots[weakest]!)!.score)) weakest = i;
    }
    if (weakest < 0) break;
    const w = byId.get(slots[weakest]!)!;
    if (c.score >= w.score * opts.ratio && c.score >= w.score + opts.margin) {
      slots[weakest] = c.id;
      next++;
    } else {
      break;
    }
  }
  return slots;
}
