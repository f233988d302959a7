import { describe, expect, it, vi } from "vitest";
import type { ChatMessage } from "@proto";
import { ChatStore, mergeBySeq } from "./chatStore";

const T0 = 1_700_000_000_000;
const fromStudent = (seq: number, student = "s1", text = `m${seq}`): ChatMessage => ({ seq, id: `s-${seq}`, from: "student", student_id: student, text, at: T0 + seq });
const fromProctor = (seq: number, student = "s1"): ChatMessage => ({ seq, id: `p-${seq}`, from: "proctor", proctor_id: "p1", student_id: student, text: `r${seq}`, at: T0 + seq });
const announcement = (seq: number): ChatMessage => ({ seq, id: `a-${seq}`, from: "proctor", proctor_id: "p1", text: `all ${seq}`, at: T0 + seq });
const seqs = (ms: readonly ChatMessage[]) => ms.map((m) => m.seq);

describe("merge by seq", () => {
  it("orders by seq, keeps each seq once, and returns the same array when nothing is new", () => {
    const base = [fromStudent(2), fromStudent(5)];
    expect(seqs(mergeBySeq(base, [fromStudent(4), fromStudent(5), fromStudent(1), fromStudent(4)]))).toEqual([1, 2, 4, 5]);
    expect(mergeBySeq(base, [fromStudent(2)])).toBe(base);
    expect(mergeBySeq(base, [])).toBe(base);
  });
});

describe("the chat store", () => {
  it("shows a message once whichever way and order it arrives (live, history, the send's answer)", () => {
    const chat = new ChatStore();
    expect(chat.add(fromStudent(3))).toBe(true);
    chat.addHistory([fromStudent(1), fromProctor(2), fromStudent(3)]);
    expect(chat.add(fromStudent(3))).toBe(false);
    chat.add(fromProctor(4), false);
    expect(seqs(chat.conversation("s1"))).toEqual([1, 2, 3, 4]);
  });

  it("a conversation is the student's messages and every announcement, not another student's", () => {
    const chat = new ChatStore();
    chat.add(fromStudent(1, "s1"));
    chat.add(fromStudent(2, "s2"));
    chat.add(announcement(3));
    chat.add(fromProctor(4, "s1"));
    expect(seqs(chat.conversation("s1"))).toEqual([1, 3, 4]);
    expect(seqs(chat.conversation("s2"))).toEqual([2, 3]);
    expect(seqs(chat.conversation("nobody"))).toEqual([3]);
    expect(seqs(chat.getAnnouncements())).toEqual([3]);
  });

  it("keeps the same conversation array until it changes (a stable snapshot for React)", () => {
    const chat = new ChatStore();
    chat.add(fromStudent(1));
    const a = chat.conversation("s1");
    expect(chat.conversation("s1")).toBe(a);
    chat.add(fromStudent(2, "s2"));
    expect(chat.conversation("s1")).toBe(a);
    chat.add(announcement(3));
    expect(chat.conversation("s1")).not.toBe(a);
  });

  it("marks a live student message unread unless their conversation is on screen; opening it clears the mark", () => {
    const chat = new ChatStore();
    const tile = vi.fn();
    chat.subscribeUnread("s1", tile);
    chat.add(fromStudent(1));
    chat.add(fromStudent(2));
    expect(chat.unreadOf("s1")).toBe(2);
    expect(tile).toHaveBeenCalledTimes(2);
    // History, proctors' messages and announcements are not unread.
    chat.addHistory([fromStudent(0)]);
    chat.add(fromProctor(3));
    chat.add(announcement(4));
    expect(chat.unreadOf("s1")).toBe(2);
    chat.setViewing("s1");
    expect(chat.unreadOf("s1")).toBe(0);
    expect(tile).toHaveBeenCalledTimes(3);
    // While shown, new messages are read at once; another student's are not.
    chat.add(fromStudent(5));
    chat.add(fromStudent(6, "s2"));
    expect(chat.unreadOf("s1")).toBe(0);
    expect(chat.unreadOf("s2")).toBe(1);
    chat.setViewing(null);
    chat.add(fromStudent(7));
    expect(chat.unreadOf("s1")).toBe(1);
  });

  it("tells a conversation's listeners about its messages, announcements and load state only", () => {
    const chat = new ChatStore();
    const s1 = vi.fn();
    const un = chat.subscribeConversation("s1", s1);
    chat.add(fromStudent(1, "s2"));
    expect(s1).not.toHaveBeenCalled();
    chat.add(fromStudent(2, "s1"));
    chat.add(announcement(3));
    chat.setLoadState("s1", { kind: "loaded" });
    expect(s1).toHaveBeenCalledTimes(3);
    expect(chat.loadState("s1")).toEqual({ kind: "loaded" });
    expect(chat.loadState("s2")).toEqual({ kind: "idle" });
    un();
    chat.add(fromStudent(4, "s1"));
    expect(s1).toHaveBeenCalledTimes(3);
  });
});
