import { useStudentList } from "../store/scoreStore";
import { Tile } from "./Tile";

/**
 * The exam's grid: a header with counts and one tile per student in roster
 * order. It re-renders only on list changes (roster, levels, presence);
 * tiles are memoised, so that re-render does not reach them.
 */
export function TileGrid() {
  const { exam, roster, counts } = useStudentList();
  if (!exam) return <p className="status">Waiting for the exam snapshot…</p>;
  return (
    <section className="exam">
      <header className="exam__header">
        <h2>{exam.title}</h2>
        <p className="counts" aria-live="polite">
          {counts.total} students · {counts.present} live · {counts.stalled} stalled · {counts.offline} offline ·{" "}
          {counts.watch} watch · {counts.alert} alert
        </p>
      </header>
      <div className="grid">
        {roster.map((id) => (
          <Tile key={id} id={id} />
        ))}
      </div>
    </section>
  );
}
