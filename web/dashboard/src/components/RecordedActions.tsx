import { useEffect, useState } from "react";
import type { RecordedAction } from "@proto";
import { clock, useServices } from "../services";

/** What a recorded action is called (the review's timeline says them too). */
export const ACTION_LABEL: Record<RecordedAction["kind"], string> = {
  warn: "Warned",
  message: "Message",
  pause: "Paused",
  resume: "Resumed",
  terminate: "Terminated",
  flag_for_review: "⚑ Flagged for review",
  add_time: "Time added",
  approve_identity: "✓ Identity approved",
  reject_identity: "✗ Identity rejected",
};

/**
 * What the exam's proctors did to this student, from the server (flags
 * with their notes, pauses, time added); fetched again when `version`
 * changes (an action from this drawer).
 */
export function RecordedActions({ id, version }: { id: string; version: number }) {
  const { api } = useServices();
  const [loaded, setLoaded] = useState<{ id: string; list: RecordedAction[] | { error: string } } | null>(null);
  useEffect(() => {
    let live = true;
    api.actions(id).then(
      (list) => live && setLoaded({ id, list }),
      (e: unknown) => live && setLoaded({ id, list: { error: e instanceof Error ? e.message : String(e) } }),
    );
    return () => {
      live = false;
    };
  }, [api, id, version]);
  const list = loaded?.id === id ? loaded.list : null;
  return (
    <section aria-label="Proctor actions" className="drawer__recorded">
      <h3>Proctor actions</h3>
      {list === null && <p className="status">Loading…</p>}
      {list && !Array.isArray(list) && <p className="status">Could not load them: {list.error}</p>}
      {Array.isArray(list) && list.length === 0 && <p className="status">None yet.</p>}
      {Array.isArray(list) && list.length > 0 && (
        <ol className="timeline">
          {list.map((a, i) => (
            <li key={`${a.at}-${i}`} data-action={a.kind}>
              <strong>{ACTION_LABEL[a.kind] ?? a.kind}</strong>
              {a.minutes ? <> +{a.minutes} min</> : null} <time>{clock(a.at)}</time> · {a.proctor_id}
              {a.text && <div className="timeline__detail">{a.text}</div>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
