import { describe, expect, it } from "vitest";
import { demoId, demoSnapshot } from "../demo";
import { manualFrames } from "../test/frames";
import { ScoreStore } from "./scoreStore";

const T0 = 1_700_000_000_000;
const HALF = 300_000; // DEMO_RULES half-life (300 s) in ms

function setup(n = 5) {
  const frames = manualFrames();
  const store = new ScoreStore({ schedule: frames.schedule });
  store.loadSnapshot(demoSnapshot(n, T0));
  frames.run();
  return { store, frames };
}

describe("decay tick", () => {
  it("re-derives shown score and level from the half-life", () => {
    const { store, frames } = setup();
    store.applyScore({ student_id: demoId(1), emitted_at: T0, seq: 1, score: 10, level: "alert", as_of: T0 });
    frames.run();
    expect(store.getStudent(demoId(1))!.shown).toEqual({ score: 10, level: "alert" });
    expect(store.getList().counts.alert).toBe(1);
    // One half-life later: 5 → watch.
    expect(store.tick(T0 + HALF)).toEqual([demoId(1)]);
    expect(store.getStudent(demoId(1))!.shown).toEqual({ score: 5, level: "watch" });
    expect(store.getList().counts).toMatchObject({ alert: 0, watch: 1 });
    expect(store.getList().byLevel[0]).toBe(demoId(1));
    // Two more: 1.25 → ok.
    store.tick(T0 + 3 * HALF);
    expect(store.getStudent(demoId(1))!.shown).toEqual({ score: 1.3, level: "ok" });
    // The server's own value is kept: a later update is compared by seq.
    expect(store.getStudent(demoId(1))!.score.score).toBe(10);
  });

  it("notifies only students whose rounded score or level changed", () => {
    const { store, frames } = setup();
    store.applyScore({ student_id: demoId(1), emitted_at: T0, seq: 1, score: 10, level: "alert", as_of: T0 });
    store.applyScore({ student_id: demoId(2), emitted_at: T0, seq: 1, score: 0.04, level: "ok", as_of: T0 });
    frames.run();
    const calls: string[] = [];
    for (let i = 0; i < 5; i++) store.subscribe(demoId(i), () => calls.push(demoId(i)));
    let list = 0;
    store.subscribeList(() => list++);
    const before = store.getStudent(demoId(2));

    // 100 ms later: 10 → 9.9977 rounds to 10.0; 0.04 → 0.0399 rounds to 0.0. Nothing visible changes.
    expect(store.tick(T0 + 100)).toEqual([]);
    frames.run();
    expect(calls).toEqual([]);
    expect(store.getStudent(demoId(2))).toBe(before);

    // 20 s later: student 1 shows 9.5 (visible change, same level): one notification, no list change.
    expect(store.tick(T0 + 20_000)).toEqual([demoId(1)]);
    frames.run();
    expect(calls).toEqual([demoId(1)]);
    expect(list).toBe(0);
  });

  it("a fresh update resets the shown value to the server's", () => {
    const { store } = setup();
    store.applyScore({ student_id: demoId(0), emitted_at: T0, seq: 1, score: 10, level: "alert", as_of: T0 });
    store.tick(T0 + HALF);
    store.applyScore({ student_id: demoId(0), emitted_at: T0 + HALF, seq: 2, score: 8.04, level: "alert", as_of: T0 + HALF });
    expect(store.getStudent(demoId(0))!.shown).toEqual({ score: 8, level: "alert" });
  });
});
