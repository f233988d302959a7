import { describe, expect, it } from "vitest";
import type { IncidentRecord } from "@proto";
import { manualFrames } from "../test/frames";
import { IncidentFeed, ScoreHistory } from "./feeds";

const rec = (id: string, extra: Partial<IncidentRecord> = {}): IncidentRecord => ({
  id, student_id: "s1", kind: "no_face", source: "client", started_at: 1, accepted_at: 2, ...extra,
});

describe("alerts feed", () => {
  it("keeps newest first, upserts by id, counts unacknowledged, and caps", () => {
    const frames = manualFrames();
    const feed = new IncidentFeed(3, frames.schedule);
    let notified = 0;
    feed.subscribe(() => notified++);
    feed.upsert(rec("a"));
    feed.upsert(rec("b"));
    feed.upsert(rec("a", { ended_at: 5 }));
    frames.run();
    expect(notified).toBe(1); // once per frame
    expect(feed.get().items.map((x) => x.record.id)).toEqual(["b", "a"]);
    expect(feed.get().items[1]!.record.ended_at).toBe(5);
    expect(feed.get().unacknowledged).toBe(2);
    feed.acknowledge("a");
    expect(feed.get().unacknowledged).toBe(1);
    expect(feed.get().items[1]!.acknowledged).toBe(true);
    feed.upsert(rec("c"));
    feed.upsert(rec("d")); // "a" (acknowledged) falls off
    expect(feed.get().items.map((x) => x.record.id)).toEqual(["d", "c", "b"]);
    expect(feed.get().unacknowledged).toBe(3);
    feed.acknowledgeAll();
    expect(feed.get().unacknowledged).toBe(0);
    const view = feed.get();
    expect(feed.get()).toBe(view); // stable between changes
  });
});

describe("score history", () => {
  it("keeps points per student, drops repeats, caps", () => {
    const frames = manualFrames();
    const h = new ScoreHistory(2, frames.schedule);
    h.add("s1", { t: 1, score: 1 });
    h.add("s1", { t: 1, score: 1 });
    h.add("s1", { t: 2, score: 2 });
    h.add("s1", { t: 3, score: 3 });
    expect(h.get("s1")).toEqual([{ t: 2, score: 2 }, { t: 3, score: 3 }]);
    expect(h.get("s2")).toEqual([]);
  });
});
