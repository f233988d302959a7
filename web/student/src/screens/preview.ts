// Camera preview: the student sees themselves and whether their face is
// found, looks at a dot in the middle of the screen for two seconds (the
// gaze calibration, gaze.ts), then starts the exam (which asks for full
// screen). Starting before the calibration is done is allowed: looking away
// is then judged by the head alone, as it is on machines that cannot read
// the eyes.

import { h, showScreen } from "../dom.ts";
import type { CalibrationState } from "../gaze.ts";
import type { FrameResult } from "../worker-protocol.ts";

export function previewScreen(video: HTMLVideoElement, onStart: () => void): void {
  showScreen(
    "Check your camera",
    h("p", {}, "Sit so your face is in the middle of the picture, with light in front of you."),
    video,
    h("p", { id: "preview-status", role: "status", "aria-live": "polite" }, "Looking for your face…"),
    h(
      "div",
      { id: "calibration" },
      h("p", {}, "Then look at the red dot in the middle of your screen until the bar is full (two seconds), so that we know where your screen is."),
      h("progress", { id: "calibration-progress", max: "1", value: "0", "aria-label": "Calibration" }),
      h("p", { id: "calibration-status", role: "status", "aria-live": "polite" }, "Waiting for your face…"),
    ),
    h("div", { class: "calibration-dot", "aria-hidden": "true" }),
    h("p", {}, h("button", { type: "button", onclick: onStart }, "Start the exam (full screen)")),
  );
}

/** Updates the preview's advice from the latest analysed frame (a no-op on other screens). */
export function showPreviewResult(r: FrameResult): void {
  const el = document.getElementById("preview-status");
  if (!el) return;
  const text =
    r.brightness < 0.08
      ? "It is too dark: turn on a light."
      : r.faces === 0
        ? "We cannot see your face. Sit in front of the camera."
        : r.faces > 1
          ? "We see more than one face."
          : "Your face is visible. You are ready.";
  // Only on change: the status is a live region, and results come 15 times a second.
  if (el.textContent !== text) el.textContent = text;
}

/** Shows how the calibration goes (a no-op on other screens). */
export function showCalibration(state: CalibrationState | "unavailable"): void {
  const bar = document.getElementById("calibration-progress") as HTMLProgressElement | null;
  const el = document.getElementById("calibration-status");
  if (!bar || !el) return;
  let text: string;
  if (state === "unavailable") {
    text = "This computer cannot follow your eyes: where your head points is used instead. You can start.";
    bar.value = 0;
  } else if (state.state === "done") {
    text = "Done: we know where your screen is. You can start.";
    bar.value = 1;
  } else if (state.state === "restarted") {
    text = "Keep looking at the dot, and keep still: starting again.";
    bar.value = 0;
  } else {
    text = state.progress > 0 ? "Keep looking at the dot…" : "Waiting for your face…";
    bar.value = state.progress;
  }
  if (el.textContent !== text) el.textContent = text;
  document.querySelector(".calibration-dot")?.classList.toggle("done", state !== "unavailable" && state.state === "done");
}
