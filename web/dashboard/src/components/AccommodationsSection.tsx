import { useState } from "react";
import type { Accommodations, IncidentKind } from "@proto";
import { KIND_LABEL, useServices } from "../services";
import { ApiError } from "../net/api";
import { DETECTORS } from "./settingsForm";

/**
 * A student's accommodations in the drawer: what they have, for every
 * proctor; an editor for those who may configure the exam.
 */
export function AccommodationsSection({ id, current, editable }: { id: string; current: Accommodations | undefined; editable: boolean }) {
  const { api } = useServices();
  const [pct, setPct] = useState(String(current?.extra_time_pct ?? 0));
  const [min, setMin] = useState(String(current?.extra_time_min ?? 0));
  const [note, setNote] = useState(current?.note ?? "");
  const [off, setOff] = useState<ReadonlySet<IncidentKind>>(new Set(current?.disabled_detectors ?? []));
  const [said, setSaid] = useState<{ ok: boolean; text: string } | null>(null);

  const summary = current
    ? [
        current.extra_time_pct ? `+${current.extra_time_pct}% time` : "",
        current.extra_time_min ? `+${current.extra_time_min} min` : "",
        current.disabled_detectors.length ? `off: ${current.disabled_detectors.map((k) => KIND_LABEL[k] ?? k).join(", ")}` : "",
      ].filter(Boolean).join(" · ") || "none"
    : "none";

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    const body: Accommodations = {
      extra_time_pct: Number(pct) || 0,
      extra_time_min: Number(min) || 0,
      disabled_detectors: DETECTORS.filter((k) => off.has(k)),
    };
    if (note.trim()) body.note = note.trim();
    try {
      await api.putAccommodations(id, body);
      setSaid({ ok: true, text: "Saved. The student's page and time follow now." });
    } catch (err) {
      setSaid({ ok: false, text: err instanceof ApiError || err instanceof Error ? err.message : String(err) });
    }
  };

  return (
    <section aria-label="Accommodations" className="drawer__accommodations">
      <h3>Accommodations</h3>
      <p data-accommodations={id}>{summary}</p>
      {current?.note && <p className="hint">Note: {current.note}</p>}
      {editable && (
        <form onSubmit={(e) => void save(e)} aria-label="Change accommodations">
          <label className="settings__row">
            Extra time (% of the exam)
            <input name="extra_time_pct" type="number" min={0} max={300} value={pct} onChange={(e) => setPct(e.target.value)} />
          </label>
          <label className="settings__row">
            Extra time (minutes)
            <input name="extra_time_min" type="number" min={0} max={1440} value={min} onChange={(e) => setMin(e.target.value)} />
          </label>
          <fieldset className="settings__detectors">
            <legend>Detectors off for this student</legend>
            {DETECTORS.map((kind) => (
              <label key={kind}>
                <input
                  type="checkbox"
                  checked={off.has(kind)}
                  onChange={(e) =>
                    setOff((prev) => {
                      const next = new Set(prev);
                      if (e.target.checked) next.add(kind);
                      else next.delete(kind);
                      return next;
                    })
                  }
                />{" "}
                {KIND_LABEL[kind]}
              </label>
            ))}
          </fieldset>
          <label className="settings__row">
            Note for proctors
            <textarea name="note" maxLength={500} value={note} onChange={(e) => setNote(e.target.value)} />
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
