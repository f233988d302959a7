// The exam itself (a fixed demo paper, or the learning platform's assessment
// in a frame), the camera thumbnail, a banner asking to go back to full
// screen whenever the page is not, and the offer of a break while the
// student has some left.

import { ASSESSMENT_FRAME } from "../assessment.ts";
import { h, showScreen } from "../dom.ts";
import { breakConfirmText } from "../timing.ts";

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

const breakBar = h("div", { class: "break-bar", id: "break-bar", hidden: true });
/** What the bar shows now, so the every-change render leaves an open confirmation alone. */
let breakShown = "";

/**
 * The break offer: a "Take a break" button while `offer` has breaks left,
 * which asks to confirm (how many remain, how long one lasts) before
 * `onTake`; that resolves with the server's refusal, if it refused.
 */
export function renderBreakBar(offer: { left: number; minutes: number } | null, onTake: () => Promise<string | null>): void {
  const key = offer ? `${offer.left}:${offer.minutes}` : "";
  if (key === breakShown) return;
  breakShown = key;
  breakBar.hidden = !offer;
  if (!offer) return breakBar.replaceChildren();
  const error = h("span", { class: "error", role: "alert" });
  const take = h("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": "break-confirm" }, "Take a break");
  const go = h("button", { type: "button" }, "Start my break");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const confirm = h("div", { id: "break-confirm", role: "group", "aria-label": "Take a break?", hidden: true }, h("p", {}, breakConfirmText(offer)), h("p", {}, go, " ", cancel));
  const shut = () => {
    confirm.hidden = true;
    take.setAttribute("aria-expanded", "false");
  };
  take.addEventListener("click", () => {
    confirm.hidden = false;
    take.setAttribute("aria-expanded", "true");
    go.focus();
  });
  cancel.addEventListener("click", () => {
    shut();
    take.focus();
  });
  go.addEventListener("click", () => {
    go.disabled = true;
    error.textContent = "";
    void onTake().then((refused) => {
      go.disabled = false;
      shut();
      if (refused) error.textContent = `The break could not start: ${refused}`;
    });
  });
  breakBar.replaceChildren(h("p", {}, take, " ", error), confirm);
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
  showScreen(title, fsBanner, breakBar, form, h("div", { class: "mini" }, video));
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
  showScreen(title, fsBanner, breakBar, status, frame, help, h("div", { class: "mini" }, video));
  renderFullscreenBanner();
  // Called every second while the access code is shown: the DOM is only
  // touched when the sentence changes.
  return (text) => {
    if (status.textContent !== text) status.textContent = text;
  };
}
