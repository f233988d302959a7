import { useEffect, useRef, useState } from "react";
import type { IncidentRecord, ProctorActionKind, WatchQuality } from "@proto";
import { useStudent, useStudentList } from "../store/scoreStore";
import { useFeed, useHistory } from "../feed/feeds";
import { KIND_LABEL, clock, useConnectionStatus, useServices } from "../services";
import { LEVEL_ICON, LEVEL_LABEL, PRESENCE_ICON, PRESENCE_LABEL, QUALITY_LABEL, SESSION_LABEL } from "./Tile";
import { ChatSection } from "./Chat";
import { LiveVideo } from "./LiveVideo";
import { ScoreChart } from "./ScoreChart";
import { AccommodationsSection } from "./AccommodationsSection";
import { RecordedActions } from "./RecordedActions";
import { useEscape } from "./useEscape";
import { useBlobUrl } from "./BlobMedia";

export const DRAWER_SLOT = 0;

const ACTIONS: { kind: ProctorActionKind; label: string; confirm?: string }[] = [
  { kind: "warn", label: "Warn" },
  { kind: "pause", label: "Pause" },
  { kind: "resume", label: "Resume" },
  { kind: "flag_for_review", label: "Flag for review" },
  { kind: "terminate", label: "Terminate", confirm: "End this student's exam?" },
];

interface ActionResult {
  at: number;
  kind: ProctorActionKind;
  text: string;
  ok: boolean;
}

/** One student: live video, conversation, score chart, incident timeline with evidence, actions. */
export function StudentDrawer({ id, onClose }: { id: string; onClose: () => void }) {
  const { api, connection, history, feed } = useServices();
  const s = useStudent(id);
  const status = useConnectionStatus();
  const points = useHistory(history, id);
  const { items } = useFeed(feed);
  const [quality, setQuality] = useState<WatchQuality>("thumbnail");
  // Off until the proctor asks: a drawer opened to read a timeline should not start talking.
  const [listening, setListening] = useState(false);
  // Tagged with the student it belongs to: after a switch to another student, the
  // previous one's history is not shown while the new one loads.
  const [loaded, setLoaded] = useState<{ id: string; history: IncidentRecord[] | { error: string } } | null>(null);
  const fetched = loaded?.id === id ? loaded.history : null;
  const [results, setResults] = useState<ActionResult[]>([]);
  const [message, setMessage] = useState("");
  const [addMinutes, setAddMinutes] = useState("10");
  const [now, setNow] = useState(() => Date.now());
  const closeRef = useRef<HTMLButtonElement>(null);
  const rules = useServices().store.getList().exam?.settings.scoring;
  const { mayConfigure, exam } = useStudentList();

  useEffect(() => closeRef.current?.focus(), [id]);
  useEscape(onClose);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    let live = true;
    api.incidents(id).then(
      (list) => live && setLoaded({ id, history: list }),
      (e: unknown) => live && setLoaded({ id, history: { error: e instanceof Error ? e.message : String(e) } }),
    );
    return () => {
      live = false;
    };
  }, [api, id]);

  // Timeline: fetched history merged with live notices (upsert by id), newest first.
  const byId = new Map<string, IncidentRecord>();
  if (Array.isArray(fetched)) for (const r of fetched) byId.set(r.id, r);
  for (const it of items) if (it.record.student_id === id) byId.set(it.record.id, it.record);
  const timeline = [...byId.values()].sort((a, b) => b.started_at - a.started_at);

  const act = async (kind: ProctorActionKind, text?: string, minutes?: number) => {
    const ack = await connection.action({
      student_id: id,
      kind,
      ...(text ? { text } : {}),
      ...(minutes !== undefined ? { minutes } : {}),
    });
    setResults((r) => [
      { at: Date.now(), kind, ok: ack.status === "ok", text: ack.status === "ok" ? "delivered" : `rejected — ${ack.reason}: ${ack.message}` },
      ...r,
    ].slice(0, 8));
  };

  const name = s?.student.name ?? id;
  return (
    <div className="drawer-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <aside
        className="drawer"
        role="dialog"
        aria-modal="true"
        aria-label={`Student ${name}`}
      >
        <header className="drawer__head">
          <h2>{name}</h2>
          <button ref={closeRef} type="button" onClick={onClose} aria-label="Close (Esc)">
            ✕ Close
          </button>
        </header>
        {s && (
          <p className={`drawer__summary tile--${s.shown.level}`}>
            <strong>
              {LEVEL_ICON[s.shown.level]} {LEVEL_LABEL[s.shown.level]} {s.shown.score.toFixed(1)}
            </strong>{" "}
            · {PRESENCE_ICON[s.presence]} {PRESENCE_LABEL[s.presence]} · {QUALITY_LABEL[s.quality]}
            {SESSION_LABEL[s.session] ? ` · ${SESSION_LABEL[s.session]}` : ""} · id {id}
          </p>
        )}
        <section aria-label="Live video" className="drawer__video">
          <LiveVideo slot={DRAWER_SLOT} studentId={id} quality={quality} label={name} listen={listening && !!exam?.settings.microphone} />
          <fieldset className="seg">
            <legend>Video</legend>
            {(["thumbnail", "full"] as const).map((q) => (
              <label key={q}>
                <input type="radio" name="quality" checked={quality === q} onChange={() => setQuality(q)} /> {q === "full" ? "Full" : "Thumbnail"}
              </label>
            ))}
          </fieldset>
          {exam?.settings.microphone && (
            <button type="button" aria-pressed={listening} onClick={() => setListening((l) => !l)}>
              {listening ? "🔊 Stop listening" : "🔈 Listen to the microphone"}
            </button>
          )}
        </section>
        <ChatSection key={id} id={id} name={name} />
        <section aria-label="Score over time">
          <h3>Score</h3>
          {rules && <ScoreChart points={points} rules={rules} now={now} />}
        </section>
        <AccommodationsSection
          key={id}
          id={id}
          current={s?.accommodations}
          editable={mayConfigure}
          examThresholds={exam?.settings.thresholds}
        />
        <section aria-label="Actions" className="drawer__actions">
          <h3>Actions</h3>
          <div className="actions">
            {ACTIONS.map((a) => (
              <button
                key={a.kind}
                type="button"
                disabled={status.kind !== "live"}
                className={a.kind === "terminate" ? "danger" : undefined}
                onClick={() => {
                  if (a.confirm && !window.confirm(a.confirm)) return;
                  void act(a.kind);
                }}
              >
                {a.label}
              </button>
            ))}
          </div>
          <form
            className="actions__message"
            aria-label="Add time"
            onSubmit={(e) => {
              e.preventDefault();
              const m = Number(addMinutes);
              if (Number.isInteger(m) && m > 0) void act("add_time", undefined, m);
            }}
          >
            <input
              aria-label="Minutes to add"
              type="number"
              min={1}
              max={1440}
              value={addMinutes}
              onChange={(e) => setAddMinutes(e.target.value)}
            />
            <button type="submit" disabled={status.kind !== "live"}>
              Add time
            </button>
          </form>
          <form
            className="actions__message"
            onSubmit={(e) => {
              e.preventDefault();
              if (message.trim()) void act("message", message.trim());
              setMessage("");
            }}
          >
            <input aria-label="Message to the student" value={message} onChange={(e) => setMessage(e.target.value)} placeholder="Message to the student" maxLength={500} />
            <button type="submit" disabled={status.kind !== "live"}>
              Send
            </button>
          </form>
          <ul className="results" aria-live="polite">
            {results.map((r, i) => (
              <li key={i} className={r.ok ? "result--ok" : "result--bad"}>
                {r.ok ? "✓" : "✗"} {r.kind} · {r.text} · {clock(r.at)}
              </li>
            ))}
          </ul>
        </section>
        <RecordedActions id={id} version={results.length} />
        <section aria-label="Incidents" className="drawer__incidents">
          <h3>Incidents</h3>
          {fetched && !Array.isArray(fetched) && <p className="status">Could not load history: {fetched.error}</p>}
          {fetched === null && <p className="status">Loading…</p>}
          {Array.isArray(fetched) && timeline.length === 0 && <p className="status">No incidents.</p>}
          <ol className="timeline">
            {timeline.map((r) => (
              <li key={r.id}>
                <strong>{KIND_LABEL[r.kind] ?? r.kind}</strong> <time>{clock(r.started_at)}</time>
                {r.ended_at ? <> – <time>{clock(r.ended_at)}</time> ({((r.ended_at - r.started_at) / 1000).toFixed(1)} s)</> : " (ongoing)"}
                {r.confidence != null && <> · conf. {(r.confidence * 100).toFixed(0)}%</>}
                {r.source === "server" && <> · server</>}
                {r.during_pause && <> · during a pause</>}
                {r.detail && <div className="timeline__detail">{r.detail}</div>}
                {r.evidence_sha256 && <Evidence sha={r.evidence_sha256} />}
              </li>
            ))}
          </ol>
        </section>
      </aside>
    </div>
  );
}

function Evidence({ sha }: { sha: string }) {
  const { api } = useServices();
  const src = useBlobUrl(sha, () => api.evidence(sha));
  if (src === null) return <div className="evidence">Loading evidence…</div>;
  if (!("url" in src)) return <div className="evidence">Evidence unavailable ({src.error})</div>;
  // A voice's evidence, where the exam keeps sound, is a short clip.
  if (src.type.startsWith("audio/")) return <audio className="evidence evidence--sound" src={src.url} controls preload="metadata" aria-label="Evidence: sound clip" />;
  return <img className="evidence" src={src.url} alt="Evidence frame" width={160} />;
}
