import { useEffect, useMemo, useRef } from "react";
import type { IncidentKind, ReviewRow } from "@proto";
import { KIND_LABEL } from "../services";
import { countsText, kindsIn, progressText, queueRows, selectionIndex, type DecidedFilter, type QueueCriteria } from "../review/queue";
import { VERDICT_ICON, VERDICT_LABEL } from "../review/decision";
import { keyTargetOf, moveSelection, queueCommand } from "../review/keys";
import { PHASE_TEXT } from "../review/timeline";
import type { QueueLoad } from "./Review";
import { hrefFor } from "./useRoute";
import { DownloadButton } from "./DownloadButton";
import { useServices } from "../services";

/**
 * The review queue: every student, highest priority first, with what
 * ranks them and the decision on them, filtered by decision and by
 * incident kind. One tab stop for the list (roving tabindex on the
 * selected row's link); j/k or ↓/↑ move, Enter opens, / goes to the kind
 * filter and Escape comes back from it.
 */
export function ReviewQueuePage({
  load,
  waitMs,
  criteria,
  onCriteria,
  selected,
  onSelect,
  onOpen,
  onReload,
}: {
  load: QueueLoad;
  waitMs: number | null;
  criteria: QueueCriteria;
  onCriteria: (c: QueueCriteria) => void;
  selected: { id: string | undefined; index: number };
  onSelect: (s: { id: string | undefined; index: number }) => void;
  onOpen: (id: string) => void;
  onReload: () => void;
}) {
  const all = load.kind === "ok" ? load.queue.students : undefined;
  const rows = useMemo(() => (all ? queueRows(all, criteria) : []), [all, criteria]);
  const kinds = useMemo(() => (all ? kindsIn(all) : []), [all]);
  const index = selectionIndex(rows, selected.id, selected.index);
  const kindRef = useRef<HTMLSelectElement>(null);
  const tableRef = useRef<HTMLTableSectionElement>(null);
  const headRef = useRef<HTMLHeadingElement>(null);
  const { api } = useServices();

  const focusRow = (i: number) => {
    const link = tableRef.current?.querySelector<HTMLAnchorElement>(`tr[data-index="${i}"] a`);
    if (link) {
      link.focus();
      link.closest("tr")?.scrollIntoView?.({ block: "nearest" });
    }
  };

  // The keys act on the latest rows and selection without re-subscribing on each change.
  const state = useRef({ rows, index, focusRow, onOpen, onSelect });
  useEffect(() => {
    state.current = { rows, index, focusRow, onOpen, onSelect };
  });

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented) return;
      const target = e.target instanceof Element ? e.target : null;
      const cmd = queueCommand({ key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, altKey: e.altKey, target: keyTargetOf(target) });
      if (!cmd) return;
      const s = state.current;
      if (cmd.t === "filter") {
        e.preventDefault();
        kindRef.current?.focus();
      } else if (cmd.t === "leave-field") {
        if (!target?.closest(".rq")) return;
        e.preventDefault();
        s.focusRow(s.index);
      } else if (cmd.t === "open") {
        const row = s.rows[s.index];
        if (!row) return;
        e.preventDefault();
        s.onOpen(row.student.id);
      } else {
        e.preventDefault();
        const i = moveSelection(s.index, cmd, s.rows.length);
        const row = s.rows[i];
        if (!row) return;
        s.onSelect({ id: row.student.id, index: i });
        s.focusRow(i);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // Arriving (or coming back from a student): focus on the selected row,
  // once the list is there; the heading while it is not.
  const focused = useRef(false);
  useEffect(() => {
    if (focused.current) return;
    if (rows.length > 0) {
      focused.current = true;
      focusRow(index);
    } else if (load.kind !== "loading") {
      focused.current = true;
      headRef.current?.focus();
    }
  });

  const set = (patch: Partial<QueueCriteria>) => onCriteria({ ...criteria, ...patch });

  return (
    <main className="review rq" aria-labelledby="rq-title">
      <header className="review__head">
        <h2 id="rq-title" ref={headRef} tabIndex={-1}>
          Review queue
        </h2>
        {load.kind === "ok" && (
          <p className="rq__progress" data-progress>
            <progress max={load.queue.students.length || 1} value={load.queue.decided} aria-hidden="true" /> {progressText(load.queue)}
          </p>
        )}
        <button type="button" onClick={onReload} disabled={load.kind === "loading" || (load.kind === "ok" && load.reloading)}>
          ↻ Reload
        </button>
        <DownloadButton label="Export CSV" filename={`${api.exam}-review.csv`} fetchBlob={() => api.exportCsv()} />
      </header>
      <div className="toolbar" role="search" aria-label="Filter the queue">
        <label>
          Show
          <select value={criteria.decided} onChange={(e) => set({ decided: e.target.value as DecidedFilter })}>
            <option value="all">All students</option>
            <option value="undecided">Undecided</option>
            <option value="decided">Decided</option>
          </select>
        </label>
        <label>
          Incident kind
          <select ref={kindRef} value={criteria.kind} onChange={(e) => set({ kind: e.target.value as IncidentKind | "all" })}>
            <option value="all">Any</option>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {KIND_LABEL[k] ?? k}
              </option>
            ))}
            {/* A kind picked earlier that no student has any more stays choosable. */}
            {criteria.kind !== "all" && !kinds.includes(criteria.kind) && <option value={criteria.kind}>{KIND_LABEL[criteria.kind] ?? criteria.kind}</option>}
          </select>
        </label>
        <span className="toolbar__shown">{load.kind === "ok" ? `${rows.length} shown` : ""}</span>
      </div>
      <p className="review__help" id="rq-help">
        Keys: <kbd>j</kbd> / <kbd>k</kbd> or <kbd>↓</kbd> / <kbd>↑</kbd> move · <kbd>Enter</kbd> opens the student · <kbd>/</kbd> incident kind
        filter (<kbd>Esc</kbd> back to the list)
      </p>
      {waitMs !== null && (
        <p className="status" role="status">
          The server asked to slow down: asking again in {(waitMs / 1000).toFixed(1)} s…
        </p>
      )}
      {load.kind === "loading" && <p className="status">Loading the review queue…</p>}
      {load.kind === "error" && (
        <p className="status status--error" role="alert">
          Could not load the review queue: {load.text}
        </p>
      )}
      {load.kind === "ok" && load.reloadError && (
        <p className="status status--error" role="alert">
          Could not reload the queue ({load.reloadError}); showing it as it was.
        </p>
      )}
      {load.kind === "ok" && (
        <div className="rq__scroll">
          <table className="rq__table" aria-describedby="rq-help">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Student</th>
                <th scope="col">Priority</th>
                <th scope="col">Peak score</th>
                <th scope="col">Incidents</th>
                <th scope="col">Unreviewed</th>
                <th scope="col">Gaps</th>
                <th scope="col">Session</th>
                <th scope="col">Decision</th>
              </tr>
            </thead>
            <tbody ref={tableRef}>
              {rows.map((r, i) => (
                <QueueRow key={r.student.id} row={r} index={i} selected={i === index} onSelect={() => onSelect({ id: r.student.id, index: i })} />
              ))}
            </tbody>
          </table>
          {rows.length === 0 && <p className="status">{all && all.length > 0 ? "No students match these filters." : "This exam has no students."}</p>}
        </div>
      )}
    </main>
  );
}

function QueueRow({ row, index, selected, onSelect }: { row: ReviewRow; index: number; selected: boolean; onSelect: () => void }) {
  const d = row.decision;
  return (
    <tr
      data-review-row
      data-index={index}
      data-student={row.student.id}
      aria-selected={selected}
      className={`rq__row${selected ? " rq__row--selected" : ""}${d ? " rq__row--decided" : ""}`}
      onClick={onSelect}
      onFocus={selected ? undefined : onSelect}
    >
      <td className="rq__num">{index + 1}</td>
      <td className="rq__student">
        {/* A real link: it can be opened in a new tab or copied (the token stays in the fragment). */}
        <a href={hrefFor({ view: "review", student: row.student.id })} tabIndex={selected ? 0 : -1}>
          {row.student.name}
        </a>{" "}
        <span className="rq__id">{row.student.id}</span>
      </td>
      <td className="rq__num" data-col="priority">{row.priority.toFixed(2)}</td>
      <td className="rq__num" data-col="peak">{row.peak_score.toFixed(1)}</td>
      <td data-col="incidents">
        <strong>{row.incident_count}</strong>
        {row.incident_count > 0 && <span className="rq__counts"> · {countsText(row.counts)}</span>}
      </td>
      <td className="rq__num" data-col="unreviewed">{row.unreviewed}</td>
      <td className="rq__num" data-col="gaps">{row.gaps}</td>
      <td data-col="session">{PHASE_TEXT[row.session.phase] ?? row.session.phase}</td>
      <td data-col="decision" data-verdict={d?.verdict ?? "none"}>
        {d ? (
          <>
            <span aria-hidden="true">{VERDICT_ICON[d.verdict]}</span> <strong>{VERDICT_LABEL[d.verdict] ?? d.verdict}</strong> · {d.reviewer}
          </>
        ) : (
          <span className="rq__undecided">Undecided</span>
        )}
      </td>
    </tr>
  );
}
