import { memo } from "react";
import type { Level, Presence, Quality } from "@proto";
import { useStudent } from "../store/scoreStore";

/** Levels and presence are always spelled out: colour is never the only cue. */
export const LEVEL_LABEL: Record<Level, string> = { ok: "OK", watch: "Watch", alert: "Alert" };
export const PRESENCE_LABEL: Record<Presence, string> = { live: "Live", stalled: "Stalled", offline: "Offline" };
const QUALITY_LABEL: Record<Quality, string | null> = {
  good: null,
  unknown: null,
  low_light: "Low light",
  low_confidence: "Low confidence",
};

/**
 * One student. Reads only its own student from the store, and is memoised
 * on `id`, so neither other students' updates nor a grid re-render touch it.
 */
export const Tile = memo(function Tile({ id }: { id: string }) {
  const s = useStudent(id);
  if (!s) return null;
  const { level, score } = s.score;
  const quality = QUALITY_LABEL[s.quality];
  return (
    <article
      className={`tile tile--${level} tile--${s.presence}`}
      data-student={id}
      aria-label={`${s.person.name}: ${LEVEL_LABEL[level]}, ${PRESENCE_LABEL[s.presence]}`}
    >
      <h3 className="tile__name">{s.person.name}</h3>
      <p className="tile__score">
        <span className="tile__level">{LEVEL_LABEL[level]}</span>{" "}
        <span className="tile__value">{score.toFixed(1)}</span>
      </p>
      <p className="tile__presence">
        {PRESENCE_LABEL[s.presence]}
        {quality && <> · {quality}</>}
      </p>
    </article>
  );
});
