// What a proctor's actions show: warning and message notices, and the pause
// overlay (the exam form is inert underneath it).

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

export function showPause(text: string | undefined): void {
  if (overlay) return;
  setExamInert(true);
  const dialog = h(
    "div",
    { role: "alertdialog", "aria-modal": "true", "aria-labelledby": "paused-title", tabindex: "-1" },
    h("h2", { id: "paused-title" }, "Your exam is paused"),
    text ? h("p", {}, text) : null,
    h("p", {}, "Please wait. You cannot answer until the proctor resumes the exam."),
  );
  overlay = h("div", { class: "overlay", id: "paused" }, dialog);
  document.body.append(overlay);
  dialog.focus();
}

export function hidePause(): void {
  overlay?.remove();
  overlay = null;
  setExamInert(false);
}
