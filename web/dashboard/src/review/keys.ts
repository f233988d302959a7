/**
 * The review pages' keyboard, as pure functions of a key and what has the
 * focus: the components only translate events and carry the command out.
 *
 * Single letters never act while the reviewer types (a note, a filter) or
 * while a dialog (settings, identity checks) is on top, and never with
 * Ctrl, Alt or ⌘ held, which belong to the browser.
 */

/** What the focus is on, as far as the keys care. */
export type KeyTarget =
  /** Where a key types or picks: a text field, a textarea, a select. */
  | "text"
  /** A button, a link, a radio button, a checkbox: letters mean nothing to them. */
  | "control"
  /** A row of the review queue (its link included). */
  | "row"
  /** Inside a dialog above the page: the dialog's keys, not ours. */
  | "dialog"
  | "other";

/** The part of an element `keyTargetOf` reads (an `Element`, or a test's stand-in). */
export interface ElementLike {
  readonly tagName: string;
  readonly type?: string;
  readonly isContentEditable?: boolean;
  closest?(selector: string): unknown;
}

const TYPING_INPUTS = new Set(["", "text", "search", "email", "number", "password", "tel", "url", "date", "time", "datetime-local", "month", "week"]);

export function keyTargetOf(el: ElementLike | null | undefined): KeyTarget {
  if (!el || typeof el.tagName !== "string") return "other";
  if (el.closest?.('[role="dialog"]')) return "dialog";
  const tag = el.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select" || el.isContentEditable) return "text";
  if (tag === "input") return TYPING_INPUTS.has((el.type ?? "").toLowerCase()) ? "text" : "control";
  if (el.closest?.("[data-review-row]")) return "row";
  if (tag === "button" || tag === "a" || tag === "summary") return "control";
  return "other";
}

export interface KeyPress {
  readonly key: string;
  readonly ctrlKey?: boolean;
  readonly metaKey?: boolean;
  readonly altKey?: boolean;
  readonly target: KeyTarget;
}

export type QueueCommand =
  | { readonly t: "move"; readonly by: number }
  | { readonly t: "home" }
  | { readonly t: "end" }
  | { readonly t: "open" }
  /** "/": to the incident-kind filter. */
  | { readonly t: "filter" }
  /** Escape in a field: back to the list. */
  | { readonly t: "leave-field" };

export function queueCommand(k: KeyPress): QueueCommand | null {
  if (k.ctrlKey || k.metaKey || k.altKey || k.target === "dialog") return null;
  if (k.target === "text") return k.key === "Escape" ? { t: "leave-field" } : null;
  switch (k.key) {
    case "j":
    case "J":
    case "ArrowDown":
      return { t: "move", by: 1 };
    case "k":
    case "K":
    case "ArrowUp":
      return { t: "move", by: -1 };
    case "Home":
      return { t: "home" };
    case "End":
      return { t: "end" };
    case "/":
      return { t: "filter" };
    case "Enter":
      // On a button or another link, Enter is that control's.
      return k.target === "row" || k.target === "other" ? { t: "open" } : null;
    default:
      return null;
  }
}

/** The selected index after `cmd`, within `0..count-1` (-1 for an empty list). */
export function moveSelection(index: number, cmd: QueueCommand, count: number): number {
  if (count === 0) return -1;
  const clamp = (i: number) => Math.max(0, Math.min(count - 1, i));
  switch (cmd.t) {
    case "move":
      return index < 0 ? (cmd.by > 0 ? 0 : count - 1) : clamp(index + cmd.by);
    case "home":
      return 0;
    case "end":
      return count - 1;
    default:
      return clamp(index);
  }
}

export type ReviewCommand = "confirm" | "dismiss" | "next" | "prev" | "back" | "leave-field";

export function reviewCommand(k: KeyPress): ReviewCommand | null {
  if (k.ctrlKey || k.metaKey || k.altKey || k.target === "dialog") return null;
  // Escape in a note leaves the note (kept as typed), not the page: a
  // second Escape goes back.
  if (k.target === "text") return k.key === "Escape" ? "leave-field" : null;
  switch (k.key) {
    case "c":
    case "C":
      return "confirm";
    case "d":
    case "D":
      return "dismiss";
    case "n":
    case "N":
      return "next";
    case "p":
    case "P":
      return "prev";
    case "Escape":
      return "back";
    default:
      return null;
  }
}

/**
 * The incident `n`/`p` lead to from `current` (in timeline order): the
 * first or last when none is current; stays at either end.
 */
export function stepIncident(ids: readonly string[], current: string | null, dir: 1 | -1): string | undefined {
  if (ids.length === 0) return undefined;
  const at = current === null ? -1 : ids.indexOf(current);
  if (at < 0) return dir > 0 ? ids[0] : ids[ids.length - 1];
  return ids[Math.max(0, Math.min(ids.length - 1, at + dir))];
}
