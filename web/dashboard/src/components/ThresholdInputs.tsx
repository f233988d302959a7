import type { DetectorThresholds } from "@proto";
import { THRESHOLDS, type ThresholdFields } from "./settingsForm";

/**
 * The three detector thresholds, each optional: empty is what applies
 * otherwise (the exam's for a student, else the page's default), which the
 * placeholder shows. Shared by the exam settings and a student's
 * accommodations; the ranges are checked by `thresholdsFrom`.
 */
export function ThresholdInputs({
  legend,
  value,
  inherited,
  onChange,
}: {
  legend: string;
  value: ThresholdFields;
  /** The thresholds that apply where these are empty (a student's: the exam's). */
  inherited?: DetectorThresholds | undefined;
  onChange: (next: ThresholdFields) => void;
}) {
  return (
    <fieldset className="settings__thresholds">
      <legend>{legend}</legend>
      {THRESHOLDS.map((spec) => {
        const over = inherited?.[spec.key];
        return (
          <label key={spec.key} className="settings__row">
            {spec.label}, {spec.min.toLocaleString("en")}–{spec.max.toLocaleString("en")}
            <input
              name={spec.key}
              type="number"
              inputMode="numeric"
              min={spec.min}
              max={spec.max}
              placeholder={over !== undefined ? `exam: ${over.toLocaleString("en")}` : `default ${spec.fallback.toLocaleString("en")}`}
              value={value[spec.field]}
              onChange={(e) => onChange({ ...value, [spec.field]: e.target.value })}
            />
          </label>
        );
      })}
    </fieldset>
  );
}
