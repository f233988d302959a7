// The end: why, and whether everything queued has reached the server yet.

import { h, showScreen } from "../dom.ts";

export function endedScreen(message: string, drained: Promise<void>): void {
  const flush = h("p", { id: "flush", role: "status" }, "Sending what is left…");
  // The record opens in this page: the same token, another view.
  const record = h("a", { href: `${location.hash}&view=record`, onclick: () => setTimeout(() => location.reload()) }, "See your exam record");
  showScreen("Exam over", h("p", {}, message), flush, h("p", {}, record, " (what was flagged, and the reviewers' decisions once they are made)."));
  void drained.then(() => {
    flush.textContent = "Everything has been sent.";
  });
}
