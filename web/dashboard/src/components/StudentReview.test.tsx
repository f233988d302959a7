// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Decision, IncidentReview, ReviewIncident, SetDecision, StudentReview } from "@proto";
import { demoSnapshot } from "../demo";
import { ApiError } from "../net/api";
import { ServicesContext, type Services } from "../services";
import { StudentReviewPage } from "./StudentReview";
import { FIRST_ENTRIES, MORE_ENTRIES } from "./ReviewTimeline";

const T0 = 1_700_000_000_000;
const flush = () => act(() => new Promise((r) => setTimeout(r, 0)));

function record(decisions: Decision[] = []): StudentReview {
  const exam = demoSnapshot(1, T0).exam;
  return {
    exam,
    student: { id: "s1", name: "Ada <b>L</b>" },
    session: { phase: "submitted", closes_at: T0 + 9e6, breaks_left: 0, as_of: T0 + 900 },
    accommodations: { extra_time_pct: 25, extra_time_min: 0, disabled_detectors: [], extra_breaks: 0, note: "Uses a screen reader" },
    priority: 1.5,
    peak_score: 6,
    counts: { no_face: 1, tab_hidden: 1 },
    incident_count: 2,
    unreviewed: 2,
    gaps: 0,
    incidents: [
      { id: "i1", student_id: "s1", kind: "no_face", source: "client", started_at: T0 + 100, ended_at: T0 + 400, accepted_at: T0 + 500, evidence_sha256: "ab12" },
      { id: "i2", student_id: "s1", kind: "tab_hidden", source: "client", started_at: T0 + 300, accepted_at: T0 + 600, during_pause: true },
    ],
    incident_reviews: [],
    score_curve: [
      { at: T0 + 100, score: 3 },
      { at: T0 + 300, score: 6 },
    ],
    transitions: [
      { change: "start", at: T0, by: "student" },
      { change: "pause", at: T0 + 200, by: "proctor:p1", reason: "Look at the camera" },
      { change: "submit", at: T0 + 900, by: "student" },
    ],
    actions: [{ proctor_id: "p1", kind: "pause", at: T0 + 200, text: "Look at the camera" }],
    chat: [{ seq: 1, id: "c", from: "student", student_id: "s1", text: "<img src=x onerror=alert(1)>", at: T0 + 250 }],
    identity_photos: [{ kind: "face", sha256: "cd34", width: 320, height: 240, bytes: 9, captured_at: T0 - 60_000 }],
    decisions,
    appeals: [],
  };
}

/** The recording `api.recording` answers: a minute from the exam's start, then a gap, then a minute. */
const segments = [
  { sha256: "aa", container: "webm" as const, started_at: T0 - 10_000, duration_ms: 60_000, frames: 900, keyframes: 20, width: 320, height: 240, bytes: 1000 },
  { sha256: "bb", container: "mp4" as const, started_at: T0 + 120_000, duration_ms: 60_000, frames: 900, keyframes: 20, width: 320, height: 240, bytes: 1000 },
];

function setup(first = record()) {
  let current = first;
  const reads: string[] = [];
  const readings: { incident: string; body: ReviewIncident }[] = [];
  const decisions: SetDecision[] = [];
  const photos: string[] = [];
  const recordingReads: string[] = [];
  const segmentReads: string[] = [];
  let decide: (body: SetDecision) => Promise<Decision> = (body) =>
    Promise.resolve({ version: body.based_on + 1, verdict: body.verdict, note: body.note, reviewer: "p1", at: T0 + 5000 });
  const api = {
    studentReview: (s: string) => (reads.push(s), Promise.resolve(current)),
    putIncidentReview: (_s: string, incident: string, body: ReviewIncident) => {
      readings.push({ incident, body });
      const r: IncidentReview = { incident_id: incident, verdict: body.verdict, reviewer: "p1", at: T0 + 4000, ...(body.note ? { note: body.note } : {}) };
      return Promise.resolve(r);
    },
    putDecision: (_s: string, body: SetDecision) => (decisions.push(body), decide(body)),
    // A hash starting "wav" is a sound clip (a voice's evidence where the exam keeps sound).
    evidence: (sha: string) =>
      Promise.resolve(sha.startsWith("wav") ? new Blob([new Uint8Array([0x52, 0x49])], { type: "audio/wav" }) : new Blob([new Uint8Array([0xff, 0xd8])], { type: "image/jpeg" })),
    recording: (s: string) => (recordingReads.push(s), Promise.resolve(segments)),
    recordingSegment: (_s: string, sha: string) => (segmentReads.push(sha), Promise.resolve(new Blob([new Uint8Array([0x1a, 0x45])], { type: "video/webm" }))),
    identityPhoto: (s: string, kind: string) => (photos.push(`${s}/${kind}`), Promise.resolve(new Blob([new Uint8Array([0xff, 0xd8])], { type: "image/jpeg" }))),
  };
  const services = { join: { token: "t", exam: "demo", subject: "p1" }, api } as unknown as Services;
  const onBack = vi.fn();
  const onOpen = vi.fn();
  const onDecided = vi.fn();
  const view = render(
    <ServicesContext value={services}>
      <StudentReviewPage id="s1" next={{ id: "s2", name: "Bo" }} queueKnown position={{ at: 1, of: 3 }} onBack={onBack} onOpen={onOpen} onDecided={onDecided} />
    </ServicesContext>,
  );
  return {
    view,
    reads,
    photos,
    recordingReads,
    segmentReads,
    readings,
    decisions,
    onBack,
    onOpen,
    onDecided,
    setRecord: (r: StudentReview) => (current = r),
    setDecide: (f: typeof decide) => (decide = f),
  };
}

/** A key press, and what it set off (a request's answer) settled. */
const key = (k: string, target: Element = document.body) =>
  act(async () => {
    fireEvent.keyDown(target, { key: k });
    await new Promise((r) => setTimeout(r, 0));
  });
const active = () => document.activeElement as HTMLElement | null;

const revoke = vi.fn();
beforeEach(() => {
  URL.createObjectURL = vi.fn(() => "blob:test");
  revoke.mockClear();
  URL.revokeObjectURL = revoke;
});
afterEach(cleanup);

describe("a student's review page", () => {
  it("plays the recording of an exam that records: a mark or an incident's Play button seeks there", async () => {
    const r = record();
    const recorded: StudentReview = { ...r, exam: { ...r.exam, settings: { ...r.exam.settings, privacy: "recording" } } };
    const { recordingReads, segmentReads } = setup(recorded);
    await flush();
    await flush();
    expect(recordingReads).toEqual(["s1"]);
    const player = screen.getByRole("region", { name: "Recording" });
    // The first segment is fetched for the player and the next ahead of time.
    expect(segmentReads).toEqual(["aa", "bb"]);
    expect(player.querySelector("video")?.getAttribute("src")).toBe("blob:test");
    // Both incidents are inside the first segment: a mark each, and a Play button each.
    const marks = player.querySelectorAll<HTMLButtonElement>(".rp__mark");
    expect([...marks].map((m) => m.dataset.incident)).toEqual(["i1", "i2"]);
    const plays = screen.getAllByRole("button", { name: /Play the recording from/ });
    expect(plays).toHaveLength(2);
    // A mark's click makes its incident the current one and shows its moment (2 s lead-in, kept inside the segment).
    fireEvent.click(marks[1]!);
    await flush();
    expect(document.querySelector("[aria-current=true]")?.getAttribute("data-incident")).toBe("i2");
    expect(Number(player.dataset.moment)).toBe(T0 + 300 - 2_000);
    fireEvent.click(plays[0]!);
    await flush();
    expect(document.querySelector("[aria-current=true]")?.getAttribute("data-incident")).toBe("i1");
    expect(Number(player.dataset.moment)).toBe(T0 + 100 - 2_000);
  });

  it("asks nothing of the recording when the exam does not record", async () => {
    const { recordingReads, reads } = setup();
    await flush();
    expect(reads).toEqual(["s1"]);
    expect(recordingReads).toEqual([]);
    expect(screen.queryByRole("region", { name: "Recording" })).toBeNull();
    expect(screen.queryByRole("button", { name: /Play the recording/ })).toBeNull();
  });

  it("plays a voice's sound clip in an audio player, not as a picture", async () => {
    const r = record();
    const voice: StudentReview = { ...r, incidents: [{ ...r.incidents[0]!, kind: "voice_detected", evidence_sha256: "wav1" }, r.incidents[1]!] };
    setup(voice);
    await flush();
    await flush();
    const clip = document.querySelector<HTMLAudioElement>('[data-incident="i1"] audio');
    expect(clip?.getAttribute("src")).toBe("blob:test");
    expect(clip?.getAttribute("aria-label")).toMatch(/^Evidence: /);
    expect(clip?.hasAttribute("controls")).toBe(true);
    expect(screen.queryByRole("img", { name: /^Evidence: / })).toBeNull();
  });

  it("merges the record into one timeline by time, text as text, with the evidence from a blob URL revoked on leaving", async () => {
    const { view, photos } = setup();
    await flush();
    const kinds = [...document.querySelectorAll("[data-entry]")].map((e) => `${e.getAttribute("data-entry")}:${e.getAttribute("data-change") ?? e.getAttribute("data-incident") ?? e.getAttribute("data-action") ?? ""}`);
    expect(kinds).toEqual(["photo:", "transition:start", "incident:i1", "action:pause", "transition:pause", "chat:", "incident:i2", "transition:submit"]);
    expect(screen.getByRole("heading", { level: 2 }).textContent).toContain("Ada <b>L</b>");
    expect(document.querySelector(".rt--chat .rt__text")?.textContent).toBe("<img src=x onerror=alert(1)>");
    expect(document.querySelector(".rt--chat img")).toBeNull();
    expect(document.querySelector(".rs__session")?.textContent).toMatch(/Handed in at .* by the student/);
    expect(document.querySelector(".rs__accommodations")?.textContent).toMatch(/\+25% time · Note: Uses a screen reader/);
    expect(document.querySelector('[data-incident="i2"]')?.hasAttribute("data-during-pause")).toBe(true);
    expect(screen.getByRole("img", { name: /Evidence: No face/ }).getAttribute("src")).toBe("blob:test");
    expect(screen.getByRole("img", { name: /Recorded score over time: 2 points/ })).toBeTruthy();
    // The identity photo, from the student's identity endpoint, with the token.
    expect(screen.getByRole("img", { name: "Face photo of Ada <b>L</b>" }).getAttribute("src")).toBe("blob:test");
    expect(photos).toEqual(["s1/face"]);
    view.unmount();
    expect(revoke).toHaveBeenCalledTimes(2); // the evidence frame and the photo
  });

  it("n/p step through the incidents; c/d read the current one with its note; Escape leaves a note, then the page", async () => {
    const { readings, onBack, reads } = setup();
    await flush();
    await key("d");
    expect(readings).toHaveLength(0); // no incident picked yet
    expect(screen.getByRole("status").textContent).toMatch(/Pick an incident first/);
    await key("n");
    expect(active()?.dataset.incident).toBe("i1");
    await key("n");
    expect(active()?.dataset.incident).toBe("i2");
    await key("p");
    await key("n");
    const note = screen.getByLabelText(/Note on Left the tab/);
    note.focus();
    fireEvent.change(note, { target: { value: "  dnd typed in the note  " } });
    await key("d", note); // typing, not a command
    expect(readings).toHaveLength(0);
    await key("Escape", note);
    expect(onBack).not.toHaveBeenCalled();
    expect(active()?.dataset.incident).toBe("i2");
    await key("d", active()!);
    await flush();
    expect(readings).toEqual([{ incident: "i2", body: { verdict: "dismissed", note: "dnd typed in the note" } }]);
    expect(document.querySelector('[data-incident="i2"] .rt__reading')?.textContent).toMatch(/Dismissed by p1 at .*: dnd typed in the note/);
    expect(screen.getByLabelText<HTMLInputElement>(/Note on Left the tab/).value).toBe("");
    // c on the first one, without a note.
    await key("p");
    await key("c");
    await flush();
    expect(readings[1]).toEqual({ incident: "i1", body: { verdict: "confirmed" } });
    // The curve and priority follow with a quiet reload once the reviewer pauses.
    await act(() => new Promise((r) => setTimeout(r, 900)));
    expect(reads).toEqual(["s1", "s1"]);
    await key("Escape");
    expect(onBack).toHaveBeenCalledTimes(1);
  });

  describe("a long record", () => {
    // The timeline grows one task at a time: with the clock in the test's
    // hands, each step is exact, however loaded the machine is.
    beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }));
    afterEach(() => vi.useRealTimers());
    /** The record's answer (promises only), and no timer. */
    const answered = () =>
      act(async () => {
        for (let i = 0; i < 20; i += 1) await Promise.resolve();
      });
    /** One timer task, and what it rendered. */
    const nextTask = () => act(() => void vi.advanceTimersToNextTimer());
    const onPage = () => document.querySelectorAll("[data-incident]").length;
    const longRecord = (many: number) => {
      const long = { ...record(), identity_photos: [], transitions: [], actions: [], chat: [] };
      long.incidents = Array.from({ length: many }, (_, n) => ({
        id: `m${n}`, student_id: "s1", kind: "no_face" as const, source: "client" as const, started_at: T0 + n, accepted_at: T0 + n + 1,
      }));
      return long;
    };

    it("goes on in steps, the first screen at once; a key to an incident not on yet brings it and focuses it", async () => {
      const many = 2 * FIRST_ENTRIES + MORE_ENTRIES;
      setup(longRecord(many));
      await answered();
      expect(onPage()).toBe(FIRST_ENTRIES);
      expect(document.querySelector(".rt__list")?.getAttribute("aria-busy")).toBe("true");
      // p from nowhere goes to the last incident, which is not on the page yet.
      act(() => void fireEvent.keyDown(document.body, { key: "p" }));
      expect(active()?.dataset.incident).toBe(`m${many - 1}`);
      expect(onPage()).toBe(many);
      expect(document.querySelector(".rt__list")?.hasAttribute("aria-busy")).toBe(false);
    });

    it("grows to the whole record one task at a time", async () => {
      const many = FIRST_ENTRIES + 2 * MORE_ENTRIES;
      setup(longRecord(many));
      await answered();
      expect(onPage()).toBe(FIRST_ENTRIES);
      nextTask();
      expect(onPage()).toBe(FIRST_ENTRIES + MORE_ENTRIES);
      nextTask();
      expect(onPage()).toBe(many);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  it("needs a verdict and a note; a stale send reloads, says who decided, keeps the draft; the resend is based on theirs", async () => {
    const t = setup();
    await flush();
    const submit = screen.getByRole("button", { name: "Record decision" });
    fireEvent.click(submit);
    await flush();
    expect(screen.getByText("Choose a verdict.")).toBeTruthy();
    expect(screen.getByText(/Write a note/)).toBeTruthy();
    expect(t.decisions).toHaveLength(0);

    // Meanwhile p2 decides; this page still shows none, so it sends based_on 0 and is refused.
    const theirs: Decision = { version: 1, verdict: "violation", note: "Phone", reviewer: "p2", at: T0 + 3000 };
    t.setRecord({ ...record([theirs]), appeals: [{ decision_version: 1, text: "I was <i>alone</i>", at: T0 + 3500 }] });
    t.setDecide(() => Promise.reject(new ApiError(409, "stale_transition", "the decision changed")));
    fireEvent.click(screen.getByLabelText(/Concern/));
    fireEvent.change(screen.getByLabelText(/Note \(required/), { target: { value: "Looked away twice" } });
    fireEvent.click(submit);
    await flush();
    await flush();
    expect(t.decisions).toEqual([{ verdict: "concern", note: "Looked away twice", based_on: 0 }]);
    expect(document.querySelector('[data-notice="stale"]')?.textContent).toMatch(/someone else decided meanwhile — Violation by p2 .*version 1/);
    expect(document.querySelector(".rd__current")?.textContent).toMatch(/Violation by p2/);
    expect(screen.getByLabelText<HTMLTextAreaElement>(/Note \(required/).value).toBe("Looked away twice");
    expect(t.onDecided).not.toHaveBeenCalled();

    // Sent again: now based on their version; recorded; the way on is focused.
    t.setDecide((body) => Promise.resolve({ version: 2, verdict: body.verdict, note: body.note, reviewer: "p1", at: T0 + 6000, previous: "violation" }));
    fireEvent.click(screen.getByRole("button", { name: "Record the new decision" }));
    await flush();
    expect(t.decisions[1]).toEqual({ verdict: "concern", note: "Looked away twice", based_on: 1 });
    expect(t.onDecided).toHaveBeenCalledWith("s1", expect.objectContaining({ version: 2 }));
    expect([...document.querySelectorAll(".rd__history li")].map((li) => li.querySelector(".rd__change")?.textContent)).toEqual([
      "Violation → Concern",
      "— → Violation",
    ]);
    // The student's appeal shows under the version it answers, as text.
    expect(document.querySelector('[data-appeal="1"] .rd__note')?.textContent).toBe("I was <i>alone</i>");
    expect(document.querySelector("[data-appeal] i")).toBeNull();
    expect(active()?.textContent).toMatch(/Next undecided student: Bo/);
    fireEvent.click(active()!);
    expect(t.onOpen).toHaveBeenCalledWith("s2");
  });

  it("shows the server's message when it refuses", async () => {
    const t = setup();
    await flush();
    t.setDecide(() => Promise.reject(new ApiError(422, "invalid_payload", "note: at most 2,000 characters")));
    fireEvent.click(screen.getByLabelText(/No concern/));
    fireEvent.change(screen.getByLabelText(/Note \(required/), { target: { value: "ok" } });
    fireEvent.click(screen.getByRole("button", { name: "Record decision" }));
    await flush();
    expect(screen.getByText(/Not recorded — invalid_payload: note: at most 2,000 characters/)).toBeTruthy();
  });
});
