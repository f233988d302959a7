// What a proctor's actions show: warning and message notices, and the pause
// overlay (the exam form is inert underneath it); and the student's break,
// which hides the exam altogether until they come back.

import { byId, h } from "../dom.ts";

export function notice(text: string, warn: boolean): void {
  const n = h("div", { class: `notice${warn ? " warn" : ""}`, role: warn ? "alert" : "status" });
  const close = h("button", { type: "button", class: "secondary", onclick: () => n.remove() }, "Dismiss");
  n.append(h("strong", {}, warn ? "Warning from your proctor: " : "Message from your proctor: "), text, " ", close);
  byId("notices").append(n);
}

let overlay: HTMLElement | null = null;

/** Makes the exam form (if it is on screen) answerable or not. */
export function setExamInert(inert: boolean): void {
  const form = document.getElementById("exam");
  if (inert) form?.setAttribute("inert", "");
  else form?.removeAttribute("inert");
}

/** A button that opens the chat from an overlay (the header is underneath it). */
const chatButton = (openChat: () => void) => h("button", { type: "button", class: "secondary", onclick: openChat }, "Chat with your proctors");

export function showPause(text: string | undefined, openChat: () => void): void {
  if (overlay) return;
  setExamInert(true);
  const dialog = h(
    "div",
    { role: "alertdialog", "aria-modal": "true", "aria-labelledby": "paused-title", tabindex: "-1" },
    h("h2", { id: "paused-title" }, "Your exam is paused"),
    text ? h("p", {}, text) : null,
    h("p", {}, "Please wait. You cannot answer until the proctor resumes the exam."),
    h("p", {}, chatButton(openChat)),
  );
  overlay = h("div", { class: "overlay", id: "paused" }, dialog);
  document.body.append(overlay);
  dialog.focus();
}

export function hidePause(): void {
  overlay?.remove();
  overlay = null;
  if (!breakOverlay) setExamInert(false);
}

let breakOverlay: { el: HTMLElement; countdown: HTMLElement; error: HTMLElement; back: HTMLButtonElement } | null = null;

/**
 * The student's break: the exam is hidden (not only covered: the questions
 * are not readable during a break) and inert; a countdown and a way back.
 * `onBack` resolves with the server's refusal, if it refused.
 */
export function showBreak(countdown: string, onBack: () => Promise<string | null>, openChat: () => void): void {
  if (breakOverlay) return updateBreak(countdown);
  setExamInert(true);
  document.body.classList.add("on-break");
  const count = h("p", { id: "break-countdown", class: "countdown" }, countdown);
  const error = h("p", { class: "error", role: "alert" });
  const back = h("button", { type: "button" }, "Back to the exam");
  back.addEventListener("click", () => {
    back.disabled = true;
    error.textContent = "";
    void onBack().then((refused) => {
      back.disabled = false;
      if (refused) error.textContent = `You could not go back yet: ${refused}`;
    });
  });
  const dialog = h(
    "div",
    { role: "dialog", "aria-modal": "true", "aria-labelledby": "break-title", "aria-describedby": "break-countdown", tabindex: "-1" },
    h("h2", { id: "break-title" }, "You are on a break"),
    h("p", {}, "Your exam is hidden and its clock is stopped. Come back whenever you are ready; when the break's time is up, the exam resumes by itself."),
    count,
    error,
    h("p", {}, back, " ", chatButton(openChat)),
  );
  const el = h("div", { class: "overlay break", id: "break" }, dialog);
  document.body.append(el);
  breakOverlay = { el, countdown: count, error, back };
  dialog.focus();
}

/** The countdown, every second; the DOM is touched only when the words change. */
export function updateBreak(countdown: string): void {
  if (breakOverlay && breakOverlay.countdown.textContent !== countdown) breakOverlay.countdown.textContent = countdown;
}

export function hideBreak(): void {
  if (!breakOverlay) return;
  breakOverlay.el.remove();
  breakOverlay = null;
  document.body.classList.remove("on-break");
  if (!overlay) setExamInert(false);
}
