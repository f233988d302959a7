// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { ChatAck, ChatHistory, ChatMessage, ProctorChatSend } from "@proto";
import { ChatClient } from "../net/chat";
import { ScoreStore, ScoreStoreContext } from "../store/scoreStore";
import { demoId, demoSnapshot } from "../demo";
import { FakeProctorSocket } from "../test/socket";
import { ServicesContext, type Services } from "../services";
import { AnnouncePanel } from "./AnnouncePanel";
import { ChatSection } from "./Chat";

afterEach(cleanup);

const T0 = 1_700_000_000_000;
const flush = () => act(() => new Promise((r) => setTimeout(r, 0)));

function setup(history: ChatHistory = { messages: [], more: false }) {
  const store = new ScoreStore({ schedule: (cb) => cb() });
  store.loadSnapshot(demoSnapshot(2, T0));
  const socket = new FakeProctorSocket();
  const sent: ProctorChatSend[] = [];
  let seq = 100;
  socket.answer = (_event, payload) => {
    const p = payload as ProctorChatSend;
    sent.push(p);
    const message: ChatMessage = { seq: ++seq, id: p.id, from: "proctor", proctor_id: "p1", ...(p.student_id ? { student_id: p.student_id } : {}), text: p.text, at: T0 };
    return Promise.resolve({ status: "accepted", message } satisfies ChatAck);
  };
  const status = { getStatus: () => ({ kind: "live" as const, since: T0 }), subscribe: () => () => undefined };
  const chat = new ChatClient(socket.socket, status, { chat: () => Promise.resolve(history) });
  const services = { join: { token: "t", exam: "demo", subject: "p1" }, store, chat } as unknown as Services;
  const wrap = (ui: React.ReactNode) =>
    render(
      <ServicesContext value={services}>
        <ScoreStoreContext value={store}>{ui}</ScoreStoreContext>
      </ServicesContext>,
    );
  return { socket, chat, sent, wrap };
}

describe("the drawer's conversation", () => {
  it("shows text as text, tells senders apart, and each message once", async () => {
    const id = demoId(0);
    const first: ChatMessage = { seq: 1, id: "s-1", from: "student", student_id: id, text: "<img src=x onerror=alert(1)> hi\nline two", at: T0 };
    const { socket, chat, wrap } = setup({ messages: [first], more: false });
    wrap(<ChatSection id={id} name="Student 1" />);
    await flush();
    act(() => {
      socket.fire("chat", first); // the same message live as well
      socket.fire("chat", { seq: 2, id: "a-1", from: "proctor", proctor_id: "p2", text: "Ten minutes left", at: T0 });
      socket.fire("chat", { seq: 3, id: "p-9", from: "proctor", proctor_id: "p2", student_id: id, text: "Noted", at: T0 });
    });
    const items = document.querySelectorAll(".chat__msg");
    expect([...items].map((li) => li.getAttribute("data-from"))).toEqual(["student", "announcement", "proctor"]);
    expect(items[0]!.querySelector("img")).toBeNull();
    expect(items[0]!.querySelector(".chat__text")!.textContent).toBe("<img src=x onerror=alert(1)> hi\nline two");
    expect(items[0]!.textContent).toContain("Student 1");
    expect(items[1]!.textContent).toContain("Announcement to all students (p2)");
    expect(items[2]!.textContent).toContain("Proctor p2");
    // The drawer is open: nothing unread.
    expect(chat.store.unreadOf(id)).toBe(0);
  });

  it("Enter sends (trimmed), Shift+Enter does not; the count follows the text", async () => {
    const id = demoId(1);
    const { sent, wrap } = setup();
    wrap(<ChatSection id={id} name="Student 2" />);
    await flush();
    const box = screen.getByLabelText("Chat with Student 2");
    fireEvent.change(box, { target: { value: "Please  \n" } });
    expect(screen.getByText("6 / 1,000 characters")).toBeTruthy();
    fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
    expect(sent).toEqual([]);
    fireEvent.keyDown(box, { key: "Enter" });
    await flush();
    expect(sent).toEqual([{ id: expect.stringMatching(/^p-[0-9a-f]{24}$/) as string, student_id: id, text: "Please" }]);
    expect((box as HTMLTextAreaElement).value).toBe("");
    expect(document.querySelector(".chat__msg--proctor")!.textContent).toContain("You");
  });

  it("will not send more than 1,000 characters", async () => {
    const { sent, wrap } = setup();
    wrap(<ChatSection id={demoId(0)} name="Student 1" />);
    await flush();
    const box = screen.getByLabelText("Chat with Student 1");
    fireEvent.change(box, { target: { value: "x".repeat(1001) } });
    expect(screen.getByRole("alert").textContent).toMatch(/1 characters over/);
    expect(screen.getByRole("button", { name: "Send message" })).toHaveProperty("disabled", true);
    fireEvent.keyDown(box, { key: "Enter" });
    await flush();
    expect(sent).toEqual([]);
  });
});

describe("announcements", () => {
  it("ask for confirmation, then go without a student, and are listed", async () => {
    const { sent, wrap } = setup();
    wrap(<AnnouncePanel onClose={() => undefined} />);
    const box = screen.getByLabelText("Announcement to every student");
    fireEvent.change(box, { target: { value: "The exam ends in 10 minutes" } });
    fireEvent.keyDown(box, { key: "Enter" });
    expect(sent).toEqual([]);
    expect(screen.getByText("Send this to all 2 students?")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Yes, send announcement" }));
    await flush();
    expect(sent).toHaveLength(1);
    expect(sent[0]).not.toHaveProperty("student_id");
    expect(document.querySelector(".chat__msg--announcement")!.textContent).toContain("The exam ends in 10 minutes");
  });
});
