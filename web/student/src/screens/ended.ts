// The end: why, and whether everything queued has reached the server yet.

import { h, showScreen } from "../dom.ts";

export function endedScreen(message: string, drained: Promise<void>): void {
  const flush = h("p", { id: "flush", role: "status" }, "Sending what is left…");
  showScreen("Exam over", h("p", {}, message), flush);
  void drained.then(() => {
    flush.textContent = "Everything has been sent.";
  });
}
