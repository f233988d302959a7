import { useEffect, useRef, useState } from "react";
import type { Exam, IdentityCheck, IncidentKind, PrivacyTier } from "@proto";
import { KIND_LABEL, useServices } from "../services";
import { ApiError } from "../net/api";
import { BREAK_COUNT, BREAK_MINUTES, DETECTORS, fieldsOf, locksAt, settingsFrom, type SettingsFields } from "./settingsForm";
import { ThresholdInputs } from "./ThresholdInputs";
import { useEscape } from "./useEscape";

type Outcome = { kind: "idle" } | { kind: "busy" } | { kind: "ok"; text: string } | { kind: "error"; text: string };

function describe(e: unknown): string {
  return e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e);
}

/**
 * The instructor's configuration of the exam: the assessment students take
 * inside the proctored page, its access code, the window, the identity
 * check, breaks, the privacy tier, the detectors and their thresholds.
 * Saved changes reach every student page at once.
 */
export function SettingsPanel({ exam, onClose }: { exam: Exam; onClose: () => void }) {
  const { api } = useServices();
  const [fields, setFields] = useState<SettingsFields>(() => fieldsOf(exam.settings));
  const [saved, setSaved] = useState<Outcome>({ kind: "idle" });
  const [code, setCode] = useState("");
  const [codeOutcome, setCodeOutcome] = useState<Outcome>({ kind: "idle" });
  const firstRef = useRef<HTMLInputElement>(null);
  // When the panel opened: what is locked does not change while it is open
  // (the server has the last word anyway).
  const [openedAt] = useState(() => Date.now());
  const locks = locksAt(exam.settings, openedAt);

  useEffect(() => firstRef.current?.focus(), []);
  useEscape(onClose);

  const set = (patch: Partial<SettingsFields>) => setFields((f) => ({ ...f, ...patch }));
  const toggle = (kind: IncidentKind, on: boolean) =>
    setFields((f) => {
      const enabled = new Set(f.enabled);
      if (on) enabled.add(kind);
      else enabled.delete(kind);
      return { ...f, enabled };
    });

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    const next = settingsFrom(exam.settings, fields);
    if ("error" in next) {
      setSaved({ kind: "error", text: next.error });
      return;
    }
    setSaved({ kind: "busy" });
    try {
      const changed = await api.putSettings(next);
      setFields(fieldsOf(changed.settings));
      setSaved({ kind: "ok", text: "Saved. Students' pages follow the new settings now." });
    } catch (err) {
      setSaved({ kind: "error", text: describe(err) });
    }
  };

  const saveCode = async () => {
    setCodeOutcome({ kind: "busy" });
    try {
      await api.putAccessCode(code);
      setCode("");
      setCodeOutcome({ kind: "ok", text: "Access code set. Students see it only while their camera is proctored." });
    } catch (err) {
      setCodeOutcome({ kind: "error", text: describe(err) });
    }
  };

  return (
    <div className="drawer-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <aside className="drawer settings" role="dialog" aria-modal="true" aria-label="Exam settings">
        <header className="drawer__head">
          <h2>Exam settings</h2>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </header>
        <form onSubmit={(e) => void save(e)} aria-label="Exam settings form">
          <h3>Assessment</h3>
          <label className="settings__row">
            Assessment URL (your LMS quiz, shown inside the proctored page)
            <input
              ref={firstRef}
              name="assessment_url"
              type="url"
              value={fields.assessmentUrl}
              placeholder="https://lms.example.edu/mod/quiz/view.php?id=42"
              onChange={(e) => set({ assessmentUrl: e.target.value })}
            />
          </label>
          <p className="hint">
            Leave empty when your LMS starts proctoring itself (LTI Proctoring Services) or for vigil&apos;s own
            questions. Your LMS must allow framing by this site (docs/LTI.md).
          </p>
          <h3>Window</h3>
          <label className="settings__row">
            Opens
            <input
              name="opens_at"
              type="datetime-local"
              value={fields.opensAt}
              disabled={locks.opensAt}
              onChange={(e) => set({ opensAt: e.target.value })}
            />
          </label>
          <label className="settings__row">
            Closes
            <input name="closes_at" type="datetime-local" value={fields.closesAt} onChange={(e) => set({ closesAt: e.target.value })} />
          </label>
          <h3>Identity check</h3>
          <label className="settings__row">
            Before the exam, each student sends
            <select
              name="identity_check"
              value={fields.identityCheck}
              onChange={(e) => set({ identityCheck: e.target.value as IdentityCheck })}
            >
              <option value="off">Nothing: no identity check</option>
              <option value="photo">A photo of their face</option>
              <option value="photo_and_id">A photo of their face and one of an identity document</option>
            </select>
          </label>
          <label className="settings__check">
            <input
              type="checkbox"
              name="identity_auto_approve"
              checked={fields.identityAutoApprove}
              disabled={fields.identityCheck === "off"}
              onChange={(e) => set({ identityAutoApprove: e.target.checked })}
            />{" "}
            Approve the photos as they arrive (no proctor review)
          </label>
          <h3>Breaks</h3>
          <div className="settings__pair">
            <label className="settings__row">
              Breaks per student (0: none)
              <input
                name="breaks_count"
                type="number"
                min={0}
                max={BREAK_COUNT.max}
                value={fields.breakCount}
                onChange={(e) => set({ breakCount: e.target.value })}
              />
            </label>
            <label className="settings__row">
              Each up to (minutes, {BREAK_MINUTES.min}–{BREAK_MINUTES.max})
              <input
                name="breaks_minutes"
                type="number"
                min={BREAK_MINUTES.min}
                max={BREAK_MINUTES.max}
                value={fields.breakMinutes}
                disabled={fields.breakCount.trim() === "" || fields.breakCount.trim() === "0"}
                onChange={(e) => set({ breakMinutes: e.target.value })}
              />
            </label>
          </div>
          <p className="hint">During a break the exam is hidden and the student&apos;s clock stops.</p>
          <h3>Privacy</h3>
          <label className="settings__row">
            What is kept
            <select name="privacy" value={fields.privacy} onChange={(e) => set({ privacy: e.target.value as PrivacyTier })}>
              <option value="events_only">Events only: no pictures</option>
              <option value="flagged_frames" disabled={locks.raisePrivacy && exam.settings.privacy === "events_only"}>
                Events and one picture per flagged incident
              </option>
              <option value="recording" disabled={locks.raisePrivacy && exam.settings.privacy !== "recording"}>
                Events, pictures and a recording of the camera (no sound)
              </option>
            </select>
          </label>
          <label className="settings__row">
            Pictures kept for (days)
            <input
              name="evidence_retention_days"
              type="number"
              min={0}
              max={locks.maxRetentionDays}
              value={fields.retentionDays}
              onChange={(e) => set({ retentionDays: e.target.value })}
            />
          </label>
          <label className="settings__check">
            <input
              type="checkbox"
              name="microphone"
              checked={fields.microphone}
              disabled={locks.microphoneOn && !exam.settings.microphone}
              onChange={(e) => set({ microphone: e.target.checked })}
            />
            Microphone: listen for voices, and let the proctor who watches a student hear them (never recorded)
          </label>
          {locks.opensAt && (
            <p className="hint">
              The exam has opened: its opening time is fixed, privacy may only be lowered, and the microphone only turned off.
            </p>
          )}
          <h3>Detectors</h3>
          <fieldset className="settings__detectors">
            <legend>On for every student</legend>
            {DETECTORS.map((kind) => (
              <label key={kind}>
                <input
                  type="checkbox"
                  name={`detector_${kind}`}
                  checked={fields.enabled.has(kind)}
                  onChange={(e) => toggle(kind, e.target.checked)}
                />{" "}
                {KIND_LABEL[kind]}
              </label>
            ))}
          </fieldset>
          <ThresholdInputs
            legend="Detector thresholds (empty: the page's default)"
            value={fields.thresholds}
            onChange={(thresholds) => set({ thresholds })}
          />
          <p>
            <button type="submit" disabled={saved.kind === "busy"}>
              Save settings
            </button>
          </p>
          <Said outcome={saved} name="settings-outcome" />
        </form>
        <h3>Access code</h3>
        <p className="hint">
          If your quiz asks for a password, set the same one here. vigil shows it to a student only while their camera
          is being proctored. It cannot be read back.
        </p>
        <label className="settings__row">
          New access code
          <input name="access_code" value={code} maxLength={64} autoComplete="off" onChange={(e) => setCode(e.target.value)} />
        </label>
        <p>
          <button type="button" disabled={code.trim() === "" || codeOutcome.kind === "busy"} onClick={() => void saveCode()}>
            Set access code
          </button>
        </p>
        <Said outcome={codeOutcome} name="access-code-outcome" />
      </aside>
    </div>
  );
}

function Said({ outcome, name }: { outcome: Outcome; name: string }) {
  if (outcome.kind === "idle" || outcome.kind === "busy") return <p className="status" data-outcome={name} role="status" />;
  return (
    <p className={`status status--${outcome.kind}`} data-outcome={name} role={outcome.kind === "error" ? "alert" : "status"}>
      {outcome.text}
    </p>
  );
}
