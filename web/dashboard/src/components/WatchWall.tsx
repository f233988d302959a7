import { memo, useEffect, useState } from "react";
import { currentScore, useStudent } from "../store/scoreStore";
import { useConnectionStatus, useServices } from "../services";
import { DEFAULT_WALL, nextWall, type Candidate } from "../watch/ranking";
import { LiveVideo } from "./LiveVideo";
import { LEVEL_ICON, LEVEL_LABEL } from "./Tile";

/** Slot 0 is the drawer's; the wall uses slots 1..size. */
export const WALL_FIRST_SLOT = 1;

/**
 * The N most suspicious students right now, as low-layer (thumbnail) live
 * video. Re-ranked every 2 s with hysteresis (see `nextWall`).
 */
export const WatchWall = memo(function WatchWall({ onOpen, size = DEFAULT_WALL.size }: { onOpen: (id: string) => void; size?: number }) {
  const { store } = useServices();
  const [wall, setWall] = useState<(string | null)[]>(() => Array.from({ length: size }, () => null));
  const stale = useConnectionStatus().kind !== "live";

  useEffect(() => {
    const rank = () => {
      const rules = store.getList().exam?.settings.scoring;
      if (!rules) return;
      const now = Date.now();
      const candidates: Candidate[] = [];
      for (const id of store.ids()) {
        const t = store.getStudent(id)!;
        candidates.push({ id, score: currentScore(t.score, rules.half_life_s, now), eligible: t.presence !== "offline" });
      }
      setWall((cur) => {
        const next = nextWall(cur, candidates, { ...DEFAULT_WALL, size });
        return next.every((x, i) => x === cur[i]) ? cur : next;
      });
    };
    rank();
    const timer = setInterval(rank, 2000);
    return () => clearInterval(timer);
  }, [store, size]);

  return (
    <section className={stale ? "wall wall--stale" : "wall"} aria-busy={stale} aria-label={`Watch wall: ${size} most suspicious students`}>
      {wall.map((id, i) =>
        id ? <WallCard key={i} slot={WALL_FIRST_SLOT + i} id={id} onOpen={onOpen} /> : <div key={i} className="wall__card wall__card--empty">—</div>,
      )}
    </section>
  );
});

function WallCard({ slot, id, onOpen }: { slot: number; id: string; onOpen: (id: string) => void }) {
  const t = useStudent(id);
  const name = t?.student.name ?? id;
  const level = t?.shown.level ?? "ok";
  return (
    <button type="button" className={`wall__card tile--${level}`} onClick={() => onOpen(id)} aria-label={`Open ${name}`}>
      <LiveVideo slot={slot} studentId={id} quality="thumbnail" label={name} />
      <span className="wall__name">
        {LEVEL_ICON[level]} {name} · {LEVEL_LABEL[level]} {t?.shown.score.toFixed(1)}
      </span>
    </button>
  );
}
