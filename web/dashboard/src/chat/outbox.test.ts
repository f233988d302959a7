import { describe, expect, it } from "vitest";
import type { ChatAck, ChatMessage, ProctorChatSend } from "@proto";
import { ChatOutbox, backoffMs, judge, type Timers } from "./outbox";

const stored = (p: ProctorChatSend, seq = 1): ChatMessage => ({
  seq,
  id: p.id,
  from: "proctor",
  proctor_id: "p1",
  ...(p.student_id ? { student_id: p.student_id } : {}),
  text: p.text,
  at: 1,
});

/** Timers a test fires by hand. */
function manualTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  const timers: Timers = {
    set: (fn, ms) => {
      pending.set(next, { fn, ms });
      return next++;
    },
    clear: (h) => {
      pending.delete(h as number);
    },
  };
  return {
    timers,
    delays: () => [...pending.values()].map((t) => t.ms),
    fire() {
      const all = [...pending.values()];
      pending.clear();
      for (const t of all) t.fn();
    },
  };
}

/** A server whose answers the test gives one by one. */
function server() {
  const calls: { payload: ProctorChatSend; resolve: (a: ChatAck) => void; reject: (e: Error) => void }[] = [];
  return {
    calls,
    send: (payload: ProctorChatSend) => new Promise<ChatAck>((resolve, reject) => calls.push({ payload, resolve, reject })),
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function setup() {
  const srv = server();
  const clock = manualTimers();
  const sent: ChatMessage[] = [];
  let n = 0;
  const outbox = new ChatOutbox(srv.send, { onSent: (m) => sent.push(m), timers: clock.timers, newId: () => `p-${++n}` });
  return { srv, clock, sent, outbox };
}

describe("judging an answer", () => {
  it("accepted and duplicate are sent; no answer, unavailable and rate_limited retry; the rest is final", () => {
    const m = stored({ id: "x", text: "t" });
    expect(judge({ status: "accepted", message: m }, 1)).toEqual({ t: "sent", message: m });
    expect(judge({ status: "duplicate", message: m }, 1)).toEqual({ t: "sent", message: m });
    expect(judge(null, 1)).toMatchObject({ t: "retry", afterMs: 500 });
    expect(judge(null, 3)).toMatchObject({ t: "retry", afterMs: 2000 });
    expect(judge({ status: "rejected", reason: "rate_limited", message: "slow down", retry_after_ms: 1234 }, 1)).toMatchObject({ t: "retry", afterMs: 1234 });
    expect(judge({ status: "rejected", reason: "unavailable", message: "busy" }, 2)).toMatchObject({ t: "retry", afterMs: 1000 });
    expect(judge({ status: "rejected", reason: "session_terminated", message: "ended" }, 1)).toEqual({
      t: "refused",
      reason: "session_terminated",
      message: "ended",
    });
    expect(backoffMs(100)).toBe(10_000);
  });
});

describe("the outbox", () => {
  it("retries a lost answer with the same id, and counts the server's duplicate as sent", async () => {
    const { srv, clock, sent, outbox } = setup();
    outbox.submit("s1", "hello");
    expect(srv.calls).toHaveLength(1);
    expect(srv.calls[0]!.payload).toEqual({ id: "p-1", student_id: "s1", text: "hello" });
    srv.calls[0]!.reject(new Error("operation has timed out"));
    await flush();
    expect(outbox.get()[0]!.state).toEqual({ kind: "waiting", note: "no answer from the server" });
    expect(clock.delays()).toEqual([500]);
    clock.fire();
    expect(srv.calls).toHaveLength(2);
    expect(srv.calls[1]!.payload).toEqual(srv.calls[0]!.payload);
    srv.calls[1]!.resolve({ status: "duplicate", message: stored(srv.calls[1]!.payload, 7) });
    await flush();
    expect(outbox.get()).toEqual([]);
    expect(sent.map((m) => m.seq)).toEqual([7]);
  });

  it("waits the server's retry_after_ms when rate limited, then sends the same message", async () => {
    const { srv, clock, outbox } = setup();
    outbox.submit(undefined, "to all");
    expect(srv.calls[0]!.payload).toEqual({ id: "p-1", text: "to all" });
    srv.calls[0]!.resolve({ status: "rejected", reason: "rate_limited", message: "one per 10 s", retry_after_ms: 9000 });
    await flush();
    expect(clock.delays()).toEqual([9000]);
    expect(outbox.get()[0]!.state).toMatchObject({ kind: "waiting", note: "rate_limited: one per 10 s" });
    clock.fire();
    expect(srv.calls[1]!.payload.id).toBe("p-1");
  });

  it("keeps a refusal with its message until dismissed, and moves on to the next message", async () => {
    const { srv, outbox } = setup();
    outbox.submit("s1", "one");
    outbox.submit("s1", "two");
    // One at a time per conversation: "two" waits for "one".
    expect(srv.calls).toHaveLength(1);
    srv.calls[0]!.resolve({ status: "rejected", reason: "session_terminated", message: "The student's exam has ended." });
    await flush();
    expect(outbox.get()[0]!.state).toEqual({ kind: "refused", reason: "session_terminated", message: "The student's exam has ended." });
    expect(srv.calls).toHaveLength(2);
    expect(srv.calls[1]!.payload.text).toBe("two");
    outbox.dismiss("p-1");
    expect(outbox.get().map((x) => x.id)).toEqual(["p-2"]);
  });

  it("sends to different conversations independently, in the order typed within each", async () => {
    const { srv, outbox } = setup();
    outbox.submit("s1", "a1");
    outbox.submit("s2", "b1");
    outbox.submit("s1", "a2");
    expect(srv.calls.map((c) => c.payload.text)).toEqual(["a1", "b1"]);
    srv.calls[1]!.resolve({ status: "accepted", message: stored(srv.calls[1]!.payload, 1) });
    await flush();
    expect(srv.calls).toHaveLength(2);
    srv.calls[0]!.resolve({ status: "accepted", message: stored(srv.calls[0]!.payload, 2) });
    await flush();
    expect(srv.calls.map((c) => c.payload.text)).toEqual(["a1", "b1", "a2"]);
  });

  it("retries at once when the connection is back instead of waiting out the delay", async () => {
    const { srv, clock, outbox } = setup();
    outbox.submit("s1", "hi");
    srv.calls[0]!.resolve({ status: "rejected", reason: "unavailable", message: "not connected" });
    await flush();
    expect(clock.delays()).toHaveLength(1);
    outbox.retryNow();
    expect(clock.delays()).toHaveLength(0);
    expect(srv.calls).toHaveLength(2);
    expect(srv.calls[1]!.payload.id).toBe("p-1");
    // Nothing is sent twice at the same time.
    outbox.retryNow();
    expect(srv.calls).toHaveLength(2);
  });
});
