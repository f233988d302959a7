import { useState } from "react";
import type { Accommodations, DetectorThresholds, IncidentKind } from "@proto";
import { KIND_LABEL, useServices } from "../services";
import { ApiError } from "../net/api";
import { DETECTORS } from "./settingsForm";
import {
  EXTRA_BREAKS,
  EXTRA_TIME_MIN,
  EXTRA_TIME_PCT,
  NOTE_MAX_CHARS,
  accommodationFieldsOf,
  accommodationsFrom,
  describeAccommodations,
  type AccommodationFields,
} from "./accommodationsForm";
import { ThresholdInputs } from "./ThresholdInputs";

/**
 * A student's accommodations in the drawer: what they have, for every
 * proctor; an editor for those who may configure the exam.
 */
export function AccommodationsSection({
  id,
  current,
  editable,
  examThresholds,
}: {
  id: string;
  current: Accommodations | undefined;
  editable: boolean;
  /** The exam's thresholds, which apply where the student's are empty. */
  examThresholds?: DetectorThresholds | undefined;
}) {
  const { api } = useServices();
  const [fields, setFields] = useState<AccommodationFields>(() => accommodationFieldsOf(current));
  const [said, setSaid] = useState<{ ok: boolean; text: string } | null>(null);
  const set = (patch: Partial<AccommodationFields>) => setFields((f) => ({ ...f, ...patch }));

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    const body = accommodationsFrom(fields, current);
    if ("error" in body) {
      setSaid({ ok: false, text: body.error });
      return;
    }
    try {
      await api.putAccommodations(id, body);
      setSaid({ ok: true, text: "Saved. The student's page and time follow now." });
    } catch (err) {
      setSaid({ ok: false, text: err instanceof ApiError || err instanceof Error ? err.message : String(err) });
    }
  };

  const toggle = (kind: IncidentKind, on: boolean) =>
    setFields((f) => {
      const off = new Set(f.off);
      if (on) off.add(kind);
      else off.delete(kind);
      return { ...f, off };
    });

  return (
    <section aria-label="Accommodations" className="drawer__accommodations">
      <h3>Accommodations</h3>
      <p data-accommodations={id}>{describeAccommodations(current)}</p>
      {current?.note && <p className="hint">Note: {current.note}</p>}
      {editable && (
        <form onSubmit={(e) => void save(e)} aria-label="Change accommodations">
          <label className="settings__row">
            Extra time (% of the exam)
            <input
              name="extra_time_pct"
              type="number"
              min={EXTRA_TIME_PCT.min}
              max={EXTRA_TIME_PCT.max}
              value={fields.extraTimePct}
              onChange={(e) => set({ extraTimePct: e.target.value })}
            />
          </label>
          <label className="settings__row">
            Extra time (minutes)
            <input
              name="extra_time_min"
              type="number"
              min={EXTRA_TIME_MIN.min}
              max={EXTRA_TIME_MIN.max}
              value={fields.extraTimeMin}
              onChange={(e) => set({ extraTimeMin: e.target.value })}
            />
          </label>
          <label className="settings__row">
            Extra breaks (each as long as the exam&apos;s, or 10 minutes when it has none)
            <input
              name="extra_breaks"
              type="number"
              min={EXTRA_BREAKS.min}
              max={EXTRA_BREAKS.max}
              value={fields.extraBreaks}
              onChange={(e) => set({ extraBreaks: e.target.value })}
            />
          </label>
          <fieldset className="settings__detectors">
            <legend>Detectors off for this student</legend>
            {DETECTORS.map((kind) => (
              <label key={kind}>
                <input type="checkbox" checked={fields.off.has(kind)} onChange={(e) => toggle(kind, e.target.checked)} /> {KIND_LABEL[kind]}
              </label>
            ))}
          </fieldset>
          <ThresholdInputs
            legend="Detector thresholds for this student (empty: the exam's)"
            value={fields.thresholds}
            inherited={examThresholds}
            onChange={(thresholds) => set({ thresholds })}
          />
          <label className="settings__row">
            Note for proctors
            <textarea name="note" maxLength={NOTE_MAX_CHARS} value={fields.note} onChange={(e) => set({ note: e.target.value })} />
          </label>
          <p>
            <button type="submit">Save accommodations</button>
          </p>
          {said && (
            <p className={`status status--${said.ok ? "ok" : "error"}`} role={said.ok ? "status" : "alert"}>
              {said.text}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
