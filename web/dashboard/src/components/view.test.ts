import { describe, expect, it } from "vitest";
import { demoId, demoSnapshot } from "../demo";
import { manualFrames } from "../test/frames";
import { ScoreStore } from "../store/scoreStore";
import { DEFAULT_CRITERIA, moveFocus, sameOr, visibleIds } from "./view";

const T0 = 1_700_000_000_000;

describe("grid view", () => {
  const store = new ScoreStore({ schedule: manualFrames().schedule });
  store.loadSnapshot(demoSnapshot(12, T0));
  store.applyScore({ student_id: demoId(3), emitted_at: T0, seq: 1, score: 9, level: "alert", as_of: T0 });
  store.applyScore({ student_id: demoId(11), emitted_at: T0, seq: 1, score: 5, level: "watch", as_of: T0 });
  store.applyPresence({ student_id: demoId(5), presence: "stalled", at: T0 + 1 });
  const roster = store.getList().roster;

  it("sorts names numerically and by score, filters by level, state and search", () => {
    const byName = visibleIds(store, roster, DEFAULT_CRITERIA);
    expect(byName.slice(0, 3)).toEqual([demoId(0), demoId(1), demoId(2)]);
    expect(byName.indexOf(demoId(9))).toBeLessThan(byName.indexOf(demoId(10))); // "Student 10" after "Student 9"
    expect(visibleIds(store, roster, { ...DEFAULT_CRITERIA, sort: "score" }).slice(0, 2)).toEqual([demoId(3), demoId(11)]);
    expect(visibleIds(store, roster, { ...DEFAULT_CRITERIA, level: "watch" })).toEqual([demoId(11)]);
    expect(visibleIds(store, roster, { ...DEFAULT_CRITERIA, presence: "stalled" })).toEqual([demoId(5)]);
    expect(visibleIds(store, roster, { ...DEFAULT_CRITERIA, search: "student 1" })).toEqual([demoId(0), demoId(9), demoId(10), demoId(11)]);
  });

  it("keeps the same array when nothing visible changed", () => {
    const a = visibleIds(store, roster, DEFAULT_CRITERIA);
    const b = visibleIds(store, roster, DEFAULT_CRITERIA);
    expect(b).not.toBe(a);
    expect(sameOr(a, b)).toBe(a);
    expect(sameOr(a, b.slice(1))).not.toBe(a);
  });

  it("moves keyboard focus within bounds", () => {
    expect(moveFocus("ArrowRight", 0, 10, 4, 2)).toBe(1);
    expect(moveFocus("ArrowDown", 1, 10, 4, 2)).toBe(5);
    expect(moveFocus("ArrowDown", 8, 10, 4, 2)).toBe(9);
    expect(moveFocus("ArrowUp", 2, 10, 4, 2)).toBe(0);
    expect(moveFocus("PageDown", 0, 100, 4, 3)).toBe(12);
    expect(moveFocus("End", 0, 10, 4, 2)).toBe(9);
    expect(moveFocus("a", 0, 10, 4, 2)).toBeUndefined();
  });
});
