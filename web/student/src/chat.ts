// Chat with the proctors, without the DOM: the student's conversation and
// the exam's announcements merged by the server's `seq` (so a message that
// arrives live, in a sync answer and as the ack of the student's own send
// is shown exactly once), the student's messages still in the outbox
// ("sending…") or refused, the unread count, and the sync after each
// welcome. screens/chat.ts draws it; the outbox (outbox.ts) sends.

import type { ChatHistory, ChatMessage } from "@proto";

/** The longest message, in characters (Unicode scalar values, as the server counts). */
export const MAX_CHAT_CHARS = 1000;

/** A message of this student that the server has not stored (yet). */
export interface LocalMessage {
  readonly id: string;
  readonly text: string;
  readonly state: "sending" | "failed";
  /** With `failed`: the server's reason and words. */
  readonly reason?: string;
  readonly error?: string;
  /** With `failed`: the seq it was refused after, which keeps it where it was written. */
  readonly after?: number;
}

export type ChatLine =
  | {
      kind: "stored";
      message: ChatMessage;
      /** Written by this student (on this page or another). */
      mine: boolean;
      /** To every student of the exam. */
      announcement: boolean;
    }
  | { kind: "local"; local: LocalMessage };

/**
 * The conversation as this page knows it. Messages are keyed by `seq`, the
 * server's order of the exam's messages, which never repeats.
 *
 * The sync point (what `chat_sync` asks after) is the highest seq up to
 * which the page is known to have every message: a sync answer moves it,
 * and so does a live message, but only once the connection it came on has
 * been synced. A live message that arrives before its connection's sync
 * answer (a proctor wrote while the page reconnected) is shown at once, yet
 * does not move the point past messages that the sync has still to bring.
 */
export class ChatLog {
  private readonly stored = new Map<number, ChatMessage>();
  /** Insertion order is the order the student wrote them in. */
  private readonly local = new Map<string, LocalMessage>();
  private point = 0;
  private synced = false;

  /** The student this page is, from the welcome (until then, messages are taken as the server sends them). */
  student: string | null = null;

  constructor(
    /** The highest seq the student has seen (kept across reloads by the page). */
    private readThrough = 0,
  ) {}

  /**
   * Messages from the server: live `chat` events, a sync answer, or the ack
   * of the student's own. Returns those not shown before. A stored message
   * of this student replaces its local copy.
   */
  add(messages: readonly ChatMessage[], source: "live" | "sync"): ChatMessage[] {
    const fresh: ChatMessage[] = [];
    for (const m of messages) {
      // Another student's conversation never reaches this page; refuse it anyway.
      if (m.student_id !== undefined && this.student !== null && m.student_id !== this.student) continue;
      if (m.from === "student") this.local.delete(m.id);
      if (source === "sync" || this.synced) this.point = Math.max(this.point, m.seq);
      if (this.stored.has(m.seq)) continue;
      this.stored.set(m.seq, m);
      fresh.push(m);
    }
    return fresh;
  }

  /** A message the student wrote, now in the outbox. */
  queued(id: string, text: string): void {
    if ([...this.stored.values()].some((m) => m.from === "student" && m.id === id)) return;
    this.local.set(id, { id, text, state: "sending" });
  }

  /** The server refused it for good (not a rate limit or an outage: those are retried). */
  failed(id: string, reason: string, error: string): void {
    const l = this.local.get(id);
    if (!l) return;
    this.local.set(id, { id, text: l.text, state: "failed", reason, error, after: this.highestSeq() });
  }

  /** A refused message the student dismissed (or sent again under a new id). */
  forget(id: string): void {
    this.local.delete(id);
  }

  localMessage(id: string): LocalMessage | undefined {
    return this.local.get(id);
  }

  /** A sync starts (each welcome) or the connection dropped: live messages stop moving the sync point. */
  unsynced(): void {
    this.synced = false;
  }

  /** The sync reached the server's latest message: live ones move the sync point again. */
  syncDone(): void {
    this.synced = true;
  }

  /** What `chat_sync` asks after: 0 until the first sync brought the history. */
  syncPoint(): number {
    return this.point;
  }

  highestSeq(): number {
    let top = 0;
    for (const seq of this.stored.keys()) top = Math.max(top, seq);
    return top;
  }

  /**
   * Oldest first, the newest at the bottom: stored messages by seq; a
   * refused message where it was written; messages still sending last, in
   * the order they were written.
   */
  lines(): ChatLine[] {
    const stored = [...this.stored.values()].sort((a, b) => a.seq - b.seq);
    const locals = [...this.local.values()];
    const failed = locals.filter((l) => l.state === "failed").sort((a, b) => (a.after ?? 0) - (b.after ?? 0));
    const out: ChatLine[] = [];
    const placeFailed = (upTo: number) => {
      while (failed.length > 0 && (failed[0]?.after ?? 0) <= upTo) out.push({ kind: "local", local: failed.shift()! });
    };
    placeFailed(0);
    for (const m of stored) {
      out.push({ kind: "stored", message: m, mine: m.from === "student", announcement: m.student_id === undefined });
      placeFailed(m.seq);
    }
    for (const l of failed) out.push({ kind: "local", local: l });
    for (const l of locals) if (l.state === "sending") out.push({ kind: "local", local: l });
    return out;
  }

  /** Proctors' messages and announcements the student has not seen. */
  unread(): number {
    let n = 0;
    for (const m of this.stored.values()) if (m.from === "proctor" && m.seq > this.readThrough) n++;
    return n;
  }

  /** The student sees the conversation: everything so far is read. Returns the new read mark. */
  markRead(): number {
    this.readThrough = Math.max(this.readThrough, this.highestSeq());
    return this.readThrough;
  }
}

export type TextCheck = { text: string; length: number; problem: null | "empty" | "too_long" };

/**
 * What the text box would send: line breaks as `\n`, other control
 * characters (which the server refuses, and which only hide or garble what
 * proctors read) removed, blanks around trimmed. `length` counts
 * characters as the server does, not UTF-16 units (an emoji is one).
 */
export function checkChatText(raw: string): TextCheck {
  const text = raw
    .replace(/\r\n?/g, "\n")
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "")
    .trim();
  const length = [...text].length;
  const problem = length === 0 ? "empty" : length > MAX_CHAT_CHARS ? "too_long" : null;
  return { text, length, problem };
}

/** The I/O a sync needs: `ask` rejects when the socket is down or no answer comes. */
export interface SyncIo {
  ask(after: number): Promise<ChatHistory>;
  wait(ms: number): Promise<void>;
}

/** How long a sync waits before asking again after no answer (the socket may be reconnecting). */
export const SYNC_RETRY_MS = 2000;

/**
 * The sync after a welcome: asks for the messages after the sync point,
 * page by page while the server says `more`, again after `retry_after_ms`
 * when it was asked too often, and again after a while when no answer came.
 * `current` turns false once a newer welcome started another sync (or the
 * page stopped), which ends this one. `got` is called with the messages
 * each answer added. Resolves with whether it reached the server's latest.
 */
export async function syncChat(io: SyncIo, log: ChatLog, current: () => boolean, got: (fresh: ChatMessage[]) => void): Promise<boolean> {
  log.unsynced();
  let after = log.syncPoint();
  while (current()) {
    let h: ChatHistory;
    try {
      h = await io.ask(after);
    } catch {
      await io.wait(SYNC_RETRY_MS);
      continue;
    }
    if (!current()) break;
    if (h.retry_after_ms !== undefined && h.messages.length === 0) {
      await io.wait(h.retry_after_ms);
      continue;
    }
    const fresh = log.add(h.messages, "sync");
    if (fresh.length > 0) got(fresh);
    const last = h.messages.at(-1)?.seq;
    if (h.more) {
      // `more` without a message to go on from would ask the same for ever: wait first.
      if (last === undefined || last <= after) await io.wait(SYNC_RETRY_MS);
      else after = last;
      continue;
    }
    log.syncDone();
    return true;
  }
  return false;
}
