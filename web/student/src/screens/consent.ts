// What is watched and kept, in plain words; the student agrees before the camera preview.

import type { ExamSettings } from "@proto";
import { h, showScreen } from "../dom.ts";

export function consentScreen(settings: ExamSettings, onAgree: () => void): void {
  const box = h("input", { type: "checkbox", id: "agree" });
  const go = h("button", { type: "button", disabled: true, onclick: onAgree }, "I agree, continue");
  box.addEventListener("change", () => {
    go.disabled = !box.checked;
  });
  const frames =
    settings.privacy === "events_only"
      ? h("li", {}, "No pictures of you are saved. Only events (for example “no face visible for 3 seconds”) are recorded.")
      : h(
          "li",
          {},
          `When something is flagged (for example “no face visible”), one still picture from your camera at that moment is saved with it. These pictures are deleted after ${settings.evidence_retention_days} days.`,
        );
  showScreen(
    "How you are watched",
    h(
      "div",
      { class: "consent" },
      h(
        "ul",
        {},
        h("li", {}, "Your camera picture is checked on your own computer: is there one face, is it facing the screen. The checking software does not send your picture anywhere."),
        settings.privacy === "recording"
          ? h(
              "li",
              {},
              `Your proctor can watch your camera live during the exam. This exam also records your camera video (no sound) from start to end, so that it can be reviewed afterwards. The recording is deleted after ${settings.evidence_retention_days} days, with the pictures.`,
            )
          : h("li", {}, "Your proctor can watch your camera live during the exam. The live video is not recorded."),
        frames,
        settings.microphone
          ? h(
              "li",
              {},
              settings.privacy === "recording"
                ? `This exam uses your microphone. Your computer listens for voices (the sound is checked on your computer, like the camera picture), and when it hears someone speak for more than a second this is noted for the proctor, with a 5-second sound clip from around that moment, kept for ${settings.evidence_retention_days} days like the pictures. Your proctor can hear your microphone live while they watch your camera. Apart from those clips, the sound is never recorded.`
                : "This exam uses your microphone. Your computer listens for voices (the sound is checked on your computer, like the camera picture), and when it hears someone speak for more than a second this is noted for the proctor. Your proctor can hear your microphone live while they watch your camera. The sound is never recorded.",
            )
          : h("li", {}, "This exam does not use your microphone."),
        h(
          "li",
          {},
          "Leaving the exam tab or full screen, switching windows, copying or pasting, a second screen, a phone in view, and a camera that looks like a virtual camera or a screen share are noted for the proctor.",
        ),
        h("li", {}, "Your proctor decides what happens; nothing is decided automatically."),
      ),
      h("p", {}, box, " ", h("label", { for: "agree", style: "display:inline" }, "I have read this and agree")),
      h("p", {}, go),
    ),
  );
}
