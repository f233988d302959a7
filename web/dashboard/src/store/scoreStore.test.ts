import { describe, expect, it, vi } from "vitest";
import type { Level, Presence, ScoreUpdate } from "@proto";
import { DEMO_RULES, demoId, demoSnapshot } from "../demo";
import { manualFrames } from "../test/frames";
import { type Counts, ScoreStore, currentScore, levelFor } from "./scoreStore";

const T0 = 1_700_000_000_000;

function setup(n = 10) {
  const frames = manualFrames();
  const store = new ScoreStore({ schedule: frames.schedule });
  store.loadSnapshot(demoSnapshot(n, T0));
  frames.run();
  return { store, frames };
}

function score(id: string, seq: number, value: number, level: Level = levelFor(value, DEMO_RULES)): ScoreUpdate {
  return { student_id: id, emitted_at: T0 + seq, seq, score: value, level, as_of: T0 + seq };
}

const A = demoId(0);
const B = demoId(1);
const C = demoId(2);

describe("per-key notification", () => {
  it("updating A notifies only A's listeners", () => {
    const { store, frames } = setup();
    const a = vi.fn();
    const b = vi.fn();
    const list = vi.fn();
    store.subscribe(A, a);
    store.subscribe(B, b);
    store.subscribeList(list);
    expect(store.applyScore(score(A, 1, 1))).toBe(true);
    frames.run();
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).not.toHaveBeenCalled();
    // Same level (ok -> ok): nothing list-visible changed.
    expect(list).not.toHaveBeenCalled();
  });

  it("stops notifying after unsubscribe", () => {
    const { store, frames } = setup();
    const a = vi.fn();
    const other = vi.fn();
    const off = store.subscribe(A, a);
    store.subscribe(A, other);
    off();
    store.applyScore(score(A, 1, 1));
    frames.run();
    expect(a).not.toHaveBeenCalled();
    expect(other).toHaveBeenCalledTimes(1);
  });
});

describe("stale sequence numbers", () => {
  it("drops equal and lower seq", () => {
    const { store, frames } = setup();
    const a = vi.fn();
    store.subscribe(A, a);
    expect(store.applyScore(score(A, 5, 5))).toBe(true);
    frames.run();
    a.mockClear();
    expect(store.applyScore(score(A, 5, 9))).toBe(false);
    expect(store.applyScore(score(A, 4, 9))).toBe(false);
    expect(frames.pending).toBe(0);
    expect(store.getStudent(A)!.score).toMatchObject({ seq: 5, score: 5, level: "watch" });
    expect(store.applyScore(score(A, 7, 1))).toBe(true);
    expect(store.applyScore(score(A, 6, 9))).toBe(false); // arrived out of order
    frames.run();
    expect(a).toHaveBeenCalledTimes(1);
    expect(store.getStudent(A)!.score.seq).toBe(7);
  });

  it("drops updates at or below the seq of a later snapshot", () => {
    const { store } = setup();
    const snap = demoSnapshot(10, T0);
    snap.students[0]!.score = { seq: 20, score: 3, level: "ok", as_of: T0 };
    store.applyScore(score(A, 30, 1)); // the snapshot is authoritative even if lower
    store.loadSnapshot(snap);
    expect(store.getStudent(A)!.score.seq).toBe(20);
    expect(store.applyScore(score(A, 20, 9))).toBe(false);
    expect(store.applyScore(score(A, 19, 9))).toBe(false);
    expect(store.applyScore(score(A, 21, 9))).toBe(true);
    expect(store.getStudent(A)!.score.score).toBe(9);
  });

  it("ignores updates for students not in the roster", () => {
    const { store, frames } = setup();
    expect(store.applyScore(score("nobody", 1, 1))).toBe(false);
    expect(store.applyPresence({ student_id: "nobody", presence: "offline", at: T0 })).toBe(false);
    expect(frames.pending).toBe(0);
  });

  it("drops presence, quality and incidents older than what is shown", () => {
    const { store } = setup();
    expect(store.applyPresence({ student_id: A, presence: "stalled", at: T0 - 1 })).toBe(false); // before snapshot
    expect(store.applyPresence({ student_id: A, presence: "stalled", at: T0 + 10 })).toBe(true);
    expect(store.applyPresence({ student_id: A, presence: "live", at: T0 + 5 })).toBe(false);
    expect(store.getStudent(A)!.presence).toBe("stalled");
    expect(store.applyQuality({ student_id: A, quality: "low_light", at: T0 + 10 })).toBe(true);
    expect(store.applyQuality({ student_id: A, quality: "good", at: T0 + 9 })).toBe(false);
    expect(store.getStudent(A)!.quality).toBe("low_light");

    const inc = (id: string, accepted_at: number) => ({
      id,
      student_id: A,
      kind: "tab_hidden" as const,
      source: "client" as const,
      started_at: accepted_at - 100,
      accepted_at,
    });
    expect(store.applyIncident(inc("i2", T0 + 20))).toBe(true);
    expect(store.applyIncident(inc("i1", T0 + 10))).toBe(false);
    expect(store.getStudent(A)!.lastIncident!.id).toBe("i2");
    expect(store.applyIncident({ ...inc("i2", T0 + 20), ended_at: T0 + 50 })).toBe(true);
    expect(store.getStudent(A)!.lastIncident!.ended_at).toBe(T0 + 50);
  });
});

describe("per-frame batching", () => {
  it("10 updates to one key in a frame give one notification with the latest value", () => {
    const { store, frames } = setup();
    const seen: number[] = [];
    store.subscribe(A, () => seen.push(store.getStudent(A)!.score.score));
    for (let i = 1; i <= 10; i++) store.applyScore(score(A, i, i));
    expect(seen).toEqual([]); // nothing before the frame
    expect(frames.pending).toBe(1); // the first update scheduled the frame, the rest coalesced
    frames.run();
    expect(seen).toEqual([10]);
    frames.run();
    expect(seen).toEqual([10]);
  });

  it("updates to two keys in a frame give one notification each, in one frame", () => {
    const { store, frames } = setup();
    const a = vi.fn();
    const b = vi.fn();
    const c = vi.fn();
    store.subscribe(A, a);
    store.subscribe(B, b);
    store.subscribe(C, c);
    for (let i = 1; i <= 5; i++) {
      store.applyScore(score(A, i, i));
      store.applyScore(score(B, i, i));
    }
    expect(frames.pending).toBe(1);
    frames.run();
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(1);
    expect(c).not.toHaveBeenCalled();
  });

  it("the first update after a frame is delivered at the very next frame", () => {
    const { store, frames } = setup();
    const a = vi.fn();
    store.subscribe(A, a);
    for (let f = 1; f <= 3; f++) {
      store.applyScore(score(A, f, f));
      expect(frames.pending).toBe(1);
      frames.run();
      expect(a).toHaveBeenCalledTimes(f);
    }
  });

  it("reads see the latest state before the frame", () => {
    const { store } = setup();
    store.applyScore(score(A, 1, 2.5));
    expect(store.getStudent(A)!.score.score).toBe(2.5);
  });

  it("flush() delivers now and the scheduled frame does not deliver again", () => {
    const { store, frames } = setup();
    const a = vi.fn();
    store.subscribe(A, a);
    store.applyScore(score(A, 1, 1));
    store.flush();
    expect(a).toHaveBeenCalledTimes(1);
    frames.run();
    expect(a).toHaveBeenCalledTimes(1);
  });

  it("a throwing listener does not keep the others from being told", () => {
    const { store, frames } = setup();
    const b = vi.fn();
    store.subscribe(A, () => {
      throw new Error("boom");
    });
    store.subscribe(B, b);
    store.applyScore(score(A, 1, 1));
    store.applyScore(score(B, 1, 1));
    expect(() => frames.run()).toThrow("boom");
    expect(b).toHaveBeenCalledTimes(1);
  });

  it("a default-scheduled store notifies via requestAnimationFrame", () => {
    const rafs: FrameRequestCallback[] = [];
    vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => rafs.push(cb));
    try {
      const store = new ScoreStore();
      store.loadSnapshot(demoSnapshot(3, T0));
      const a = vi.fn();
      store.subscribe(A, a);
      store.applyScore(score(A, 1, 1));
      store.applyScore(score(A, 2, 2));
      expect(rafs).toHaveLength(1);
      rafs[0]!(0);
      expect(a).toHaveBeenCalledTimes(1);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("list and counts", () => {
  function recount(store: ScoreStore): Counts {
    const c = { total: 0, present: 0, stalled: 0, offline: 0, ok: 0, watch: 0, alert: 0 };
    for (const id of store.getList().roster) {
      const t = store.getStudent(id)!;
      c.total++;
      c[t.presence === "live" ? "present" : t.presence]++;
      c[t.score.level]++;
    }
    return c;
  }

  it("tracks presence and level changes", () => {
    const { store, frames } = setup(10);
    const list = vi.fn();
    store.subscribeList(list);
    expect(store.getList().counts).toEqual({ total: 10, present: 10, stalled: 0, offline: 0, ok: 10, watch: 0, alert: 0 });

    store.applyScore(score(A, 1, 9)); // ok -> alert
    store.applyScore(score(B, 1, 5)); // ok -> watch
    store.applyPresence({ student_id: C, presence: "stalled", at: T0 + 1 });
    store.applyPresence({ student_id: A, presence: "offline", at: T0 + 1 });
    frames.run();
    expect(list).toHaveBeenCalledTimes(1);
    expect(store.getList().counts).toEqual({ total: 10, present: 8, stalled: 1, offline: 1, ok: 8, watch: 1, alert: 1 });
    expect(store.getList().byLevel.slice(0, 3)).toEqual([A, B, C]);

    store.applyScore(score(A, 2, 3)); // alert -> ok
    store.applyPresence({ student_id: C, presence: "live", at: T0 + 2 });
    frames.run();
    expect(list).toHaveBeenCalledTimes(2);
    expect(store.getList().counts).toEqual({ total: 10, present: 9, stalled: 0, offline: 1, ok: 9, watch: 1, alert: 0 });
    expect(store.getList().byLevel[0]).toBe(B);
    expect(store.getList().roster.slice(0, 3)).toEqual([A, B, C]);

    // A score change within a level, a quality change or an unchanged
    // presence is not a list change.
    const before = store.getList();
    store.applyScore(score(B, 2, 6));
    store.applyQuality({ student_id: B, quality: "low_light", at: T0 + 3 });
    store.applyPresence({ student_id: B, presence: "live", at: T0 + 3 });
    frames.run();
    expect(list).toHaveBeenCalledTimes(2);
    expect(store.getList()).toBe(before);
  });

  it("is rebuilt by a snapshot, including students leaving", () => {
    const { store, frames } = setup(10);
    store.applyScore(score(A, 1, 9));
    const gone = vi.fn();
    store.subscribe(demoId(9), gone);
    const snap = demoSnapshot(9, T0 + 1000);
    snap.students[3]!.presence = "offline";
    store.loadSnapshot(snap);
    frames.run();
    expect(gone).toHaveBeenCalledTimes(1);
    expect(store.getStudent(demoId(9))).toBeUndefined();
    expect(store.getList().counts).toEqual({ total: 9, present: 8, stalled: 0, offline: 1, ok: 9, watch: 0, alert: 0 });
    expect(store.getList().counts).toEqual(recount(store));
  });

  it("stays equal to a full recount over random traffic", () => {
    const { store, frames } = setup(50);
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const seqs = new Array<number>(50).fill(0);
    const presences: Presence[] = ["live", "stalled", "offline"];
    for (let step = 0; step < 3000; step++) {
      const i = Math.floor(rand() * 50);
      const r = rand();
      if (r < 0.6) {
        // Some updates are replays or out of order.
        seqs[i]! += rand() < 0.8 ? 1 : -1;
        store.applyScore(score(demoId(i), seqs[i]!, rand() * 12));
      } else if (r < 0.95) {
        store.applyPresence({ student_id: demoId(i), presence: presences[Math.floor(rand() * 3)]!, at: T0 + step });
      } else {
        store.loadSnapshot(demoSnapshot(40 + Math.floor(rand() * 20), T0 + step));
        seqs.fill(0);
      }
      if (step % 7 === 0) frames.run();
      expect(store.getList().counts).toEqual(recount(store));
    }
  });
});

describe("getStudent reference stability", () => {
  it("keeps the reference until that student changes", () => {
    const { store } = setup();
    const a0 = store.getStudent(A);
    expect(store.getStudent(A)).toBe(a0);
    store.applyScore(score(B, 1, 1));
    store.applyPresence({ student_id: B, presence: "stalled", at: T0 + 1 });
    expect(store.getStudent(A)).toBe(a0);
    store.applyScore(score(A, 0, 5)); // stale
    store.applyPresence({ student_id: A, presence: "live", at: T0 + 1 }); // no change
    expect(store.getStudent(A)).toBe(a0);
    store.applyScore(score(A, 1, 5));
    const a1 = store.getStudent(A);
    expect(a1).not.toBe(a0);
    expect(store.getStudent(A)).toBe(a1);
    expect(a0!.score.score).toBe(0); // old tiles are never mutated
  });

  it("survives a snapshot that does not change the student", () => {
    const { store, frames } = setup();
    const a = vi.fn();
    store.subscribe(A, a);
    const a0 = store.getStudent(A);
    const b0 = store.getStudent(B);
    const snap = demoSnapshot(10, T0);
    snap.students[1]!.score = { seq: 3, score: 5, level: "watch", as_of: T0 };
    store.loadSnapshot(snap);
    expect(store.getStudent(A)).toBe(a0);
    expect(store.getStudent(B)).not.toBe(b0);
    frames.run();
    expect(a).not.toHaveBeenCalled();
  });

  it("getList is stable between list changes", () => {
    const { store } = setup();
    const l0 = store.getList();
    store.applyScore(score(A, 1, 1));
    expect(store.getList()).toBe(l0);
    store.applyScore(score(A, 2, 9));
    expect(store.getList()).not.toBe(l0);
  });
});

describe("decay and levels", () => {
  const view = { score: 8, as_of: T0 };
  it("halves every half-life", () => {
    expect(currentScore(view, 300, T0)).toBe(8);
    expect(currentScore(view, 300, T0 + 300_000)).toBeCloseTo(4, 12);
    expect(currentScore(view, 300, T0 + 600_000)).toBeCloseTo(2, 12);
    expect(currentScore(view, 60, T0 + 30_000)).toBeCloseTo(8 / Math.SQRT2, 12);
  });
  it("never extrapolates backwards", () => {
    expect(currentScore(view, 300, T0 - 60_000)).toBe(8);
  });
  it("uses inclusive thresholds", () => {
    const rules = { watch_at: 4, alert_at: 8 };
    expect(levelFor(3.999, rules)).toBe("ok");
    expect(levelFor(4, rules)).toBe("watch");
    expect(levelFor(7.999, rules)).toBe("watch");
    expect(levelFor(8, rules)).toBe("alert");
    expect(levelFor(currentScore(view, 300, T0 + 1), rules)).toBe("watch");
  });
});

describe("students added after the snapshot", () => {
  it("get a tile at the end of the roster, counted, once", () => {
    const { store, frames } = setup(2);
    const list = vi.fn();
    store.subscribeList(list);
    const snap = demoSnapshot(3, T0);
    const late = snap.students[2]!;
    expect(store.addStudent({ ...late, presence: "live" })).toBe(true);
    frames.run();
    expect(list).toHaveBeenCalledTimes(1);
    const view = store.getList();
    expect(view.roster).toEqual([A, B, C]);
    expect(view.counts.total).toBe(3);
    expect(store.getStudent(C)?.presence).toBe("live");
    // Known already: left as it is.
    expect(store.addStudent({ ...late, presence: "offline" })).toBe(false);
    expect(store.getStudent(C)?.presence).toBe("live");
    // Later updates for the new student apply.
    expect(store.applyScore(score(C, 1, 5))).toBe(true);
  });

  it("a later snapshot without the student drops the tile", () => {
    const { store, frames } = setup(2);
    store.addStudent(demoSnapshot(3, T0).students[2]!);
    store.loadSnapshot(demoSnapshot(2, T0 + 1));
    frames.run();
    expect(store.getList().roster).toEqual([A, B]);
  });
});

describe("sessions", () => {
  it("a session change reaches its tile only, and only when the phase changes", () => {
    const { store, frames } = setup(2);
    const a = vi.fn();
    const b = vi.fn();
    store.subscribe(A, a);
    store.subscribe(B, b);
    const paused = { phase: "paused" as const, closes_at: T0 + 1, breaks_left: 0, as_of: T0 };
    expect(store.applySession({ student_id: A, session: paused })).toBe(true);
    frames.run();
    expect(store.getStudent(A)?.session).toBe("paused");
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).not.toHaveBeenCalled();
    const tile = store.getStudent(A);
    store.applySession({ student_id: A, session: { ...paused, as_of: T0 + 5 } });
    expect(store.getStudent(A)).toBe(tile);
    expect(store.applySession({ student_id: "nobody", session: paused })).toBe(false);
  });
});
