import type { ScoringRules } from "@proto";
import { sampleCurve, type CurvePoint } from "../chart/curve";
import { clock } from "../services";

/**
 * Score over time with the decay between points drawn as a curve
 * (`chart/curve.ts`) and the watch/alert thresholds as lines. The drawer
 * draws the updates this page received up to now; the review draws the
 * recorded curve from the session's start to its end, with the incident in
 * hand marked and the times on the axis.
 */
export function ScoreChart({
  points,
  rules,
  now,
  from,
  marker,
  label,
  axis = false,
  empty = "No score updates received yet.",
  width = 340,
  height = 90,
}: {
  points: readonly CurvePoint[];
  rules: ScoringRules;
  /** Where the curve ends (the drawer: now; the review: the session's end). */
  now: number;
  /** Where the time axis starts; by default the first point, or a minute before `now`. */
  from?: number | undefined;
  /** A moment to mark with an upright line (the incident in hand). */
  marker?: number | undefined;
  label?: string;
  /** Start and end times under the curve. */
  axis?: boolean;
  empty?: string;
  width?: number;
  height?: number;
}) {
  if (points.length === 0) return <p className="status">{empty}</p>;
  const t0 = Math.min(points[0]!.t, from ?? now - 60_000);
  const end = Math.max(now, points[points.length - 1]!.t);
  const span = Math.max(1, end - t0);
  const bottom = axis ? 14 : 0;
  const ymax = Math.max(rules.alert_at * 1.2, ...points.map((p) => p.score)) || 1;
  const x = (t: number) => ((t - t0) / span) * (width - 30) + 28;
  const y = (v: number) => height - bottom - 12 - (v / ymax) * (height - bottom - 18);
  const d = sampleCurve(points, rules.half_life_s, end)
    .map((p, i) => `${i === 0 ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.score).toFixed(1)}`)
    .join("");
  return (
    <svg className="chart" width={width} height={height} role="img" aria-label={label ?? `Score over time, ${points.length} updates`}>
      <line x1={28} x2={width} y1={y(rules.alert_at)} y2={y(rules.alert_at)} className="chart__alert" />
      <line x1={28} x2={width} y1={y(rules.watch_at)} y2={y(rules.watch_at)} className="chart__watch" />
      <text x={2} y={y(rules.alert_at) + 4} className="chart__label">{rules.alert_at}</text>
      <text x={2} y={y(rules.watch_at) + 4} className="chart__label">{rules.watch_at}</text>
      <text x={2} y={y(0) + 10} className="chart__label">0</text>
      {marker !== undefined && marker >= t0 && marker <= end && (
        <line x1={x(marker)} x2={x(marker)} y1={4} y2={y(0)} className="chart__marker" data-marker={marker} />
      )}
      <path d={d} className="chart__line" fill="none" />
      {points.map((p, i) => (
        <circle key={i} cx={x(p.t)} cy={y(p.score)} r={2} className="chart__dot" />
      ))}
      {axis && (
        <>
          <text x={28} y={height - 2} className="chart__label">{clock(t0)}</text>
          <text x={width - 2} y={height - 2} className="chart__label" textAnchor="end">{clock(end)}</text>
        </>
      )}
    </svg>
  );
}
