import { describe, expect, it } from "vitest";
import { DEFAULT_WALL, nextWall, type Candidate } from "./ranking";

const c = (id: string, score: number, eligible = true): Candidate => ({ id, score, eligible });
const opts = { ...DEFAULT_WALL, size: 3 };

describe("watch wall ranking", () => {
  it("fills empty slots with the highest scores, ignoring the unsuspicious and offline", () => {
    const wall = nextWall([], [c("a", 1), c("b", 9), c("c", 5), c("d", 0.1), c("e", 20, false)], opts);
    expect(wall).toEqual(["b", "c", "a"]);
    expect(nextWall([], [c("a", 0.2)], opts)).toEqual([null, null, null]);
  });

  it("keeps members in their slots when a challenger is only slightly better (no flapping)", () => {
    let wall = nextWall([], [c("a", 5), c("b", 4), c("c", 3)], opts);
    expect(wall).toEqual(["a", "b", "c"]);
    // d edges past c, then they swap back and forth: the wall does not move.
    for (const [cs, ds] of [[3, 3.2], [3.3, 3.1], [3, 3.6]] as const) {
      wall = nextWall(wall, [c("a", 5), c("b", 4), c("c", cs), c("d", ds)], opts);
      expect(wall).toEqual(["a", "b", "c"]);
    }
  });

  it("replaces the weakest member when a challenger beats it clearly, keeping other slots", () => {
    const wall = nextWall(["a", "b", "c"], [c("a", 5), c("b", 4), c("c", 3), c("d", 9)], opts);
    expect(wall).toEqual(["a", "b", "d"]);
  });

  it("several strong challengers replace several weak members", () => {
    const wall = nextWall(["a", "b", "c"], [c("a", 1), c("b", 1.1), c("c", 8), c("x", 10), c("y", 9)], opts);
    expect(wall.sort()).toEqual(["c", "x", "y"]);
    expect(wall).toContain("c");
  });

  it("members who go offline or decay below the minimum leave", () => {
    const wall = nextWall(["a", "b", "c"], [c("a", 5, false), c("b", 0.3), c("c", 3)], opts);
    expect(wall).toEqual([null, null, "c"]);
  });

  it("is stable over many ticks of noisy but similar scores", () => {
    let wall: (string | null)[] = [];
    let changes = 0;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let t = 0; t < 200; t++) {
      const cands = Array.from({ length: 10 }, (_, i) => c(`s${i}`, 5 + rand()));
      const next = nextWall(wall, cands, opts);
      if (t > 0 && next.some((x, i) => x !== wall[i])) changes++;
      wall = next;
    }
    expect(changes).toBe(0);
  });
});
