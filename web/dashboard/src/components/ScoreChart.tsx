import type { ScoringRules } from "@proto";
import type { ScorePoint } from "../feed/feeds";
import { currentScore } from "../store/scoreStore";

/**
 * Score over time from the updates this page received, with the decay
 * between them drawn as a curve and the watch/alert thresholds as lines.
 */
export function ScoreChart({ points, rules, now, width = 340, height = 90 }: {
  points: readonly ScorePoint[];
  rules: ScoringRules;
  now: number;
  width?: number;
  height?: number;
}) {
  if (points.length === 0) return <p className="status">No score updates received yet.</p>;
  const t0 = Math.min(points[0]!.t, now - 60_000);
  const span = Math.max(1, now - t0);
  const ymax = Math.max(rules.alert_at * 1.2, ...points.map((p) => p.score)) || 1;
  const x = (t: number) => ((t - t0) / span) * (width - 30) + 28;
  const y = (v: number) => height - 12 - (v / ymax) * (height - 18);
  // Decay between points: a few samples per segment.
  const d: string[] = [];
  points.forEach((p, i) => {
    const end = i + 1 < points.length ? points[i + 1]!.t : now;
    d.push(`${i === 0 ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.score).toFixed(1)}`);
    const steps = 6;
    for (let k = 1; k <= steps; k++) {
      const t = p.t + ((end - p.t) * k) / steps;
      d.push(`L${x(t).toFixed(1)},${y(currentScore({ score: p.score, as_of: p.t }, rules.half_life_s, t)).toFixed(1)}`);
    }
  });
  return (
    <svg className="chart" width={width} height={height} role="img" aria-label={`Score over time, ${points.length} updates`}>
      <line x1={28} x2={width} y1={y(rules.alert_at)} y2={y(rules.alert_at)} className="chart__alert" />
      <line x1={28} x2={width} y1={y(rules.watch_at)} y2={y(rules.watch_at)} className="chart__watch" />
      <text x={2} y={y(rules.alert_at) + 4} className="chart__label">{rules.alert_at}</text>
      <text x={2} y={y(rules.watch_at) + 4} className="chart__label">{rules.watch_at}</text>
      <text x={2} y={height - 2} className="chart__label">0</text>
      <path d={d.join("")} className="chart__line" fill="none" />
      {points.map((p, i) => (
        <circle key={i} cx={x(p.t)} cy={y(p.score)} r={2} className="chart__dot" />
      ))}
    </svg>
  );
}
