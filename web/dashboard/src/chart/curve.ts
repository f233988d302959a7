/**
 * A score curve as drawn: the points at which the score was known (after
 * each incident that counts), and between them the decay the server
 * applies, `score(t) = p.score · 2^(−(t − p.t) / half-life)`, sampled so
 * that a chart's straight segments follow the curve. Apart from React so
 * the drawer's live chart and the review's recorded one share it, tested.
 */
import { currentScore } from "../store/scoreStore";

export interface CurvePoint {
  readonly t: number;
  readonly score: number;
}

/** Samples per half-life: with straight lines between them the drawn curve is within 1 % of the true one. */
const PER_HALF_LIFE = 4;
/** Below this share of its point's score the decay is flat on any chart: one sample at the segment's end suffices. */
const NEGLIGIBLE = 0.01;

/**
 * The polyline of the score from the first point until `end`: each point;
 * after it, the decay every quarter half-life until it is negligible or
 * the next point comes; the decayed value just before the next point (so
 * the rise at an incident is drawn upright); and the value at `end`.
 * `end` before the last point draws up to the last point. No decay
 * (`halfLifeS` ≤ 0) holds each score until the next point.
 */
export function sampleCurve(points: readonly CurvePoint[], halfLifeS: number, end: number): CurvePoint[] {
  const out: CurvePoint[] = [];
  const last = points[points.length - 1];
  if (!last) return out;
  const stop = Math.max(end, last.t);
  const step = halfLifeS > 0 ? (halfLifeS * 1000) / PER_HALF_LIFE : Infinity;
  points.forEach((p, i) => {
    const until = i + 1 < points.length ? points[i + 1]!.t : stop;
    const at = (t: number) => currentScore({ score: p.score, as_of: p.t }, halfLifeS, t);
    out.push({ t: p.t, score: p.score });
    // Multiples of the step rather than a running sum: no drift over long segments.
    for (let k = 1; p.score > 0 && p.t + k * step < until; k++) {
      const t = p.t + k * step;
      const v = at(t);
      out.push({ t, score: v });
      if (v < p.score * NEGLIGIBLE) break;
    }
    if (until > p.t) out.push({ t: until, score: at(until) });
  });
  return out;
}

/** The score the curve gives at `t` (0 before its first point). */
export function scoreAt(points: readonly CurvePoint[], halfLifeS: number, t: number): number {
  let p: CurvePoint | undefined;
  for (const q of points) {
    if (q.t > t) break;
    p = q;
  }
  return p ? currentScore({ score: p.score, as_of: p.t }, halfLifeS, t) : 0;
}
