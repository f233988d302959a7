/**
 * The proctor's messages on their way to the server.
 *
 * A message gets its id once, when the proctor sends it, and keeps it
 * through every retry: the id is the server's idempotency key, so a resend
 * after a lost answer is stored once (the server answers `duplicate`,
 * which counts as sent). Retried: no answer (a timeout, or the socket
 * down), `unavailable` and `rate_limited` (after the server's
 * `retry_after_ms` when it gives one). Any other refusal is final and its
 * message stays on screen until dismissed.
 *
 * Messages to one conversation go one at a time, in the order typed, so a
 * retried message is not overtaken by the next one; conversations do not
 * wait for each other. Kept in memory only: a proctor's page is not closed
 * on a message the way a student's may be (the student's page keeps its
 * outbox in IndexedDB).
 */
import { useSyncExternalStore } from "react";
import type { ChatAck, ChatMessage, ProctorChatSend, RejectReason } from "@proto";
import type { Listener } from "../store/scoreStore";
import { newChatId } from "./text";

export type Verdict =
  | { t: "sent"; message: ChatMessage }
  | { t: "retry"; afterMs: number; note: string }
  | { t: "refused"; reason: RejectReason; message: string };

/** Reasons the same message may succeed later. */
const RETRYABLE: ReadonlySet<RejectReason> = new Set(["unavailable", "rate_limited"]);

export const RETRY_MAX_MS = 10_000;

/** 0.5 s, 1 s, 2 s, … up to 10 s between attempts the server gave no delay for. */
export function backoffMs(attempt: number): number {
  return Math.min(500 * 2 ** Math.max(0, attempt - 1), RETRY_MAX_MS);
}

/** What to do after attempt number `attempt` got `answer` (null: none came). */
export function judge(answer: ChatAck | null, attempt: number): Verdict {
  if (answer === null) return { t: "retry", afterMs: backoffMs(attempt), note: "no answer from the server" };
  switch (answer.status) {
    case "accepted":
    case "duplicate":
      return { t: "sent", message: answer.message };
    case "rejected":
      if (RETRYABLE.has(answer.reason)) {
        return { t: "retry", afterMs: answer.retry_after_ms ?? backoffMs(attempt), note: `${answer.reason}: ${answer.message}` };
      }
      return { t: "refused", reason: answer.reason, message: answer.message };
  }
}

export type OutboxState =
  | { kind: "sending" }
  /** Waiting to try again (`note` says why the last attempt failed). */
  | { kind: "waiting"; note: string }
  | { kind: "refused"; reason: RejectReason; message: string };

export interface OutboxItem {
  readonly id: string;
  /** Absent: an announcement. */
  readonly studentId: string | undefined;
  readonly text: string;
  readonly attempts: number;
  readonly state: OutboxState;
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface OutboxOptions {
  /** Called with the stored message once the server has it. */
  onSent?(message: ChatMessage): void;
  newId?: () => string;
  timers?: Timers;
}

/** Emits one `chat` and resolves with the answer; rejects when none comes. */
export type SendChat = (payload: ProctorChatSend) => Promise<ChatAck>;

/** The conversation an item is queued in. */
const keyOf = (studentId: string | undefined) => studentId ?? "";

export class ChatOutbox {
  private items: readonly OutboxItem[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly inFlight = new Set<string>();
  private readonly timers = new Map<string, unknown>();
  private readonly t: Timers;

  constructor(
    private readonly send: SendChat,
    private readonly opts: OutboxOptions = {},
  ) {
    this.t = opts.timers ?? realTimers;
  }

  /** Messages not yet stored, and refused ones, oldest first. */
  get = (): readonly OutboxItem[] => this.items;

  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  /** Queues `text` for `studentId` (undefined: an announcement) under a new id, and sends it when its turn comes. */
  submit(studentId: string | undefined, text: string): OutboxItem {
    const item: OutboxItem = { id: (this.opts.newId ?? newChatId)(), studentId, text, attempts: 0, state: { kind: "sending" } };
    this.set([...this.items, item]);
    this.pump(keyOf(studentId));
    return item;
  }

  /** Forgets a refused message. */
  dismiss(id: string): void {
    const item = this.items.find((x) => x.id === id);
    if (item?.state.kind === "refused") this.set(this.items.filter((x) => x !== item));
  }

  /** The connection is back: messages waiting for their next attempt go now. */
  retryNow(): void {
    for (const [id, handle] of this.timers) {
      this.t.clear(handle);
      this.timers.delete(id);
    }
    for (const key of new Set(this.items.map((x) => keyOf(x.studentId)))) this.pump(key);
  }

  /** Starts the first unsent item of `key` unless it is already under way or waiting. */
  private pump(key: string): void {
    const head = this.items.find((x) => keyOf(x.studentId) === key && x.state.kind !== "refused");
    if (!head || this.inFlight.has(head.id) || this.timers.has(head.id)) return;
    void this.attempt(head.id);
  }

  private async attempt(id: string): Promise<void> {
    const before = this.items.find((x) => x.id === id);
    if (!before) return;
    const attempts = before.attempts + 1;
    this.update(id, { attempts, state: { kind: "sending" } });
    this.inFlight.add(id);
    const payload: ProctorChatSend =
      before.studentId === undefined ? { id, text: before.text } : { id, student_id: before.studentId, text: before.text };
    let answer: ChatAck | null;
    try {
      answer = await this.send(payload);
    } catch {
      answer = null;
    }
    this.inFlight.delete(id);
    const key = keyOf(before.studentId);
    const v = judge(answer, attempts);
    switch (v.t) {
      case "sent":
        this.set(this.items.filter((x) => x.id !== id));
        this.opts.onSent?.(v.message);
        this.pump(key);
        break;
      case "retry":
        this.update(id, { state: { kind: "waiting", note: v.note } });
        this.timers.set(
          id,
          this.t.set(() => {
            this.timers.delete(id);
            this.pump(key);
          }, v.afterMs),
        );
        break;
      case "refused":
        this.update(id, { state: { kind: "refused", reason: v.reason, message: v.message } });
        this.pump(key);
        break;
    }
  }

  private update(id: string, patch: Partial<OutboxItem>): void {
    this.set(this.items.map((x) => (x.id === id ? { ...x, ...patch } : x)));
  }

  private set(items: readonly OutboxItem[]): void {
    this.items = items;
    for (const l of [...this.listeners]) l();
  }
}

export function useOutbox(outbox: ChatOutbox): readonly OutboxItem[] {
  return useSyncExternalStore(outbox.subscribe, outbox.get, outbox.get);
}
