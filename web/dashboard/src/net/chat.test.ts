import { describe, expect, it } from "vitest";
import type { ChatAck, ChatHistory, ChatMessage } from "@proto";
import { FakeProctorSocket } from "../test/socket";
import type { Listener } from "../store/scoreStore";
import { ApiError } from "./api";
import { ChatClient, fetchHistory } from "./chat";
import type { ConnectionStatus } from "./connection";

const T0 = 1_700_000_000_000;
const msg = (seq: number, over: Partial<ChatMessage> = {}): ChatMessage => ({ seq, id: `m${seq}`, from: "student", student_id: "s1", text: `t${seq}`, at: T0 + seq, ...over });
const page = (seqs: number[], more: boolean, retry_after_ms?: number): ChatHistory => ({
  messages: seqs.map((s) => msg(s)),
  more,
  ...(retry_after_ms !== undefined ? { retry_after_ms } : {}),
});
const flush = () => new Promise((r) => setTimeout(r, 0));
const noWait = () => Promise.resolve();

describe("history pages", () => {
  it("follows `more` from the last seq of each page", async () => {
    const asked: number[] = [];
    const pages = [page([3, 4], true), page([7], true), page([], false)];
    const got = await fetchHistory((after) => (asked.push(after), Promise.resolve(pages.shift()!)), 2);
    expect(asked).toEqual([2, 4, 7]);
    expect(got.messages.map((m) => m.seq)).toEqual([3, 4, 7]);
    expect(got.last).toBe(7);
  });

  it("asks the same page again after retry_after_ms, or after an HTTP rate_limited refusal", async () => {
    const asked: number[] = [];
    const waited: number[] = [];
    const answers: (ChatHistory | Error)[] = [page([], true, 800), new ApiError(429, "rate_limited", "slow", 1500), page([1], false)];
    const got = await fetchHistory(
      (after) => {
        asked.push(after);
        const a = answers.shift()!;
        return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
      },
      0,
      (ms) => (waited.push(ms), Promise.resolve()),
    );
    expect(asked).toEqual([0, 0, 0]);
    expect(waited).toEqual([800, 1500]);
    expect(got).toMatchObject({ last: 1 });
  });

  it("gives up on other errors, and after too many waits", async () => {
    await expect(fetchHistory(() => Promise.reject(new ApiError(403, "forbidden", "no")), 0)).rejects.toThrow(/forbidden/);
    await expect(fetchHistory(() => Promise.resolve(page([], true, 1)), 0, noWait, 3)).rejects.toThrow(/wait/);
  });
});

/** A connection whose status the test sets. */
function status() {
  let s: ConnectionStatus = { kind: "live", since: T0 };
  const ls = new Set<Listener>();
  return {
    getStatus: () => s,
    subscribe: (l: Listener) => (ls.add(l), () => ls.delete(l)),
    set(next: ConnectionStatus) {
      s = next;
      for (const l of ls) l();
    },
  };
}

function setup() {
  const socket = new FakeProctorSocket();
  const conn = status();
  const asked: { student: string; after: number }[] = [];
  const history: Record<string, ChatHistory[]> = {};
  const api: { chat: (student: string, after: number) => Promise<ChatHistory> } = {
    chat: (student, after) => {
      asked.push({ student, after });
      return Promise.resolve(history[student]?.shift() ?? page([], false));
    },
  };
  let n = 0;
  const client = new ChatClient(socket.socket, conn, api, { newId: () => `p-${++n}`, wait: noWait });
  return { socket, conn, asked, history, client, api };
}

describe("the chat client", () => {
  it("merges a drawer's history with live events that overlap it: each message once, in seq order", async () => {
    const { socket, history, client } = setup();
    history.s1 = [page([1, 2, 3], false)];
    socket.fire("chat", msg(3)); // live, before the history answer
    const opened = client.open("s1");
    socket.fire("chat", msg(4)); // live, while it loads
    await opened;
    socket.fire("chat", msg(2)); // a straggler already in the history
    expect(client.store.conversation("s1").map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(client.store.loadState("s1")).toEqual({ kind: "loaded" });
  });

  it("the open drawer reads live messages; a closed one leaves an unread mark", async () => {
    const { socket, client } = setup();
    await client.open("s1");
    socket.fire("chat", msg(1));
    expect(client.store.unreadOf("s1")).toBe(0);
    client.close("s1");
    socket.fire("chat", msg(2));
    expect(client.store.unreadOf("s1")).toBe(1);
    await client.open("s1");
    expect(client.store.unreadOf("s1")).toBe(0);
  });

  it("loads again from where it stopped after a reconnect, and resends what waited", async () => {
    const { socket, conn, asked, history, client } = setup();
    history.s1 = [page([1, 2], false), page([5], false)];
    await client.open("s1");
    socket.answer = () => Promise.reject(new Error("operation has timed out"));
    client.send("s1", "are you there?");
    await flush();
    expect(client.outbox.get()[0]!.state.kind).toBe("waiting");
    conn.set({ kind: "reconnecting", detail: "transport close" });
    let resent: unknown;
    socket.answer = (_event, payload) => {
      resent = payload;
      return Promise.resolve({ status: "accepted", message: msg(6, { from: "proctor", proctor_id: "p1", id: "p-1", text: "are you there?" }) } satisfies ChatAck);
    };
    conn.set({ kind: "live", since: T0 + 1 });
    await flush();
    await flush();
    expect(asked).toEqual([
      { student: "s1", after: 0 },
      { student: "s1", after: 2 },
    ]);
    expect(resent).toEqual({ id: "p-1", student_id: "s1", text: "are you there?" });
    expect(client.outbox.get()).toEqual([]);
    expect(client.store.conversation("s1").map((m) => m.seq)).toEqual([1, 2, 5, 6]);
  });

  it("does not emit while the connection is not live (the outbox waits)", async () => {
    const { socket, conn, client } = setup();
    conn.set({ kind: "syncing" });
    client.send(undefined, "to all");
    await flush();
    expect(socket.emitted).toEqual([]);
    expect(client.outbox.get()[0]!.state).toMatchObject({ kind: "waiting", note: "unavailable: not connected" });
  });

  it("says why a history could not load", async () => {
    const { client, api } = setup();
    api.chat = () => Promise.reject(new ApiError(403, "forbidden", "not your exam"));
    await client.open("s9");
    expect(client.store.loadState("s9")).toEqual({ kind: "error", text: "forbidden: not your exam" });
  });
});
