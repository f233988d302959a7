import { memo, useEffect, useState } from "react";
import type { ChatMessage, IdentityPhotoKind, IncidentRecord, IncidentReview, IncidentVerdict } from "@proto";
import { KIND_LABEL, clock } from "../services";
import { INCIDENT_NOTE_MAX, INCIDENT_VERDICT_LABEL } from "../review/decision";
import { byText, transitionText, type Entry } from "../review/timeline";
import { ACTION_LABEL } from "./RecordedActions";
import { PHOTO_LABEL } from "./IdentityQueuePanel";
import { BlobMedia } from "./BlobMedia";

/** An incident's reading being written: the note typed, a request in flight, the last refusal. */
export interface IncidentUi {
  readonly note: string;
  readonly busy: boolean;
  readonly error?: string;
}

const kindText = (k: IncidentRecord["kind"]) => KIND_LABEL[k] ?? k;

/**
 * Entries put on the page at once, then more each task after: a record of
 * thousands answers keys and clicks after its first screen is drawn, not
 * after its last entry is (docs/BENCHMARKS.md, "review page").
 */
export const FIRST_ENTRIES = 100;
export const MORE_ENTRIES = 250;

/**
 * How many of `total` entries are on the page: a growing prefix (reset
 * for another student), never short of `atLeast` (the current incident
 * must be there to take focus).
 */
function useGrowingPrefix(total: number, atLeast: number, student: string): number {
  const [state, setState] = useState({ student, shown: FIRST_ENTRIES });
  const shown = state.student === student ? state.shown : FIRST_ENTRIES;
  if (state.student !== student) setState({ student, shown });
  useEffect(() => {
    if (shown >= total) return;
    const t = setTimeout(() => setState((s) => (s.student === student ? { student, shown: s.shown + MORE_ENTRIES } : s)));
    return () => clearTimeout(t);
  }, [shown, total, student]);
  return Math.max(shown, atLeast);
}

/**
 * The student's record as one list, oldest first (`review/timeline.ts`
 * merges it). Incidents are the stops of `n`/`p` (each focusable, the
 * current one marked) and carry their evidence frame, their latest reading
 * and the Confirm / Dismiss controls; the rest is context around them.
 * Every text from the record is rendered as text.
 */
export function ReviewTimeline({
  student,
  name,
  entries,
  current,
  ui,
  onCurrent,
  onNote,
  onRead,
  loadEvidence,
  loadPhoto,
  playable,
  onPlay,
}: {
  student: string;
  name: string;
  entries: readonly Entry[];
  current: string | null;
  ui: Readonly<Record<string, IncidentUi>>;
  onCurrent: (incident: string) => void;
  onNote: (incident: string, note: string) => void;
  onRead: (incident: string, verdict: IncidentVerdict) => void;
  loadEvidence: (sha256: string) => Promise<Blob>;
  loadPhoto: (kind: IdentityPhotoKind) => Promise<Blob>;
  /** Whether the recording shows a moment (absent: the exam records nothing). */
  playable?: (at: number) => boolean;
  /** Plays the recording from an incident. */
  onPlay?: (incident: string, at: number) => void;
}) {
  const currentAt = current === null ? -1 : entries.findIndex((e) => e.kind === "incident" && e.incident.id === current);
  const shown = useGrowingPrefix(entries.length, currentAt + 1, student);
  return (
    <section aria-label="Timeline" className="rs__timeline">
      <h3>Timeline</h3>
      {entries.length === 0 && <p className="status">Nothing on record for this student.</p>}
      <ol className="rt__list" aria-busy={shown < entries.length || undefined}>
        {entries.slice(0, shown).map((e) => {
          switch (e.kind) {
            case "incident":
              return (
                <IncidentEntry
                  key={e.key}
                  incident={e.incident}
                  reading={e.reading}
                  current={e.incident.id === current}
                  ui={ui[e.incident.id]}
                  onCurrent={onCurrent}
                  onNote={onNote}
                  onRead={onRead}
                  loadEvidence={loadEvidence}
                  onPlay={playable?.(e.incident.started_at) ? onPlay : undefined}
                />
              );
            case "transition": {
              const t = e.transition;
              return (
                <li key={e.key} className="rt rt--transition" data-entry="transition" data-change={t.change} data-at={e.at}>
                  <time>{clock(e.at)}</time> <span className="rt__tag">Session</span> <strong>{transitionText(t)}</strong> by {byText(t.by)}
                  {t.reason && <span className="rt__text">: {t.reason}</span>}
                </li>
              );
            }
            case "action": {
              const a = e.action;
              return (
                <li key={e.key} className="rt rt--action" data-entry="action" data-action={a.kind} data-at={e.at}>
                  <time>{clock(e.at)}</time> <span className="rt__tag">Proctor {a.proctor_id}</span> <strong>{ACTION_LABEL[a.kind] ?? a.kind}</strong>
                  {a.minutes ? <> +{a.minutes} min</> : null}
                  {a.text && <p className="rt__text">{a.text}</p>}
                </li>
              );
            }
            case "chat":
              return (
                <li key={e.key} className="rt rt--chat" data-entry="chat" data-from={chatFrom(e.message)} data-at={e.at}>
                  <time>{clock(e.at)}</time> <span className="rt__tag">Chat</span> <strong>{chatAuthor(e.message, name)}</strong>
                  <p className="rt__text chat__text">{e.message.text}</p>
                </li>
              );
            case "photo": {
              const p = e.photo;
              const label = PHOTO_LABEL[p.kind] ?? p.kind;
              return (
                <li key={e.key} className="rt rt--photo" data-entry="photo" data-at={e.at}>
                  <time>{clock(e.at)}</time> <span className="rt__tag">Identity</span> <strong>{label} photo</strong> · {p.width}×{p.height}
                  <BlobMedia
                    cacheKey={`${student}:${p.kind}:${p.sha256}`}
                    load={() => loadPhoto(p.kind)}
                    alt={`${label} photo of ${name}`}
                    className="rt__thumb"
                    width={160}
                    kind="identity"
                  />
                </li>
              );
            }
          }
        })}
      </ol>
    </section>
  );
}

const chatFrom = (m: ChatMessage) => (m.student_id === undefined ? "announcement" : m.from);

function chatAuthor(m: ChatMessage, name: string): string {
  if (m.student_id === undefined) return `Announcement to all students (proctor ${m.proctor_id ?? "?"})`;
  return m.from === "student" ? name : `Proctor ${m.proctor_id ?? "?"}`;
}

/** Memoised: typing a note or reading one incident re-renders that entry alone. */
const IncidentEntry = memo(function IncidentEntry({
  incident: r,
  reading,
  current,
  ui,
  onCurrent,
  onNote,
  onRead,
  loadEvidence,
  onPlay,
}: {
  incident: IncidentRecord;
  reading: IncidentReview | undefined;
  current: boolean;
  ui: IncidentUi | undefined;
  onCurrent: (incident: string) => void;
  onNote: (incident: string, note: string) => void;
  onRead: (incident: string, verdict: IncidentVerdict) => void;
  loadEvidence: (sha256: string) => Promise<Blob>;
  /** Set when the recording shows the incident's start. */
  onPlay: ((incident: string, at: number) => void) | undefined;
}) {
  const what = `${kindText(r.kind)} at ${clock(r.started_at)}`;
  const busy = ui?.busy ?? false;
  return (
    <li
      className={`rt rt--incident${current ? " rt--current" : ""}${reading ? ` rt--${reading.verdict}` : ""}${r.during_pause ? " rt--paused" : ""}`}
      data-entry="incident"
      data-incident={r.id}
      data-at={r.started_at}
      data-during-pause={r.during_pause ? "" : undefined}
      data-focus-home
      tabIndex={-1}
      aria-current={current ? "true" : undefined}
      aria-label={`Incident: ${what}`}
      onFocus={() => onCurrent(r.id)}
    >
      <div className="rt__head">
        <time>{clock(r.started_at)}</time> <strong className="rt__kind">{kindText(r.kind)}</strong>
        {r.ended_at !== undefined ? (
          <>
            {" "}
            – <time>{clock(r.ended_at)}</time> ({((r.ended_at - r.started_at) / 1000).toFixed(1)} s)
          </>
        ) : (
          " (no end reported)"
        )}
        {r.confidence != null && <> · conf. {(r.confidence * 100).toFixed(0)}%</>}
        {r.source === "server" && <> · raised by the server</>}
        {r.during_pause && (
          <span className="rt__pause" title="Accepted while a proctor had paused the session">
            {" "}
            ‖ During a pause
          </span>
        )}
      </div>
      {r.detail && <p className="rt__text">{r.detail}</p>}
      {r.evidence_sha256 && (
        <BlobMedia
          cacheKey={r.evidence_sha256}
          load={() => loadEvidence(r.evidence_sha256!)}
          alt={`Evidence: ${what}`}
          className="rt__thumb"
          width={200}
          kind="evidence"
        />
      )}
      <p className="rt__reading" data-reading={reading?.verdict ?? "none"}>
        {reading ? (
          <>
            <strong>
              {reading.verdict === "confirmed" ? "✓" : "✗"} {INCIDENT_VERDICT_LABEL[reading.verdict] ?? reading.verdict}
            </strong>{" "}
            by {reading.reviewer} at {clock(reading.at)}
            {reading.note && <span className="rt__text">: {reading.note}</span>}
          </>
        ) : (
          <span className="rt__unreviewed">Not reviewed yet</span>
        )}
      </p>
      <div className="rt__review">
        <input
          aria-label={`Note on ${what}`}
          placeholder="Note (optional)"
          value={ui?.note ?? ""}
          maxLength={INCIDENT_NOTE_MAX * 2}
          onChange={(e) => onNote(r.id, e.target.value)}
        />
        <button type="button" disabled={busy} aria-keyshortcuts="c" onClick={() => onRead(r.id, "confirmed")}>
          ✓ Confirm
        </button>
        <button type="button" disabled={busy} aria-keyshortcuts="d" onClick={() => onRead(r.id, "dismissed")}>
          ✗ Dismiss
        </button>
        {onPlay && (
          <button type="button" className="rt__play" aria-label={`Play the recording from ${what}`} onClick={() => onPlay(r.id, r.started_at)}>
            ▶ Play
          </button>
        )}
      </div>
      {ui?.error && (
        <p className="status status--error" role="alert">
          Not recorded — {ui.error}
        </p>
      )}
    </li>
  );
});
