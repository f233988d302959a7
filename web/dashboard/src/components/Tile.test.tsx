// @vitest-environment jsdom
import { Profiler, type ProfilerOnRenderCallback, memo } from "react";
import { act, cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { demoId, demoSnapshot } from "../demo";
import { ScoreStoreContext, ScoreStore, useStudentList } from "../store/scoreStore";
import { manualFrames } from "../test/frames";
import { ChatStore, ChatStoreContext } from "../chat/chatStore";
import { Tile } from "./Tile";

const T0 = 1_700_000_000_000;

afterEach(cleanup);

function setup(n: number) {
  const frames = manualFrames();
  const store = new ScoreStore({ schedule: frames.schedule });
  store.loadSnapshot(demoSnapshot(n, T0));
  frames.run();
  const runFrame = () => act(() => frames.run());
  return { store, frames, runFrame };
}

/** Records which tiles committed, and in which phase. */
function recorder() {
  const renders: { id: string; phase: string }[] = [];
  const onRender: ProfilerOnRenderCallback = (id, phase) => {
    renders.push({ id, phase });
  };
  return { renders, onRender };
}

/**
 * The grid under test: one Profiler per tile. The wrapper is memoised like
 * Tile, so a grid re-render reaches neither the Profiler nor the tile.
 */
function ProfiledGrid({ onRender }: { onRender: ProfilerOnRenderCallback }) {
  const { roster } = useStudentList();
  return roster.map((id) => <ProfiledTile key={id} id={id} onRender={onRender} />);
}
const ProfiledTile = memo(function ProfiledTile({ id, onRender }: { id: string; onRender: ProfilerOnRenderCallback }) {
  return (
    <Profiler id={id} onRender={onRender}>
      <Tile id={id} />
    </Profiler>
  );
});

describe("Tile re-renders", () => {
  it("one update re-renders exactly that tile, at the next frame", () => {
    const { store, runFrame } = setup(100);
    const { renders, onRender } = recorder();
    render(
      <ScoreStoreContext value={store}>
        <ProfiledGrid onRender={onRender} />
      </ScoreStoreContext>,
    );
    expect(renders).toHaveLength(100);
    expect(renders.every((r) => r.phase === "mount")).toBe(true);
    renders.length = 0;

    const target = demoId(42);
    act(() => {
      store.applyScore({ student_id: target, emitted_at: T0 + 1, seq: 1, score: 2.5, level: "ok", as_of: T0 + 1 });
    });
    expect(renders).toEqual([]); // batched: nothing until the frame

    runFrame();
    expect(renders).toEqual([{ id: target, phase: "update" }]);
    const tile = document.querySelector(`[data-student="${target}"]`) as HTMLElement;
    expect(within(tile).getByText("2.5")).toBeTruthy();
  });

  it("a burst to one tile and a level change re-render only the tiles concerned", () => {
    const { store, runFrame } = setup(100);
    const { renders, onRender } = recorder();
    render(
      <ScoreStoreContext value={store}>
        <ProfiledGrid onRender={onRender} />
      </ScoreStoreContext>,
    );
    renders.length = 0;

    act(() => {
      for (let seq = 1; seq <= 10; seq++) {
        store.applyScore({ student_id: demoId(7), emitted_at: T0, seq, score: seq, level: seq >= 8 ? "alert" : "ok", as_of: T0 + seq });
      }
      store.applyPresence({ student_id: demoId(9), presence: "stalled", at: T0 + 5 });
    });
    runFrame();
    // The grid re-rendered (a level and a presence changed), the other 98 tiles did not.
    expect(renders.map((r) => r.id).sort()).toEqual([demoId(7), demoId(9)]);
    expect(document.querySelector(`[data-student="${demoId(7)}"]`)!.textContent).toContain("Alert 10.0");
  });
});

function Counts() {
  const { counts } = useStudentList();
  return (
    <p>
      {counts.total} students · {counts.present} live · {counts.stalled} stalled · {counts.offline} offline · {counts.watch} watch ·{" "}
      {counts.alert} alert
    </p>
  );
}

describe("Tile labels and counts", () => {
  it("shows counts, labels with shapes, and live updates", () => {
    const { store, runFrame } = setup(100);
    render(
      <ScoreStoreContext value={store}>
        <Counts />
        <ProfiledGrid onRender={() => undefined} />
      </ScoreStoreContext>,
    );
    expect(document.querySelectorAll(".tile")).toHaveLength(100);
    expect(screen.getByText(/100 students · 100 live · 0 stalled · 0 offline · 0 watch · 0 alert/)).toBeTruthy();

    act(() => {
      store.applyScore({ student_id: demoId(3), emitted_at: T0, seq: 1, score: 9.25, level: "alert", as_of: T0 });
      store.applyPresence({ student_id: demoId(4), presence: "offline", at: T0 + 1 });
      store.applyQuality({ student_id: demoId(4), quality: "low_light", at: T0 + 1 });
    });
    runFrame();
    expect(screen.getByText(/100 students · 99 live · 0 stalled · 1 offline · 0 watch · 1 alert/)).toBeTruthy();
    const alert = screen.getByRole("gridcell", { name: "Student 4: Alert 9.3, Live" });
    expect(alert.textContent).toContain("◆ Alert 9.3");
    const offline = screen.getByRole("gridcell", { name: "Student 5: OK 0.0, Offline" });
    expect(offline.textContent).toContain("Offline");
    expect(offline.textContent).not.toContain("Low light"); // no detection while offline
    expect(screen.getByRole("gridcell", { name: "Student 1: OK 0.0, Live" }).textContent).toContain("Live · Detection good");
    expect(offline.textContent).toContain("No incidents");
  });

  it("shows the last incident", () => {
    const { store, runFrame } = setup(3);
    render(
      <ScoreStoreContext value={store}>
        <Tile id={demoId(1)} />
      </ScoreStoreContext>,
    );
    act(() => {
      store.applyIncident({ id: "i1", student_id: demoId(1), kind: "multiple_faces", source: "client", started_at: T0, accepted_at: T0 + 5 });
    });
    runFrame();
    expect(within(document.body).getByText(/Two or more faces/)).toBeTruthy();
  });
});

describe("Tile session and chat badges", () => {
  it("shows the new phases on the name's line, and an unread badge until the conversation is shown", () => {
    const { store, runFrame } = setup(3);
    const chat = new ChatStore();
    render(
      <ScoreStoreContext value={store}>
        <ChatStoreContext value={chat}>
          <Tile id={demoId(0)} />
          <Tile id={demoId(1)} />
          <Tile id={demoId(2)} />
        </ChatStoreContext>
      </ScoreStoreContext>,
    );
    const session = (i: number, phase: "identity_check" | "ready" | "on_break") =>
      store.applySession({ student_id: demoId(i), session: { phase, closes_at: T0 + 1, breaks_left: 1, as_of: T0 } });
    act(() => {
      session(0, "identity_check");
      session(1, "ready");
      session(2, "on_break");
    });
    runFrame();
    const head = (i: number) => document.querySelector(`[data-student="${demoId(i)}"] .tile__head`)!.textContent;
    expect(head(0)).toContain("▣ ID check");
    expect(head(1)).toContain("▷ Ready");
    expect(head(2)).toContain("◔ On break");
    expect(document.querySelector(`[data-student="${demoId(0)}"]`)!.className).toContain("tile--session-identity_check");

    act(() => {
      chat.add({ seq: 1, id: "m1", from: "student", student_id: demoId(0), text: "hello", at: T0 });
      chat.add({ seq: 2, id: "m2", from: "student", student_id: demoId(0), text: "again", at: T0 });
    });
    expect(screen.getByRole("gridcell", { name: /Student 1: .*, 2 unread messages$/ }).textContent).toContain("✉ 2");
    expect(document.querySelectorAll(".tile__chat")).toHaveLength(1);
    act(() => chat.setViewing(demoId(0)));
    expect(document.querySelectorAll(".tile__chat")).toHaveLength(0);
  });
});
