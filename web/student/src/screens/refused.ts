// The server refused the connection: say why in plain words, and offer a retry.

import type { RejectReason } from "@proto";
import { h, showScreen } from "../dom.ts";

/** Refusals a student can act on; others get a generic sentence (and the reason below it). */
const REFUSALS: Partial<Record<string, string>> = {
  expired_token: "Your join link has expired. Ask your proctor for a new one.",
  invalid_token: "This join link is not valid. Check that you copied all of it.",
  missing_token: "This join link is incomplete.",
  wrong_scope: "This link is not a student link for this exam.",
  unknown_exam: "This exam does not exist (any more).",
  unknown_student: "You are not on this exam's list of students.",
  unavailable: "The exam server is busy. Reload the page in a minute.",
  session_terminated: "Your proctor ended your exam. You cannot rejoin it; ask your proctor or instructor if you think this is a mistake.",
} satisfies Partial<Record<RejectReason, string>>;

export function refusedScreen(reason: string, text: string): void {
  showScreen(
    "You cannot join right now",
    h("p", {}, REFUSALS[reason] ?? "The server refused the connection."),
    h("p", { class: "error" }, `Reason: ${reason}: ${text}`),
    h("p", {}, h("button", { type: "button", onclick: () => location.reload() }, "Try again")),
  );
}
