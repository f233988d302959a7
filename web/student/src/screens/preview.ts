// Camera preview: the student sees themselves and whether their face is
// found, then starts the exam (which asks for full screen).

import { h, showScreen } from "../dom.ts";
import type { FrameResult } from "../worker-protocol.ts";

export function previewScreen(video: HTMLVideoElement, onStart: () => void): void {
  showScreen(
    "Check your camera",
    h("p", {}, "Sit so your face is in the middle of the picture, with light in front of you."),
    video,
    h("p", { id: "preview-status", role: "status", "aria-live": "polite" }, "Looking for your face…"),
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
