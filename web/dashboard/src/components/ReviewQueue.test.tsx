// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ReviewQueue, ReviewRow } from "@proto";
import { demoSnapshot } from "../demo";
import { ApiError } from "../net/api";
import { ServicesContext, type Services } from "../services";
import { parseRoute } from "../review/route";
import { ReviewView } from "./Review";

const T0 = 1_700_000_000_000;
const flush = () => act(() => new Promise((r) => setTimeout(r, 0)));

const row = (id: string, priority: number, extra: Partial<ReviewRow> = {}): ReviewRow => ({
  student: { id, name: `Name ${id}` },
  session: { phase: "submitted", closes_at: T0, breaks_left: 0, as_of: T0 },
  priority,
  peak_score: priority * 8,
  counts: priority > 0 ? { no_face: 1 } : {},
  incident_count: priority > 0 ? 1 : 0,
  unreviewed: priority > 0 ? 1 : 0,
  gaps: 0,
  ...extra,
});

function setup(answers: (() => Promise<ReviewQueue>)[]) {
  let calls = 0;
  const api = { reviewQueue: () => answers[Math.min(calls++, answers.length - 1)]!() };
  const services = { join: { token: "t", exam: "demo", subject: "p1" }, api } as unknown as Services;
  render(
    <ServicesContext value={services}>
      <ReviewView route={{ view: "review" }} />
    </ServicesContext>,
  );
  return { calls: () => calls };
}

const queue: ReviewQueue = {
  exam: demoSnapshot(1, T0).exam,
  // Not in order: the page shows the server's rule whatever it gets.
  students: [
    row("b", 0.5, { counts: { tab_hidden: 2 }, incident_count: 2 }),
    row("a", 2, { decision: { version: 1, verdict: "violation", note: "x", reviewer: "p2", at: T0 } }),
    row("c", 0),
  ],
  decided: 1,
};

const order = () => [...document.querySelectorAll("tr[data-student]")].map((r) => r.getAttribute("data-student"));
const key = (k: string, target: Element = document.activeElement ?? document.body) =>
  act(async () => {
    fireEvent.keyDown(target, { key: k });
    await Promise.resolve();
  });

beforeEach(() => {
  location.hash = "#token=t";
});
afterEach(cleanup);

describe("the review queue page", () => {
  it("lists every student by priority with progress; keys move, filter and open", async () => {
    setup([() => Promise.resolve(queue)]);
    await flush();
    expect(order()).toEqual(["a", "b", "c"]);
    expect(document.querySelector("[data-progress]")?.textContent).toMatch(/1 of 3 reviewed/);
    expect(document.querySelector('[data-student="a"] [data-col="decision"]')?.textContent).toMatch(/Violation · p2/);
    expect(document.querySelector('[data-student="b"] [data-col="incidents"]')?.textContent).toBe("2 · Left the tab ×2");
    // The first row has the focus; j/k and the arrows move it.
    expect(document.activeElement?.textContent).toBe("Name a");
    await key("j");
    await key("ArrowDown");
    expect(document.activeElement?.textContent).toBe("Name c");
    await key("k");
    expect(document.querySelector('[aria-selected="true"]')?.getAttribute("data-student")).toBe("b");
    // "/" goes to the kind filter; there j types nothing of ours; Escape comes back.
    await key("/");
    const kind = screen.getByLabelText("Incident kind");
    expect(document.activeElement).toBe(kind);
    await key("j", kind);
    expect(document.activeElement).toBe(kind);
    fireEvent.change(kind, { target: { value: "tab_hidden" } });
    expect(order()).toEqual(["b"]);
    await key("Escape", kind);
    expect(document.activeElement?.textContent).toBe("Name b");
    fireEvent.change(kind, { target: { value: "all" } });
    fireEvent.change(screen.getByLabelText("Show"), { target: { value: "undecided" } });
    expect(order()).toEqual(["b", "c"]);
    // Enter opens the selected student (the URL fragment says which; the token stays).
    await key("Enter");
    expect(parseRoute(location.hash)).toEqual({ view: "review", student: "b" });
    expect(new URLSearchParams(location.hash.slice(1)).get("token")).toBe("t");
  });

  it("waits out rate_limited and shows other refusals with the server's message", async () => {
    const t = setup([
      () => Promise.reject(new ApiError(429, "rate_limited", "slow down", 20)),
      () => Promise.reject(new ApiError(403, "forbidden", "not a proctor of this exam")),
    ]);
    await flush();
    expect(screen.getByRole("status").textContent).toMatch(/asking again in 0\.0 s/);
    await act(() => new Promise((r) => setTimeout(r, 60)));
    expect(t.calls()).toBe(2);
    expect(screen.getByRole("alert").textContent).toBe("Could not load the review queue: forbidden: not a proctor of this exam");
  });
});
