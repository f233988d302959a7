import { describe, expect, it } from "vitest";
import type { ChatHistory, ChatMessage } from "@proto";
import { ChatLog, MAX_CHAT_CHARS, SYNC_RETRY_MS, checkChatText, syncChat, type ChatLine, type SyncIo } from "../../src/chat.ts";

const proctor = (seq: number, text = `p${seq}`): ChatMessage => ({ seq, id: `p-${seq}`, from: "proctor", proctor_id: "p1", student_id: "s1", text, at: seq });
const announcement = (seq: number, text = `a${seq}`): ChatMessage => ({ seq, id: `a-${seq}`, from: "proctor", proctor_id: "p1", text, at: seq });
const mine = (seq: number, id: string, text = id): ChatMessage => ({ seq, id, from: "student", student_id: "s1", text, at: seq });

const log_ = () => {
  const log = new ChatLog();
  log.student = "s1";
  return log;
};

/** The lines as short strings: `seq:text` for stored ones, `[state]text` for local ones. */
const show = (lines: ChatLine[]) => lines.map((l) => (l.kind === "stored" ? `${l.message.seq}:${l.message.text}` : `[${l.local.state}]${l.local.text}`));

describe("ChatLog", () => {
  it("shows each message once by seq, whatever order and however often it arrives", () => {
    const log = log_();
    expect(log.add([proctor(5), announcement(2)], "live").map((m) => m.seq)).toEqual([5, 2]);
    expect(log.add([announcement(2), proctor(3), proctor(5)], "sync").map((m) => m.seq)).toEqual([3]);
    expect(log.add([proctor(3)], "live")).toEqual([]);
    expect(show(log.lines())).toEqual(["2:a2", "3:p3", "5:p5"]);
    expect(log.highestSeq()).toBe(5);
  });

  it("marks announcements and the student's own messages", () => {
    const log = log_();
    log.add([announcement(1), proctor(2), mine(3, "m1")], "live");
    expect(log.lines().map((l) => (l.kind === "stored" ? [l.announcement, l.mine] : null))).toEqual([
      [true, false],
      [false, false],
      [false, true],
    ]);
  });

  it("never shows another student's conversation", () => {
    const log = log_();
    expect(log.add([{ ...proctor(1), student_id: "s2" }], "live")).toEqual([]);
    expect(log.lines()).toEqual([]);
  });

  it("a message being sent shows at the bottom until the server has it, then in its place, once", () => {
    const log = log_();
    log.add([proctor(1)], "live");
    log.queued("m1", "Question?");
    log.queued("m2", "And another");
    log.add([proctor(2)], "live");
    expect(show(log.lines())).toEqual(["1:p1", "2:p2", "[sending]Question?", "[sending]And another"]);
    // The live echo and the ack both carry it: once.
    log.add([mine(3, "m1", "Question?")], "live");
    log.add([mine(3, "m1", "Question?")], "live");
    expect(show(log.lines())).toEqual(["1:p1", "2:p2", "3:Question?", "[sending]And another"]);
    // Already stored (a reload whose outbox still held it, its ack lost): not queued again.
    log.queued("m1", "Question?");
    expect(show(log.lines())).toEqual(["1:p1", "2:p2", "3:Question?", "[sending]And another"]);
  });

  it("a refused message stays where it was written, with the server's words, until dismissed", () => {
    const log = log_();
    log.add([proctor(1)], "live");
    log.queued("m1", "x".repeat(10));
    log.failed("m1", "session_terminated", "the session was terminated");
    log.add([proctor(4), announcement(2)], "live");
    expect(show(log.lines())).toEqual(["1:p1", "[failed]xxxxxxxxxx", "2:a2", "4:p4"]);
    expect(log.localMessage("m1")).toMatchObject({ state: "failed", reason: "session_terminated", error: "the session was terminated", after: 1 });
    log.forget("m1");
    expect(show(log.lines())).toEqual(["1:p1", "2:a2", "4:p4"]);
    // Refused before any message: at the top.
    const empty = log_();
    empty.queued("m", "hi");
    empty.failed("m", "invalid_payload", "bad");
    empty.add([proctor(1)], "live");
    expect(show(empty.lines())).toEqual(["[failed]hi", "1:p1"]);
  });

  it("counts unread proctor messages and announcements, never the student's own, from a kept read mark", () => {
    const log = new ChatLog(2);
    log.add([proctor(1), announcement(2), proctor(3), mine(4, "m"), announcement(5)], "sync");
    expect(log.unread()).toBe(2);
    expect(log.markRead()).toBe(5);
    expect(log.unread()).toBe(0);
    log.add([proctor(6)], "live");
    expect(log.unread()).toBe(1);
    // The mark never goes back.
    expect(new ChatLog(9).markRead()).toBe(9);
  });

  it("the sync point: sync answers move it; live messages only once their connection is synced", () => {
    const log = log_();
    expect(log.syncPoint()).toBe(0);
    // Before the first sync, a live message shows but the history before it is still to come.
    log.add([proctor(7)], "live");
    expect(log.syncPoint()).toBe(0);
    log.add([proctor(3), proctor(7)], "sync");
    expect(log.syncPoint()).toBe(7);
    log.syncDone();
    log.add([proctor(9)], "live");
    expect(log.syncPoint()).toBe(9);
    // The connection drops: what arrives next, until synced again, does not move it.
    log.unsynced();
    log.add([proctor(12)], "live");
    expect(log.syncPoint()).toBe(9);
    expect(log.highestSeq()).toBe(12);
  });
});

describe("checkChatText", () => {
  it("counts characters as the server does, trims, and keeps line breaks and tabs", () => {
    expect(checkChatText("  Hello\r\nthere\tyou  ")).toEqual({ text: "Hello\nthere\tyou", length: 15, problem: null });
    expect(checkChatText("😀".repeat(MAX_CHAT_CHARS))).toMatchObject({ length: MAX_CHAT_CHARS, problem: null });
    expect(checkChatText("a".repeat(MAX_CHAT_CHARS + 1))).toMatchObject({ length: MAX_CHAT_CHARS + 1, problem: "too_long" });
    expect(checkChatText(" \n\t ").problem).toBe("empty");
  });

  it("removes control characters the server refuses", () => {
    expect(checkChatText("bell\u0007 esc\u001b[31m nul\u0000 c1\u0085").text).toBe("bell esc[31m nul c1");
    expect(checkChatText("\u0007").problem).toBe("empty");
    // Markup is text like any other.
    expect(checkChatText("<b>hi</b>").text).toBe("<b>hi</b>");
  });
});

/** A scripted server for chat_sync: answers in order, records what was asked. */
function scripted(answers: Array<ChatHistory | "down">) {
  const asked: number[] = [];
  const waited: number[] = [];
  const io: SyncIo = {
    ask(after) {
      asked.push(after);
      const a = answers.shift();
      if (a === undefined) return Promise.reject(new Error("nothing scripted"));
      return a === "down" ? Promise.reject(new Error("timeout")) : Promise.resolve(a);
    },
    wait(ms) {
      waited.push(ms);
      return Promise.resolve();
    },
  };
  return { io, asked, waited };
}

describe("syncChat", () => {
  it("asks from 0 on a fresh page, follows `more` from the last seq, and then counts as synced", async () => {
    const log = log_();
    const { io, asked } = scripted([
      { messages: [proctor(1), announcement(2)], more: true },
      { messages: [proctor(4)], more: false },
    ]);
    const got: number[][] = [];
    expect(await syncChat(io, log, () => true, (f) => got.push(f.map((m) => m.seq)))).toBe(true);
    expect(asked).toEqual([0, 2]);
    expect(got).toEqual([[1, 2], [4]]);
    expect(log.syncPoint()).toBe(4);
    log.add([proctor(5)], "live");
    expect(log.syncPoint()).toBe(5);
  });

  it("after a reconnect asks after what it has; messages that also came live show once", async () => {
    const log = log_();
    log.add([proctor(1), proctor(2)], "sync");
    log.syncDone();
    log.unsynced(); // the socket dropped
    log.add([proctor(6)], "live"); // came on the new connection before the sync answer
    const { io, asked } = scripted([{ messages: [announcement(4), proctor(6)], more: false }]);
    const got: number[][] = [];
    await syncChat(io, log, () => true, (f) => got.push(f.map((m) => m.seq)));
    expect(asked).toEqual([2]);
    expect(got).toEqual([[4]]);
    expect(show(log.lines())).toEqual(["1:p1", "2:p2", "4:a4", "6:p6"]);
  });

  it("asks the same again after retry_after_ms when rate limited, and after a while when no answer came", async () => {
    const log = log_();
    const { io, asked, waited } = scripted([
      { messages: [], more: true, retry_after_ms: 700 },
      "down",
      { messages: [proctor(3)], more: false },
    ]);
    expect(await syncChat(io, log, () => true, () => undefined)).toBe(true);
    expect(asked).toEqual([0, 0, 0]);
    expect(waited).toEqual([700, SYNC_RETRY_MS]);
  });

  it("stops when a newer welcome started another sync, and does not count as synced", async () => {
    const log = log_();
    let current = true;
    const { io, asked } = scripted([{ messages: [proctor(1)], more: true }, { messages: [proctor(2)], more: false }]);
    const ask = io.ask.bind(io);
    io.ask = async (after) => {
      const a = await ask(after);
      current = false; // the newer sync takes over while this answer was on its way
      return a;
    };
    expect(await syncChat(io, log, () => current, () => undefined)).toBe(false);
    expect(asked).toEqual([0]);
    log.add([proctor(9)], "live");
    expect(log.syncPoint()).toBe(0);
  });

  it("`more` with nothing to go on from waits before asking again instead of spinning", async () => {
    const log = log_();
    const { io, asked, waited } = scripted([{ messages: [], more: true }, { messages: [], more: false }]);
    expect(await syncChat(io, log, () => true, () => undefined)).toBe(true);
    expect(asked).toEqual([0, 0]);
    expect(waited).toEqual([SYNC_RETRY_MS]);
  });
});
