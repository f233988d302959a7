import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Decision, IdentityPhotoKind, IncidentRecord, IncidentReview, IncidentVerdict, StudentReview } from "@proto";
import { clock, useServices } from "../services";
import { DownloadButton } from "./DownloadButton";
import { Aborted, Limiter, errorText, retryRateLimited } from "../net/retry";
import { checkIncidentReview, latestDecision, latestVersion } from "../review/decision";
import { keyTargetOf, reviewCommand, stepIncident } from "../review/keys";
import { curveEnd, curveStart, incidentOrder, mergeTimeline, sessionText } from "../review/timeline";
import { describeAccommodations } from "./accommodationsForm";
import { DecisionPanel } from "./DecisionPanel";
import { ReviewTimeline, type IncidentUi } from "./ReviewTimeline";
import { ScoreChart } from "./ScoreChart";
import { RecordingPlayer, useRecordingIndex, type SeekRequest } from "./RecordingPlayer";
import { covers, seekTargetFor } from "../review/recording";
import { hrefFor } from "./useRoute";

type Load = { kind: "loading" } | { kind: "error"; text: string } | { kind: "ok"; review: StudentReview };

/**
 * After an incident reading the record is fetched again (the server
 * recomputes the curve and the priority without a dismissed incident) once
 * the reviewer pauses this long: a run of c/d presses costs one read.
 */
const RELOAD_AFTER_READING_MS = 400;
/** Images fetched at once: the rest wait (the reads share the proctor's rate budget). */
const IMAGE_CONCURRENCY = 4;

/**
 * One student's review, built from `GET …/students/{s}/review` (the
 * stored record, not the live page's state): header, score curve, one
 * timeline of everything on record, a reading per incident, the decision
 * and its history.
 *
 * Keys (shown on the page): n / p next / previous incident, c / d confirm /
 * dismiss it (with the note typed in its box), Escape back to the queue
 * (in a note, the first Escape leaves the note).
 */
export function StudentReviewPage({
  id,
  next,
  queueKnown,
  position,
  onBack,
  onOpen,
  onDecided,
}: {
  id: string;
  /** Where "next undecided student" leads, if anywhere. */
  next: { id: string; name: string } | undefined;
  /** Whether the queue is known (else "next undecided" cannot be told). */
  queueKnown: boolean;
  position: { at: number; of: number } | undefined;
  onBack: () => void;
  onOpen: (id: string) => void;
  onDecided: (id: string, d: Decision) => void;
}) {
  const { api } = useServices();
  const [load, setLoad] = useState<Load>({ kind: "loading" });
  const [waitMs, setWaitMs] = useState<number | null>(null);
  const [reloadError, setReloadError] = useState<string | null>(null);
  const [current, setCurrent] = useState<string | null>(null);
  const [ui, setUi] = useState<Record<string, IncidentUi>>({});
  const [hint, setHint] = useState<string | null>(null);
  /** Readings made that the shown curve and priority do not reflect yet. */
  const [outdated, setOutdated] = useState(false);
  /** A decision by someone else that arrived with a reload (the reviewer should know before deciding). */
  const [changedMeanwhile, setChangedMeanwhile] = useState<Decision | null>(null);
  const limiter = useMemo(() => new Limiter(IMAGE_CONCURRENCY), []);
  const headRef = useRef<HTMLHeadingElement>(null);
  const ctrl = useRef<AbortController | null>(null);
  const ownVersions = useRef(new Set<number>());
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  /** The latest decision version on screen (null: no record shown yet). */
  const shownVersion = useRef<number | null>(null);
  useEffect(() => {
    shownVersion.current = load.kind === "ok" ? latestVersion(load.review.decisions) : shownVersion.current;
  }, [load]);

  /** Fetches the record; `quiet` keeps the one shown meanwhile. Resolves to it (undefined on failure). */
  const fetchReview = useCallback(
    (quiet: boolean): Promise<StudentReview | undefined> => {
      ctrl.current?.abort();
      const c = (ctrl.current = new AbortController());
      if (!quiet) setLoad({ kind: "loading" });
      return retryRateLimited(() => api.studentReview(id), { signal: c.signal, onWait: setWaitMs }).then(
        (review) => {
          if (c.signal.aborted) return undefined;
          setWaitMs(null);
          setReloadError(null);
          setOutdated(false);
          const before = shownVersion.current;
          const latest = latestDecision(review.decisions);
          if (before !== null && latest && latest.version > before && !ownVersions.current.has(latest.version)) setChangedMeanwhile(latest);
          setLoad({ kind: "ok", review });
          return review;
        },
        (e: unknown) => {
          if (c.signal.aborted || e instanceof Aborted) return undefined;
          setWaitMs(null);
          if (quiet) {
            setReloadError(errorText(e));
            setOutdated(false);
          }
          else setLoad({ kind: "error", text: errorText(e) });
          return undefined;
        },
      );
    },
    [api, id],
  );

  useEffect(() => {
    void fetchReview(false);
    return () => {
      ctrl.current?.abort();
      clearTimeout(reloadTimer.current);
    };
  }, [fetchReview]);

  useEffect(() => headRef.current?.focus(), [id]);

  const review = load.kind === "ok" ? load.review : undefined;
  const entries = useMemo(() => (review ? mergeTimeline(review) : []), [review]);
  const order = useMemo(() => incidentOrder(entries), [entries]);

  const read = useCallback(
    async (incident: string, verdict: IncidentVerdict) => {
      const note = ui[incident]?.note ?? "";
      const check = checkIncidentReview(verdict, note);
      if (!check.ok) {
        setUi((u) => ({ ...u, [incident]: { ...u[incident], note, busy: false, error: check.problem } }));
        return;
      }
      setUi((u) => ({ ...u, [incident]: { ...u[incident], note, busy: true } }));
      try {
        const reading = await retryRateLimited(() => api.putIncidentReview(id, incident, check.body), { onWait: setWaitMs });
        setWaitMs(null);
        setUi((u) => ({ ...u, [incident]: { note: "", busy: false } }));
        // Shown at once; the curve and priority follow with a quiet reload.
        setLoad((l) => (l.kind === "ok" ? { kind: "ok", review: withReading(l.review, reading) } : l));
        clearTimeout(reloadTimer.current);
        setOutdated(true);
        reloadTimer.current = setTimeout(() => void fetchReview(true), RELOAD_AFTER_READING_MS);
      } catch (e) {
        setWaitMs(null);
        setUi((u) => ({ ...u, [incident]: { ...u[incident], note, busy: false, error: errorText(e) } }));
      }
    },
    [api, id, ui, fetchReview],
  );

  /** An incident to focus once it is on the page (the timeline puts a long record on in steps). */
  const pendingFocus = useRef<string | null>(null);
  const focusIncident = (incident: string) => {
    const el = [...document.querySelectorAll<HTMLElement>("[data-incident]")].find((e) => e.dataset.incident === incident);
    pendingFocus.current = el ? null : incident;
    el?.focus();
    el?.scrollIntoView?.({ block: "nearest" });
  };
  useEffect(() => {
    if (pendingFocus.current !== null) focusIncident(pendingFocus.current);
  });

  // The keys act on the latest state without re-subscribing on each change.
  const keys = useRef({ order, current, read, onBack });
  useEffect(() => {
    keys.current = { order, current, read, onBack };
  });
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented) return;
      const target = e.target instanceof Element ? e.target : null;
      const cmd = reviewCommand({ key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, altKey: e.altKey, target: keyTargetOf(target) });
      if (!cmd) return;
      const k = keys.current;
      e.preventDefault();
      switch (cmd) {
        case "leave-field": {
          // Out of the note, onto what holds it (the incident, the decision form).
          const home = target?.closest<HTMLElement>("[data-focus-home]");
          if (home) home.focus();
          else if (target instanceof HTMLElement) target.blur();
          return;
        }
        case "back":
          k.onBack();
          return;
        case "next":
        case "prev": {
          const to = stepIncident(k.order, k.current, cmd === "next" ? 1 : -1);
          if (to === undefined) {
            setHint("This student has no incidents.");
            return;
          }
          setHint(null);
          setCurrent(to);
          focusIncident(to);
          return;
        }
        case "confirm":
        case "dismiss":
          if (k.current === null || !k.order.includes(k.current)) {
            setHint("Pick an incident first: n for the next one.");
            return;
          }
          setHint(null);
          void k.read(k.current, cmd === "confirm" ? "confirmed" : "dismissed");
          return;
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const onStale = useCallback(async () => {
    const fresh = await fetchReview(true);
    // The reload shows their decision; the panel says what happened, so no second notice.
    setChangedMeanwhile(null);
    return fresh ? latestDecision(fresh.decisions) : undefined;
  }, [fetchReview]);

  // Stable, so that an incident's entry re-renders only when its own props change.
  const onNote = useCallback(
    (incident: string, note: string) => setUi((u) => ({ ...u, [incident]: { busy: u[incident]?.busy ?? false, note } })),
    [],
  );
  const onRead = useCallback((incident: string, verdict: IncidentVerdict) => void keys.current.read(incident, verdict), []);
  const loadEvidence = useCallback((sha: string) => limiter.run(() => retryRateLimited(() => api.evidence(sha))), [limiter, api]);
  const loadPhoto = useCallback(
    (kind: IdentityPhotoKind) => limiter.run(() => retryRateLimited(() => api.identityPhoto(id, kind))),
    [limiter, api, id],
  );

  const decided = useCallback(
    (d: Decision) => {
      ownVersions.current.add(d.version);
      setChangedMeanwhile(null);
      setLoad((l) => (l.kind === "ok" ? { kind: "ok", review: { ...l.review, decisions: [...l.review.decisions, d] } } : l));
      onDecided(id, d);
    },
    [id, onDecided],
  );

  const loadRecording = useCallback(() => api.recording(id), [api, id]);
  const recording = useRecordingIndex(review?.exam.settings.privacy === "recording", loadRecording);
  const recorded = recording?.kind === "ok" ? recording.spans : undefined;
  const loadSegment = useCallback((sha: string) => retryRateLimited(() => api.recordingSegment(id, sha)), [api, id]);
  const [seek, setSeek] = useState<SeekRequest | null>(null);
  const playerRef = useRef<HTMLDivElement>(null);
  const playable = useCallback((at: number) => recorded !== undefined && covers(recorded, at), [recorded]);
  const onPlay = useCallback(
    (incident: string, at: number) => {
      if (!recorded) return;
      setCurrent(incident);
      setSeek({ at: seekTargetFor(recorded, at) });
      playerRef.current?.scrollIntoView?.({ block: "nearest" });
    },
    [recorded],
  );
  const onMark = useCallback((incident: IncidentRecord) => {
    setCurrent(incident.id);
    setHint(null);
  }, []);

  const name = review?.student.name ?? id;
  const now = Date.now();
  const currentIncident = review?.incidents.find((i) => i.id === current);
  const counted = review?.incident_count ?? 0;

  return (
    <main className="review rs" aria-labelledby="rs-title">
      <nav className="rs__nav" aria-label="Review">
        <a href={hrefFor({ view: "review" })}>← Review queue</a> <kbd>Esc</kbd>
        {position && (
          <span className="rs__position">
            {" "}
            · student {position.at} of {position.of} in the queue
          </span>
        )}
      </nav>
      <header className="rs__head">
        <h2 id="rs-title" ref={headRef} tabIndex={-1}>
          {name} <span className="rs__id">{id}</span>
        </h2>
        <DownloadButton label="PDF report" filename={`${api.exam}-${id}.pdf`} fetchBlob={() => api.reportPdf(id)} />
        {review && (
          <>
            <p className="rs__session" data-phase={review.session.phase}>
              <strong>Session:</strong> {sessionText(review.session, review.transitions)}
            </p>
            <p className="rs__accommodations">
              <strong>Accommodations:</strong> {describeAccommodations(review.accommodations)}
              {review.accommodations?.note && (
                <>
                  {" "}
                  · <strong>Note:</strong> <span className="rs__note">{review.accommodations.note}</span>
                </>
              )}
            </p>
            <p className="rs__priority" aria-busy={outdated || undefined}>
              Priority <strong>{review.priority.toFixed(2)}</strong> · peak score <strong>{review.peak_score.toFixed(1)}</strong>
              {review.peak_at !== undefined && <> at {clock(review.peak_at)}</>} · {counted} incident{counted === 1 ? "" : "s"} counted ·{" "}
              {review.unreviewed} unreviewed · {review.gaps} gap{review.gaps === 1 ? "" : "s"}
              {outdated && <span className="rs__updating"> · updating…</span>}
            </p>
          </>
        )}
      </header>
      <p className="review__help">
        Keys: <kbd>n</kbd> / <kbd>p</kbd> next / previous incident · <kbd>c</kbd> confirm · <kbd>d</kbd> dismiss (with the note in its box) ·{" "}
        <kbd>Esc</kbd> back to the queue
      </p>
      <p className="status" role="status">
        {hint ?? ""}
        {waitMs !== null && `The server asked to slow down: asking again in ${(waitMs / 1000).toFixed(1)} s…`}
      </p>
      {load.kind === "loading" && <p className="status">Loading the record…</p>}
      {load.kind === "error" && (
        <p className="status status--error" role="alert">
          Could not load this student's record: {load.text}
        </p>
      )}
      {reloadError && (
        <p className="status status--error" role="alert">
          Could not reload the record ({reloadError}); showing it as it was.
        </p>
      )}
      {review && (
        <>
          <div className="rs__cols">
            <div className="rs__main">
              {recording && (
                <div ref={playerRef}>
                  {recording.kind === "loading" && <p className="status">Loading the recording…</p>}
                  {recording.kind === "error" && (
                    <p className="status status--error" role="alert">
                      Could not load this student's recording: {recording.text}
                    </p>
                  )}
                  {recorded?.length === 0 && <p className="status rp__none">No video was recorded for this student.</p>}
                  {recorded && recorded.length > 0 && (
                    <RecordingPlayer spans={recorded} incidents={review.incidents} loadSegment={loadSegment} seek={seek} onSeek={onMark} />
                  )}
                </div>
              )}
              <section aria-label="Score over time" className={`rs__chart${outdated ? " rs__chart--outdated" : ""}`} aria-busy={outdated || undefined}>
                <h3>Score</h3>
                <ScoreChart
                  points={review.score_curve.map((p) => ({ t: p.at, score: p.score }))}
                  rules={review.exam.settings.scoring}
                  now={curveEnd(review, now)}
                  from={curveStart(entries, review)}
                  marker={currentIncident?.started_at}
                  axis
                  width={760}
                  height={150}
                  label={`Recorded score over time: ${review.score_curve.length} point${review.score_curve.length === 1 ? "" : "s"}, peak ${review.peak_score.toFixed(1)}`}
                  empty="No incident counts towards the score."
                />
              </section>
              <ReviewTimeline
                student={id}
                name={name}
                entries={entries}
                current={current}
                ui={ui}
                onCurrent={setCurrent}
                onNote={onNote}
                onRead={onRead}
                loadEvidence={loadEvidence}
                loadPhoto={loadPhoto}
                playable={playable}
                onPlay={onPlay}
              />
            </div>
            <DecisionPanel
              key={id}
              student={id}
              decisions={review.decisions}
              // A server from before appeals sends none.
              appeals={review.appeals ?? []}
              changedMeanwhile={changedMeanwhile}
              next={next}
              queueKnown={queueKnown}
              onDecided={decided}
              onStale={onStale}
              onOpen={onOpen}
            />
          </div>
        </>
      )}
    </main>
  );
}

/** `review` with a new reading of one of its incidents (the latest counts). */
function withReading(review: StudentReview, reading: IncidentReview): StudentReview {
  return { ...review, incident_reviews: [...review.incident_reviews, reading] };
}
