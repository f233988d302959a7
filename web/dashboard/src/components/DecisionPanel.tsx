import { useEffect, useId, useRef, useState } from "react";
import type { Appeal, Decision } from "@proto";
import { useServices } from "../services";
import { ApiError } from "../net/api";
import { charCount } from "../chat/text";
import { errorText, retryRateLimited } from "../net/retry";
import {
  DECISION_NOTE_MAX,
  EMPTY_DRAFT,
  VERDICTS,
  VERDICT_ICON,
  VERDICT_LABEL,
  changeText,
  checkDecision,
  latestDecision,
  latestVersion,
  type DecisionDraft,
} from "../review/decision";
import { dateTime } from "../review/timeline";

type Said =
  | { kind: "recorded"; decision: Decision }
  /** Someone else decided between this page's load and the send. */
  | { kind: "stale"; theirs: Decision | undefined }
  | { kind: "error"; text: string };

const who = (d: Decision) => `${VERDICT_LABEL[d.verdict] ?? d.verdict} by ${d.reviewer} (${dateTime(d.at)}, version ${d.version})`;

/**
 * The decision on the student: the latest, a form for a new version
 * (verdict and a required note, sent with `based_on` = the latest version
 * on screen), and every version so far.
 *
 * A send refused as stale (another reviewer decided since the page
 * loaded) reloads the record, says whose decision is there now, and keeps
 * the draft: the reviewer reads theirs and sends again if they still
 * disagree, now based on it. Nothing is ever overwritten unseen.
 */
export function DecisionPanel({
  student,
  decisions,
  appeals,
  changedMeanwhile,
  next,
  queueKnown,
  onDecided,
  onStale,
  onOpen,
}: {
  student: string;
  /** Oldest first, as the server sends them. */
  decisions: readonly Decision[];
  /** The student's responses, each to one version. */
  appeals: readonly Appeal[];
  /** A decision by someone else that a reload brought in. */
  changedMeanwhile: Decision | null;
  next: { id: string; name: string } | undefined;
  queueKnown: boolean;
  onDecided: (d: Decision) => void;
  /** Reloads the record; the latest decision now. */
  onStale: () => Promise<Decision | undefined>;
  onOpen: (id: string) => void;
}) {
  const { api } = useServices();
  const [draft, setDraft] = useState<DecisionDraft>(EMPTY_DRAFT);
  const [problems, setProblems] = useState<{ verdict?: string; note?: string }>({});
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState<Said | null>(null);
  const nextRef = useRef<HTMLButtonElement>(null);
  const noteRef = useRef<HTMLTextAreaElement>(null);
  const noteId = useId();
  const countId = useId();
  const latest = latestDecision(decisions);
  const basedOn = latestVersion(decisions);
  const history = [...decisions].sort((a, b) => b.version - a.version);

  // After a decision, the way on is the next thing the keyboard reaches.
  useEffect(() => {
    if (said?.kind === "recorded") nextRef.current?.focus();
  }, [said]);

  const submit = async () => {
    const check = checkDecision(draft, basedOn);
    if (!check.ok) {
      setProblems({ ...(check.verdict ? { verdict: check.verdict } : {}), ...(check.note ? { note: check.note } : {}) });
      if (check.note && !check.verdict) noteRef.current?.focus();
      return;
    }
    setProblems({});
    setBusy(true);
    setSaid(null);
    try {
      const d = await retryRateLimited(() => api.putDecision(student, check.body));
      setDraft(EMPTY_DRAFT);
      setSaid({ kind: "recorded", decision: d });
      onDecided(d);
    } catch (e) {
      if (e instanceof ApiError && e.reason === "stale_transition") {
        setSaid({ kind: "stale", theirs: await onStale() });
      } else {
        setSaid({ kind: "error", text: errorText(e) });
      }
    } finally {
      setBusy(false);
    }
  };

  const count = charCount(draft.note.trim());
  return (
    <section aria-labelledby={`${noteId}-h`} className="rd" data-focus-home tabIndex={-1}>
      <h3 id={`${noteId}-h`}>Decision</h3>
      <p className="rd__current" data-decision={latest?.verdict ?? "none"}>
        {latest ? (
          <>
            <span aria-hidden="true">{VERDICT_ICON[latest.verdict]}</span> <strong>{VERDICT_LABEL[latest.verdict] ?? latest.verdict}</strong> by{" "}
            {latest.reviewer} · {dateTime(latest.at)} · version {latest.version}
          </>
        ) : (
          "No decision yet."
        )}
      </p>
      {changedMeanwhile && said?.kind !== "stale" && (
        <p className="status status--error" role="alert" data-notice="changed">
          Another reviewer decided while you were reading: {who(changedMeanwhile)}. A decision you send now replaces it.
        </p>
      )}
      {said?.kind === "stale" && (
        <p className="status status--error" role="alert" data-notice="stale">
          Not recorded: someone else decided meanwhile
          {said.theirs ? <> — {who(said.theirs)}</> : null}. Their decision is shown here now; your draft is kept, send it again if you still
          mean it.
        </p>
      )}
      {said?.kind === "error" && (
        <p className="status status--error" role="alert">
          Not recorded — {said.text}
        </p>
      )}
      {said?.kind === "recorded" && (
        <div className="rd__done" role="status">
          <p>
            ✓ Recorded: {VERDICT_LABEL[said.decision.verdict] ?? said.decision.verdict} (version {said.decision.version}).
          </p>
          {next ? (
            <button ref={nextRef} type="button" onClick={() => onOpen(next.id)}>
              Next undecided student: {next.name} →
            </button>
          ) : (
            queueKnown && <p>Every other student has a decision.</p>
          )}
        </div>
      )}
      <form
        className="rd__form"
        aria-label={latest ? "Change the decision" : "Decide"}
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <fieldset className="rd__verdicts" aria-invalid={problems.verdict ? true : undefined}>
          <legend>Verdict</legend>
          {VERDICTS.map((v) => (
            <label key={v} className={`rd__verdict rd__verdict--${v}`}>
              <input
                type="radio"
                name={`verdict-${student}`}
                value={v}
                checked={draft.verdict === v}
                onChange={() => {
                  setDraft((d) => ({ ...d, verdict: v }));
                  setProblems((p) => ({ ...(p.note ? { note: p.note } : {}) }));
                }}
              />{" "}
              <span aria-hidden="true">{VERDICT_ICON[v]}</span> {VERDICT_LABEL[v]}
            </label>
          ))}
          {problems.verdict && (
            <p className="status status--error" role="alert">
              {problems.verdict}
            </p>
          )}
        </fieldset>
        <label htmlFor={noteId}>Note (required: kept with the decision)</label>
        <textarea
          id={noteId}
          ref={noteRef}
          rows={4}
          value={draft.note}
          aria-describedby={countId}
          aria-invalid={problems.note ? true : undefined}
          onChange={(e) => {
            setDraft((d) => ({ ...d, note: e.target.value }));
            setProblems((p) => ({ ...(p.verdict ? { verdict: p.verdict } : {}) }));
          }}
        />
        <div className="chat__bar">
          <span id={countId} className={`chat__count${count > DECISION_NOTE_MAX ? " chat__count--over" : ""}`}>
            {count.toLocaleString("en")} / {DECISION_NOTE_MAX.toLocaleString("en")} characters
          </span>
          <button type="submit" disabled={busy}>
            {latest ? "Record the new decision" : "Record decision"}
          </button>
        </div>
        {problems.note && (
          <p className="status status--error" role="alert">
            {problems.note}
          </p>
        )}
      </form>
      <h4>History</h4>
      {history.length === 0 ? (
        <p className="status">No decision yet.</p>
      ) : (
        <ol className="rd__history" reversed>
          {history.map((d) => (
            <li key={d.version} data-version={d.version}>
              <div>
                <strong>v{d.version}</strong> · {dateTime(d.at)} · {d.reviewer} · <span className="rd__change">{changeText(d)}</span>
              </div>
              <p className="rd__note">{d.note}</p>
              {appeals
                .filter((a) => a.decision_version === d.version)
                .map((a, i) => (
                  <div key={i} className="rd__appeal" data-appeal={d.version}>
                    <strong>Appeal from the student</strong> · {dateTime(a.at)}
                    <p className="rd__note">{a.text}</p>
                  </div>
                ))}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
