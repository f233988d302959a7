// The exam itself (a fixed demo paper), the camera thumbnail, and a banner
// asking to go back to full screen whenever the page is not.

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
