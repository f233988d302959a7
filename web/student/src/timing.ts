// The session's clocks as the page shows them, without the DOM: exam time
// left and a break's time left, each counted from the server's view and the
// server's clock (`now` is the page clock corrected by the welcome's
// server_time), never from the page's own clock alone; and what a break
// offers the student. main.ts shows them.

import type { ExamSettings, SessionView } from "@proto";
import { clockText } from "./status.ts";

/** How long a break lasts when the exam has no break policy (accommodated extra breaks). */
export const DEFAULT_BREAK_MINUTES = 10;

/**
 * Exam time left at server time `now`: counting down while in progress,
 * held while paused or on a break (the server stops the clock), null when
 * the exam has no duration or is not under way.
 */
export function examTimeLeftMs(v: SessionView | null, now: number): number | null {
  if (!v || v.time_left_ms === undefined) return null;
  if (v.phase === "paused" || v.phase === "on_break") return v.time_left_ms;
  if (v.phase !== "in_progress") return null;
  return v.time_left_ms - Math.max(0, now - v.as_of);
}

/** Time left of the break under way at server time `now` (0 once up: the server then ends it); null when not on a break. */
export function breakLeftMs(v: SessionView | null, now: number): number | null {
  if (v?.phase !== "on_break" || v.break_ends_at === undefined) return null;
  return Math.max(0, v.break_ends_at - now);
}

/** Breaks the student may take now: while the exam is in progress and some are left. */
export function breakOffer(v: SessionView | null, settings: ExamSettings | undefined): { left: number; minutes: number } | null {
  if (v?.phase !== "in_progress" || v.breaks_left <= 0) return null;
  return { left: v.breaks_left, minutes: settings?.breaks?.minutes ?? DEFAULT_BREAK_MINUTES };
}

const minutes = (n: number) => (n === 1 ? "1 minute" : `${n} minutes`);

/** The confirmation's words: how many breaks remain and how long one lasts. */
export function breakConfirmText(offer: { left: number; minutes: number }): string {
  const left = offer.left === 1 ? "This is your last break." : `You have ${offer.left} breaks left; this uses one.`;
  return `${left} A break lasts up to ${minutes(offer.minutes)}. Your exam is hidden and its clock stops until you come back; after ${minutes(offer.minutes)} it resumes on its own.`;
}

/** The break's countdown as shown: `Your break ends in 9:58.` */
export function breakCountdownText(leftMs: number | null): string {
  if (leftMs === null) return "Your break has started.";
  if (leftMs <= 0) return "Your break is over: the exam resumes in a moment.";
  return `Your break ends in ${clockText(leftMs)}.`;
}
