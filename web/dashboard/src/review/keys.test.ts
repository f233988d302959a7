import { describe, expect, it } from "vitest";
import { keyTargetOf, moveSelection, queueCommand, reviewCommand, stepIncident, type ElementLike, type KeyTarget } from "./keys";

/** An element stand-in: `inside` lists the selectors its ancestors match. */
const el = (tagName: string, extra: Partial<ElementLike> = {}, inside: string[] = []): ElementLike => ({
  tagName,
  closest: (sel: string) => (inside.includes(sel) ? {} : null),
  ...extra,
});

describe("what has the focus", () => {
  it("tells typing fields, controls, queue rows and dialogs apart", () => {
    expect(keyTargetOf(el("INPUT", { type: "text" }))).toBe("text");
    expect(keyTargetOf(el("INPUT", { type: "" }))).toBe("text");
    expect(keyTargetOf(el("INPUT", { type: "search" }))).toBe("text");
    expect(keyTargetOf(el("TEXTAREA"))).toBe("text");
    expect(keyTargetOf(el("SELECT"))).toBe("text");
    expect(keyTargetOf(el("DIV", { isContentEditable: true }))).toBe("text");
    expect(keyTargetOf(el("INPUT", { type: "radio" }))).toBe("control");
    expect(keyTargetOf(el("BUTTON"))).toBe("control");
    expect(keyTargetOf(el("A"))).toBe("control");
    expect(keyTargetOf(el("A", {}, ["[data-review-row]"]))).toBe("row");
    expect(keyTargetOf(el("TEXTAREA", {}, ['[role="dialog"]']))).toBe("dialog");
    expect(keyTargetOf(el("BODY"))).toBe("other");
    expect(keyTargetOf(null)).toBe("other");
  });
});

const press = (key: string, target: KeyTarget = "other", mods: { ctrlKey?: boolean; metaKey?: boolean; altKey?: boolean } = {}) => ({ key, target, ...mods });

describe("the queue's keys", () => {
  it("j/k and the arrows move, Enter opens, / goes to the filter", () => {
    expect(queueCommand(press("j"))).toEqual({ t: "move", by: 1 });
    expect(queueCommand(press("ArrowDown", "row"))).toEqual({ t: "move", by: 1 });
    expect(queueCommand(press("k", "row"))).toEqual({ t: "move", by: -1 });
    expect(queueCommand(press("ArrowUp"))).toEqual({ t: "move", by: -1 });
    expect(queueCommand(press("Home"))).toEqual({ t: "home" });
    expect(queueCommand(press("End"))).toEqual({ t: "end" });
    expect(queueCommand(press("Enter", "row"))).toEqual({ t: "open" });
    expect(queueCommand(press("Enter"))).toEqual({ t: "open" });
    expect(queueCommand(press("/", "row"))).toEqual({ t: "filter" });
    expect(queueCommand(press("x"))).toBeNull();
  });

  it("leaves typing, a button's Enter, dialogs and browser shortcuts alone", () => {
    expect(queueCommand(press("j", "text"))).toBeNull();
    expect(queueCommand(press("/", "text"))).toBeNull();
    expect(queueCommand(press("ArrowDown", "text"))).toBeNull(); // a select's own arrows
    expect(queueCommand(press("Escape", "text"))).toEqual({ t: "leave-field" });
    expect(queueCommand(press("Enter", "control"))).toBeNull();
    expect(queueCommand(press("j", "dialog"))).toBeNull();
    expect(queueCommand(press("k", "row", { ctrlKey: true }))).toBeNull();
    expect(queueCommand(press("j", "row", { metaKey: true }))).toBeNull();
  });

  it("moves the selection within the list", () => {
    expect(moveSelection(0, { t: "move", by: 1 }, 3)).toBe(1);
    expect(moveSelection(2, { t: "move", by: 1 }, 3)).toBe(2);
    expect(moveSelection(0, { t: "move", by: -1 }, 3)).toBe(0);
    expect(moveSelection(-1, { t: "move", by: 1 }, 3)).toBe(0);
    expect(moveSelection(-1, { t: "move", by: -1 }, 3)).toBe(2);
    expect(moveSelection(1, { t: "end" }, 3)).toBe(2);
    expect(moveSelection(1, { t: "home" }, 3)).toBe(0);
    expect(moveSelection(0, { t: "move", by: 1 }, 0)).toBe(-1);
  });
});

describe("the student page's keys", () => {
  it("c/d read the current incident, n/p move, Escape goes back", () => {
    expect(reviewCommand(press("c"))).toBe("confirm");
    expect(reviewCommand(press("d", "control"))).toBe("dismiss");
    expect(reviewCommand(press("n"))).toBe("next");
    expect(reviewCommand(press("p"))).toBe("prev");
    expect(reviewCommand(press("Escape"))).toBe("back");
    expect(reviewCommand(press("x"))).toBeNull();
  });

  it("typing a note types; Escape in it only leaves it", () => {
    for (const k of ["c", "d", "n", "p"]) expect(reviewCommand(press(k, "text"))).toBeNull();
    expect(reviewCommand(press("Escape", "text"))).toBe("leave-field");
    expect(reviewCommand(press("Escape", "dialog"))).toBeNull();
    expect(reviewCommand(press("c", "other", { ctrlKey: true }))).toBeNull();
    expect(reviewCommand(press("d", "other", { altKey: true }))).toBeNull();
  });

  it("steps through the incidents in order, stopping at either end", () => {
    const ids = ["i1", "i2", "i3"];
    expect(stepIncident(ids, null, 1)).toBe("i1");
    expect(stepIncident(ids, null, -1)).toBe("i3");
    expect(stepIncident(ids, "i1", 1)).toBe("i2");
    expect(stepIncident(ids, "i3", 1)).toBe("i3");
    expect(stepIncident(ids, "i1", -1)).toBe("i1");
    expect(stepIncident(ids, "gone", 1)).toBe("i1");
    expect(stepIncident([], null, 1)).toBeUndefined();
  });
});
