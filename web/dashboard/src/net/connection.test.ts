import { describe, expect, it } from "vitest";
import type { ExamSnapshot } from "@proto";
import { demoId, demoSnapshot } from "../demo";
import { manualFrames } from "../test/frames";
import { FakeProctorSocket } from "../test/socket";
import { ScoreStore } from "../store/scoreStore";
import { ApiError } from "./api";
import { Connection } from "./connection";
import { decodeJwtPayload, parseJoinFragment } from "./token";
import { IdentityQueue } from "../identity/queue";

const T0 = 1_700_000_000_000;

/** A snapshot source whose answers the test releases by hand. */
function deferredApi() {
  const waiting: { resolve: (s: ExamSnapshot) => void; reject: (e: unknown) => void }[] = [];
  return {
    calls: () => waiting.length,
    api: { snapshot: () => new Promise<ExamSnapshot>((resolve, reject) => waiting.push({ resolve, reject })) },
    answer: (i: number, s: ExamSnapshot) => waiting[i]!.resolve(s),
    fail: (i: number, e: unknown) => waiting[i]!.reject(e),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function withScore(snap: ExamSnapshot, id: string, seq: number, score: number): ExamSnapshot {
  const s = structuredClone(snap);
  s.students.find((x) => x.student.id === id)!.score = { seq, score, level: "ok", as_of: T0 + seq };
  return s;
}

function setup() {
  const frames = manualFrames();
  const store = new ScoreStore({ schedule: frames.schedule });
  const socket = new FakeProctorSocket();
  const api = deferredApi();
  const conn = new Connection(socket.socket, api.api, store, {}, 5);
  return { store, socket, api, conn, frames };
}

const score = (id: string, seq: number, value: number) => ({ student_id: id, emitted_at: T0 + seq, seq, score: value, level: "ok" as const, as_of: T0 + seq });

describe("reconnect sequence", () => {
  it("connect → snapshot over HTTP → buffered updates newer than the snapshot → live", async () => {
    const { store, socket, api, conn } = setup();
    expect(conn.status.kind).toBe("connecting");
    socket.fire("connect");
    expect(conn.status.kind).toBe("syncing");
    expect(api.calls()).toBe(1);
    // Updates arriving before the snapshot are held back…
    socket.fire("score", score(demoId(1), 4, 1)); // older than the snapshot's seq 5: dropped
    socket.fire("score", score(demoId(1), 6, 2)); // newer: applied
    socket.fire("score", score(demoId(2), 1, 3));
    expect(store.getStudent(demoId(1))).toBeUndefined();
    api.answer(0, withScore(demoSnapshot(3, T0), demoId(1), 5, 0.5));
    await tick();
    expect(conn.status.kind).toBe("live");
    expect(store.getStudent(demoId(1))!.score).toMatchObject({ seq: 6, score: 2 });
    expect(store.getStudent(demoId(2))!.score).toMatchObject({ seq: 1, score: 3 });
    // …and later ones apply directly.
    socket.fire("score", score(demoId(0), 1, 7));
    expect(store.getStudent(demoId(0))!.score.score).toBe(7);
  });

  it("a disconnect marks the data stale; updates before the next snapshot are not applied", async () => {
    const { store, socket, api, conn } = setup();
    socket.fire("connect");
    api.answer(0, demoSnapshot(3, T0));
    await tick();
    socket.fire("disconnect", "transport close");
    expect(conn.status).toEqual({ kind: "reconnecting", detail: "transport close" });
    socket.fire("score", score(demoId(0), 3, 9)); // a straggler: ignored
    expect(store.getStudent(demoId(0))!.score.seq).toBe(0);
    socket.fire("connect");
    expect(conn.status.kind).toBe("syncing");
    // The server restarted and the student moved on meanwhile: the snapshot wins,
    // then only newer updates apply.
    socket.fire("score", score(demoId(0), 10, 4));
    socket.fire("score", score(demoId(0), 12, 6));
    api.answer(1, withScore(demoSnapshot(3, T0), demoId(0), 11, 5));
    await tick();
    expect(conn.status.kind).toBe("live");
    expect(store.getStudent(demoId(0))!.score).toMatchObject({ seq: 12, score: 6 });
  });

  it("a snapshot answer for an earlier connection is ignored", async () => {
    const { store, socket, api, conn } = setup();
    socket.fire("connect");
    socket.fire("disconnect", "ping timeout");
    socket.fire("connect");
    api.answer(1, withScore(demoSnapshot(2, T0), demoId(0), 3, 3));
    await tick();
    api.answer(0, withScore(demoSnapshot(2, T0), demoId(0), 1, 1));
    await tick();
    expect(conn.status.kind).toBe("live");
    expect(store.getStudent(demoId(0))!.score.seq).toBe(3);
  });

  it("a failed snapshot is retried; a forbidden one refuses for good", async () => {
    const { socket, api, conn } = setup();
    socket.fire("connect");
    api.fail(0, new Error("network"));
    await tick();
    expect(conn.status.kind).toBe("reconnecting");
    await new Promise((r) => setTimeout(r, 20));
    expect(api.calls()).toBe(2);
    api.fail(1, new ApiError(403, "forbidden", "not a proctor of this exam"));
    await tick();
    expect(conn.status).toEqual({ kind: "refused", detail: "forbidden: not a proctor of this exam" });
    expect(socket.disconnects).toBe(1);
    socket.fire("disconnect", "io client disconnect");
    expect(conn.status.kind).toBe("refused");
  });

  it("a refused handshake is final; a server-side disconnect reconnects", () => {
    const a = setup();
    a.socket.fire("connect");
    a.socket.fire("disconnect", "io server disconnect");
    expect(a.socket.connects).toBe(1);
    const b = setup();
    b.socket.active = false;
    b.socket.fire("connect_error", new Error("invalid_token: bad signature"));
    expect(b.conn.status).toEqual({ kind: "refused", detail: "invalid_token: bad signature" });
  });

  it("actions: acked, rejected, or timed out", async () => {
    const { socket, api, conn } = setup();
    expect((await conn.action({ student_id: "s", kind: "warn" })).status).toBe("rejected");
    socket.fire("connect");
    api.answer(0, demoSnapshot(1, T0));
    await tick();
    socket.answer = (event, payload) =>
      Promise.resolve(event === "action" && (payload as { kind: string }).kind === "warn" ? { status: "ok" } : { status: "rejected", reason: "unknown_student", message: "no" });
    expect(await conn.action({ student_id: demoId(0), kind: "warn" })).toEqual({ status: "ok" });
    expect(await conn.action({ student_id: "x", kind: "pause" })).toMatchObject({ status: "rejected", reason: "unknown_student" });
    socket.answer = () => Promise.reject(new Error("operation has timed out"));
    expect(await conn.action({ student_id: demoId(0), kind: "warn" })).toMatchObject({ status: "rejected", reason: "unavailable" });
  });
});

describe("identity queue feed", () => {
  it("hands the snapshot, then the session changes buffered meanwhile, in order, to the hooks", async () => {
    const frames = manualFrames();
    const store = new ScoreStore({ schedule: frames.schedule });
    const socket = new FakeProctorSocket();
    const api = deferredApi();
    const queue = new IdentityQueue();
    const order: string[] = [];
    new Connection(socket.socket, api.api, store, {
      onSnapshot(snap) {
        order.push("snapshot");
        queue.loadSnapshot(snap);
      },
      onSession(u) {
        order.push(`${u.student_id}:${u.session.phase}`);
        queue.applySession(u);
      },
    });
    const session = (i: number, phase: "identity_check" | "ready") => ({
      student_id: demoId(i),
      session: { phase, closes_at: T0 + 1, breaks_left: 0, as_of: T0 + 10 },
    });
    socket.fire("connect");
    socket.fire("session", session(0, "identity_check"));
    socket.fire("session", session(1, "identity_check"));
    socket.fire("session", session(0, "ready"));
    const snap = demoSnapshot(3, T0);
    snap.students[2]!.session.phase = "identity_check";
    api.answer(0, snap);
    await tick();
    expect(order).toEqual(["snapshot", `${demoId(0)}:identity_check`, `${demoId(1)}:identity_check`, `${demoId(0)}:ready`]);
    expect(queue.get().map((x) => x.id)).toEqual([demoId(2), demoId(1)]);
    expect(store.getStudent(demoId(1))!.session).toBe("identity_check");
  });
});

describe("join link", () => {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const jwt = `${b64({ alg: "HS256" })}.${b64({ exam: "ex-1", sub: "p1", role: "proctor" })}.sig`;
  it("takes the exam from the token, or from the fragment", () => {
    expect(decodeJwtPayload(jwt)).toMatchObject({ exam: "ex-1", sub: "p1" });
    expect(parseJoinFragment(`#token=${jwt}`)).toEqual({ token: jwt, exam: "ex-1", subject: "p1" });
    expect(parseJoinFragment(`#token=${jwt}&exam=other`)).toMatchObject({ exam: "other" });
  });
  it("explains a missing or malformed token", () => {
    expect(parseJoinFragment("")).toHaveProperty("error");
    expect(parseJoinFragment("#token=nonsense")).toHaveProperty("error");
  });
});
