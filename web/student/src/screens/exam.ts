// The exam itself (a fixed demo paper, or the learning platform's assessment
// in a frame), the camera thumbnail, and a banner asking to go back to full
// screen whenever the page is not.

import { ASSESSMENT_FRAME } from "../assessment.ts";
import { h, showScreen } from "../dom.ts";

const QUESTIONS = [
  { q: "Which planet is closest to the Sun?", a: ["Venus", "Mercury", "Mars", "Earth"] },
  { q: "What is 7 × 8?", a: ["54", "56", "58", "64"] },
  { q: "Which gas do plants take in for photosynthesis?", a: ["Oxygen", "Nitrogen", "Carbon dioxide", "Helium"] },
];

const fsBanner = h("div", { class: "banner", id: "fs-banner" });

/** Whether this browser has the Fullscreen API at all (phones often do not). */
export const canFullscreen = (): boolean => "requestFullscreen" in document.documentElement;

export function renderFullscreenBanner(): void {
  if (document.fullscreenElement || !canFullscreen()) {
    fsBanner.replaceChildren();
    fsBanner.hidden = true;
    return;
  }
  fsBanner.hidden = false;
  fsBanner.replaceChildren(
    h("span", {}, "The exam should be taken in full screen."),
    // A refusal leaves the banner up: the student can try again.
    h("button", { type: "button", onclick: () => void document.documentElement.requestFullscreen().catch(() => undefined) }, "Go full screen"),
  );
}

export function examScreen(title: string, video: HTMLVideoElement, onHandIn: () => void): void {
  const form = h("form", {
    id: "exam",
    onsubmit: (e: Event) => {
      e.preventDefault();
      onHandIn();
    },
  });
  QUESTIONS.forEach((item, i) => {
    const fs = h("fieldset", {}, h("legend", {}, `Question ${i + 1}. ${item.q}`));
    item.a.forEach((ans, j) => {
      const id = `q${i}a${j}`;
      fs.append(h("label", { for: id }, h("input", { type: "radio", name: `q${i}`, id, value: ans }), ` ${ans}`));
    });
    form.append(fs);
  });
  form.append(
    h(
      "fieldset",
      {},
      h("legend", {}, "Question 4. In two or three sentences, why is the sky blue?"),
      h("label", { for: "q3" }, "Your answer"),
      h("textarea", { id: "q3", name: "q3" }),
    ),
    h("p", {}, h("button", { type: "submit" }, "Hand in")),
  );
  showScreen(title, fsBanner, form, h("div", { class: "mini" }, video));
  renderFullscreenBanner();
}

/**
 * The learning platform's assessment in a frame beside the camera thumbnail.
 * Returns a setter for the line above the frame that says what is happening.
 * Whether the platform allows itself to be framed cannot be read from here
 * (a refused frame looks like any other cross-origin page), so the page says
 * once what to do if the assessment does not appear.
 */
export function assessmentScreen(title: string, video: HTMLVideoElement, src?: string): (text: string) => void {
  const status = h("p", { id: "assessment-status", role: "status" }, "Opening your exam…");
  const frame = h("iframe", { name: ASSESSMENT_FRAME, id: ASSESSMENT_FRAME, title: "Your exam", class: "assessment", src: src ?? false });
  const help = h(
    "p",
    { class: "hint" },
    "If your exam does not appear below, your learning platform does not allow itself to be shown inside vigil. " +
      `Tell your instructor: the platform's administrator must allow framing by ${location.origin}, and vigil's operator must list the platform with --frame-ancestor.`,
  );
  showScreen(title, fsBanner, status, frame, help, h("div", { class: "mini" }, video));
  renderFullscreenBanner();
  // Called every second while the access code is shown: the DOM is only
  // touched when the sentence changes.
  return (text) => {
    if (status.textContent !== text) status.textContent = text;
  };
}
