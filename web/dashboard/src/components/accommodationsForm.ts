/**
 * A student's accommodations form, apart from React so it is tested alone:
 * accommodations to form fields and back, with the ranges the wire type's
 * doc comments state (the server enforces them; the form says what to fix
 * before it asks), and the one-line summary the drawer shows.
 */
import type { Accommodations, IncidentKind } from "@proto";
import { KIND_LABEL } from "../services";
import { DETECTORS, describeThresholds, thresholdFieldsOf, thresholdsFrom, wholeIn, type ThresholdFields } from "./settingsForm";

export const EXTRA_TIME_PCT = { min: 0, max: 300 } as const;
export const EXTRA_TIME_MIN = { min: 0, max: 1440 } as const;
export const EXTRA_BREAKS = { min: 0, max: 20 } as const;
export const NOTE_MAX_CHARS = 500;

export interface AccommodationFields {
  extraTimePct: string;
  extraTimeMin: string;
  extraBreaks: string;
  /** Detectors switched off for this student. */
  off: ReadonlySet<IncidentKind>;
  note: string;
  thresholds: ThresholdFields;
}

export function accommodationFieldsOf(a: Accommodations | undefined): AccommodationFields {
  return {
    extraTimePct: String(a?.extra_time_pct ?? 0),
    extraTimeMin: String(a?.extra_time_min ?? 0),
    extraBreaks: String(a?.extra_breaks ?? 0),
    off: new Set(a?.disabled_detectors ?? []),
    note: a?.note ?? "",
    thresholds: thresholdFieldsOf(a?.thresholds),
  };
}

/** An empty number field is 0: "no extra" is the natural reading of a blank. */
const orZero = (v: string) => (v.trim() === "" ? "0" : v);

/**
 * The accommodations the form describes, or a sentence saying what to fix.
 * Detectors the form does not show (a newer server's) stay as `base` had them.
 */
export function accommodationsFrom(f: AccommodationFields, base?: Accommodations): Accommodations | { error: string } {
  const pct = wholeIn(orZero(f.extraTimePct), EXTRA_TIME_PCT.min, EXTRA_TIME_PCT.max, "Extra time (%)");
  if (typeof pct !== "number") return pct;
  const min = wholeIn(orZero(f.extraTimeMin), EXTRA_TIME_MIN.min, EXTRA_TIME_MIN.max, "Extra time (minutes)");
  if (typeof min !== "number") return min;
  const breaks = wholeIn(orZero(f.extraBreaks), EXTRA_BREAKS.min, EXTRA_BREAKS.max, "Extra breaks");
  if (typeof breaks !== "number") return breaks;
  const thresholds = thresholdsFrom(f.thresholds);
  if (thresholds && "error" in thresholds) return thresholds;
  const note = f.note.trim();
  if ([...note].length > NOTE_MAX_CHARS) return { error: `The note is limited to ${NOTE_MAX_CHARS} characters.` };
  const was = base?.disabled_detectors ?? [];
  const out: Accommodations = {
    extra_time_pct: pct,
    extra_time_min: min,
    extra_breaks: breaks,
    // In the order they were, so untouched accommodations compare equal.
    disabled_detectors: [
      ...was.filter((k) => !DETECTORS.includes(k) || f.off.has(k)),
      ...DETECTORS.filter((k) => f.off.has(k) && !was.includes(k)),
    ],
  };
  if (note) out.note = note;
  if (thresholds) out.thresholds = thresholds;
  return out;
}

/** What the drawer says of them in one line ("none" when nothing is set). */
export function describeAccommodations(a: Accommodations | undefined): string {
  if (!a) return "none";
  const extraBreaks = a.extra_breaks ?? 0;
  return (
    [
      a.extra_time_pct ? `+${a.extra_time_pct}% time` : "",
      a.extra_time_min ? `+${a.extra_time_min} min` : "",
      extraBreaks ? `+${extraBreaks} break${extraBreaks === 1 ? "" : "s"}` : "",
      a.disabled_detectors.length ? `off: ${a.disabled_detectors.map((k) => KIND_LABEL[k] ?? k).join(", ")}` : "",
      describeThresholds(a.thresholds),
    ]
      .filter(Boolean)
      .join(" · ") || "none"
  );
}
