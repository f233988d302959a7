import { useEffect, useId, useLayoutEffect, useRef, useState } from "react";
import type { ChatMessage } from "@proto";
import { CHAT_MAX_CHARS, checkDraft, composerKey } from "../chat/text";
import { isAnnouncement, useConversation } from "../chat/chatStore";
import { useOutbox, type OutboxItem } from "../chat/outbox";
import { clock, useServices } from "../services";

/**
 * Chat pieces: the message list, the composer, and the drawer's
 * conversation section. Text is always rendered as React text nodes
 * (`white-space: pre-wrap` keeps its line breaks), never as HTML.
 */

/** Who a message is from, as the list heads it. */
function author(m: ChatMessage, me: string, studentName: (id: string) => string): string {
  const proctor = m.proctor_id === undefined ? "a proctor" : m.proctor_id === me ? "you" : m.proctor_id;
  if (isAnnouncement(m)) return `Announcement to all students (${proctor})`;
  if (m.from === "student") return m.student_id ? studentName(m.student_id) : "Student";
  return m.proctor_id === me ? "You" : `Proctor ${proctor}`;
}

const kindOf = (m: ChatMessage) => (isAnnouncement(m) ? "announcement" : m.from);

/**
 * Stored messages in seq order, then this page's own not yet stored (or
 * refused). A pending message whose id is already among the stored ones
 * (its answer was lost but its event came) is not shown twice.
 */
export function ChatLog({
  messages,
  pending,
  studentName,
  empty,
}: {
  messages: readonly ChatMessage[];
  pending: readonly OutboxItem[];
  studentName: (id: string) => string;
  empty: string;
}) {
  const { chat, join } = useServices();
  const listRef = useRef<HTMLOListElement>(null);
  const stored = new Set(messages.filter((m) => m.from === "proctor").map((m) => m.id));
  const waiting = pending.filter((p) => !stored.has(p.id));
  const count = messages.length + waiting.length;
  // Follow new messages, unless the proctor scrolled up to read older ones.
  const pinned = useRef(true);
  useLayoutEffect(() => {
    const el = listRef.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [count]);

  if (count === 0) return <p className="status">{empty}</p>;
  return (
    <ol
      ref={listRef}
      className="chat__list"
      aria-live="polite"
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {messages.map((m) => (
        <li key={m.seq} className={`chat__msg chat__msg--${kindOf(m)}`} data-seq={m.seq} data-from={kindOf(m)}>
          <div className="chat__meta">
            <strong>{author(m, join.subject, studentName)}</strong> <time>{clock(m.at)}</time>
          </div>
          <p className="chat__text">{m.text}</p>
        </li>
      ))}
      {waiting.map((p) => (
        <li
          key={p.id}
          className={`chat__msg chat__msg--${p.studentId === undefined ? "announcement" : "proctor"} chat__msg--${p.state.kind}`}
          data-pending={p.state.kind}
        >
          <div className="chat__meta">
            <strong>You</strong>{" "}
            {p.state.kind === "sending" && <span>sending…</span>}
            {p.state.kind === "waiting" && <span>not sent yet, trying again ({p.state.note})</span>}
            {p.state.kind === "refused" && (
              <span role="alert">
                ✗ Not sent: {p.state.message} ({p.state.reason}){" "}
                <button type="button" className="linkish" onClick={() => chat.outbox.dismiss(p.id)}>
                  Dismiss
                </button>
              </span>
            )}
          </div>
          <p className="chat__text">{p.text}</p>
        </li>
      ))}
    </ol>
  );
}

/**
 * A message box: Enter sends, Shift+Enter starts a new line; at most
 * 1,000 characters, counted as the server counts them. With `confirm`, a
 * send first asks that question inline (announcements reach everyone).
 */
export function ChatComposer({
  label,
  sendLabel = "Send message",
  confirm,
  onSend,
}: {
  label: string;
  sendLabel?: string;
  confirm?: string;
  onSend: (text: string) => void;
}) {
  const [draft, setDraft] = useState("");
  const [asking, setAsking] = useState<string | null>(null);
  const textRef = useRef<HTMLTextAreaElement>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const countId = useId();
  const d = checkDraft(draft);

  useEffect(() => {
    if (asking !== null) confirmRef.current?.focus();
  }, [asking]);

  const send = (text: string) => {
    onSend(text);
    setDraft("");
    setAsking(null);
    textRef.current?.focus();
  };
  const submit = () => {
    if (!d.ok) return;
    if (confirm) setAsking(d.text);
    else send(d.text);
  };

  return (
    <form
      className="chat__composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <textarea
        ref={textRef}
        aria-label={label}
        aria-describedby={countId}
        aria-invalid={d.problem ? true : undefined}
        rows={2}
        value={draft}
        placeholder="Enter sends · Shift+Enter: new line"
        onChange={(e) => {
          setDraft(e.target.value);
          setAsking(null);
        }}
        onKeyDown={(e) => {
          if (composerKey({ ...e, isComposing: e.nativeEvent.isComposing }) !== "send") return;
          e.preventDefault();
          submit();
        }}
      />
      <div className="chat__bar">
        <span id={countId} className={`chat__count${d.count > CHAT_MAX_CHARS ? " chat__count--over" : ""}`}>
          {d.count.toLocaleString("en")} / {CHAT_MAX_CHARS.toLocaleString("en")} characters
        </span>
        <button type="submit" disabled={!d.ok}>
          {sendLabel}
        </button>
      </div>
      {d.problem && (
        <p className="status status--error" role="alert">
          {d.problem}
        </p>
      )}
      {asking !== null && (
        <div className="chat__confirm" role="group" aria-label="Confirm">
          <span>{confirm}</span>
          <button ref={confirmRef} type="button" onClick={() => send(asking)}>
            Yes, {sendLabel.toLowerCase()}
          </button>
          <button
            type="button"
            onClick={() => {
              setAsking(null);
              textRef.current?.focus();
            }}
          >
            Cancel
          </button>
        </div>
      )}
    </form>
  );
}

/** The drawer's conversation with one student: history, live messages, and a reply box. */
export function ChatSection({ id, name }: { id: string; name: string }) {
  const { chat, store } = useServices();
  const { messages, load } = useConversation(chat.store, id);
  const outbox = useOutbox(chat.outbox);
  // While this drawer is open the conversation counts as read.
  useEffect(() => {
    void chat.open(id);
    return () => chat.close(id);
  }, [chat, id]);
  const studentName = (sid: string) => store.getStudent(sid)?.student.name ?? sid;
  return (
    <section aria-label="Conversation" className="drawer__chat">
      <h3>Conversation</h3>
      {load.kind === "loading" && <p className="status">Loading the conversation…</p>}
      {load.kind === "error" && (
        <p className="status status--error" role="alert">
          Could not load the conversation: {load.text}
        </p>
      )}
      <ChatLog
        messages={messages}
        pending={outbox.filter((p) => p.studentId === id)}
        studentName={studentName}
        empty={load.kind === "loading" ? "" : "No messages yet."}
      />
      <ChatComposer label={`Chat with ${name}`} onSend={(text) => chat.send(id, text)} />
    </section>
  );
}
