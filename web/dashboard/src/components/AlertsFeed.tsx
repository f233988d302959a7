import { memo } from "react";
import { useFeed } from "../feed/feeds";
import { KIND_LABEL, clock, useServices } from "../services";

/** New incidents, newest first; each can be acknowledged. */
export const AlertsFeed = memo(function AlertsFeed({ onOpen }: { onOpen: (id: string) => void }) {
  const { feed, store } = useServices();
  const { items, unacknowledged } = useFeed(feed);
  const shown = items.slice(0, 60);
  return (
    <aside className="feed" aria-label="Alerts">
      <header className="feed__head">
        <h2>
          Alerts <span className="feed__count">{unacknowledged} new</span>
        </h2>
        <button type="button" onClick={() => feed.acknowledgeAll()} disabled={unacknowledged === 0}>
          Acknowledge all
        </button>
      </header>
      {shown.length === 0 ? (
        <p className="status">No incidents yet.</p>
      ) : (
        <ol className="feed__list">
          {shown.map(({ record: r, acknowledged }) => (
            <li key={r.id} className={acknowledged ? "feed__item feed__item--ack" : "feed__item"}>
              <button type="button" className="linkish" onClick={() => onOpen(r.student_id)}>
                {store.getStudent(r.student_id)?.student.name ?? r.student_id}
              </button>
              <span className="feed__kind">{KIND_LABEL[r.kind] ?? r.kind}</span>
              <time>{clock(r.started_at)}</time>
              {r.ended_at ? <span className="feed__ended">ended</span> : null}
              {acknowledged ? (
                <span className="feed__acked">✓ acknowledged</span>
              ) : (
                <button type="button" onClick={() => feed.acknowledge(r.id)} aria-label={`Acknowledge ${KIND_LABEL[r.kind] ?? r.kind}`}>
                  Acknowledge
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
    </aside>
  );
});
