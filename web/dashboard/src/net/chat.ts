/**
 * The proctor's chat over the connection: live `chat` events into the
 * chat store, conversations' history over HTTP, and sends through the
 * outbox (`chat` with `ProctorChatSend`, answered `ChatAck`).
 *
 * History: a conversation is loaded when a drawer opens it, from where
 * its last load ended (`GET …/students/{student}/chat?after=N`, pages
 * followed while `more`). Chat events missed while the socket was down are
 * not replayed by the server, so the conversation on screen is loaded
 * again (from the same point) each time the connection is live again, and
 * any other one when it is next opened; the store's merge by `seq` drops
 * what the page already has.
 */
import type { ChatAck, ChatHistory, ChatMessage, ProctorChatSend } from "@proto";
import { EVENTS } from "@proto";
import { ChatStore } from "../chat/chatStore";
import { ChatOutbox, type Timers } from "../chat/outbox";
import type { Listener } from "../store/scoreStore";
import { ApiError } from "./api";
import type { ConnectionStatus } from "./connection";
import { ask, type ProctorSocket } from "./socket";

export interface ChatSource {
  chat(student: string, after: number): Promise<ChatHistory>;
}

export interface StatusSource {
  getStatus(): ConnectionStatus;
  subscribe(l: Listener): () => void;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Without a delay from the server, a page that says `more` but brings nothing is asked again after this. */
const EMPTY_MORE_WAIT_MS = 1000;

/**
 * Every message after `after`, following `more` page by page; a page the
 * server declined (`retry_after_ms`, or an HTTP `rate_limited` or
 * `unavailable` refusal) is asked again after that delay, at most
 * `maxWaits` times in all. `last`: the highest seq seen (or `after`).
 */
export async function fetchHistory(
  page: (after: number) => Promise<ChatHistory>,
  after: number,
  wait: (ms: number) => Promise<void> = sleep,
  maxWaits = 20,
): Promise<{ messages: ChatMessage[]; last: number }> {
  const messages: ChatMessage[] = [];
  let cursor = after;
  let waits = 0;
  for (;;) {
    let h: ChatHistory;
    try {
      h = await page(cursor);
    } catch (e) {
      if (!(e instanceof ApiError && (e.reason === "rate_limited" || e.reason === "unavailable")) || ++waits > maxWaits) throw e;
      await wait(e.retryAfterMs ?? EMPTY_MORE_WAIT_MS);
      continue;
    }
    const tail = h.messages[h.messages.length - 1];
    if (!tail) {
      if (!h.more) return { messages, last: cursor };
      if (++waits > maxWaits) throw new Error("the server kept asking to wait; try again later");
      await wait(h.retry_after_ms ?? EMPTY_MORE_WAIT_MS);
      continue;
    }
    messages.push(...h.messages);
    cursor = Math.max(cursor, tail.seq);
    if (!h.more) return { messages, last: cursor };
  }
}

export interface ChatClientOptions {
  /** How long a send waits for its answer before it counts as lost (and is retried). */
  timeoutMs?: number;
  wait?: (ms: number) => Promise<void>;
  timers?: Timers;
  newId?: () => string;
}

export class ChatClient {
  readonly store = new ChatStore();
  readonly outbox: ChatOutbox;
  /** Per student: the seq their conversation's last history load reached. */
  private readonly marks = new Map<string, number>();
  private readonly loading = new Map<string, Promise<void>>();
  private wasLive: boolean;
  private readonly timeoutMs: number;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(
    private readonly socket: ProctorSocket,
    private readonly connection: StatusSource,
    private readonly api: ChatSource,
    opts: ChatClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.wait = opts.wait ?? sleep;
    this.outbox = new ChatOutbox((p) => this.emit(p), {
      onSent: (m) => this.store.add(m, false),
      ...(opts.timers ? { timers: opts.timers } : {}),
      ...(opts.newId ? { newId: opts.newId } : {}),
    });
    // Chat is not part of the snapshot: every event is applied as it
    // comes, in any connection state, and the merge by seq keeps it once.
    socket.on(EVENTS.CHAT, (m) => {
      this.store.add(m);
    });
    this.wasLive = connection.getStatus().kind === "live";
    connection.subscribe(this.onStatus);
  }

  /** A drawer shows `id`'s conversation: clears their unread mark and brings the history up to date. */
  open(id: string): Promise<void> {
    this.store.setViewing(id);
    return this.load(id);
  }

  /** That drawer closed (or moved to another student). */
  close(id: string): void {
    if (this.store.getViewing() === id) this.store.setViewing(null);
  }

  /** Sends `text` to `studentId`, or to every student when undefined (an announcement). */
  send(studentId: string | undefined, text: string): void {
    this.outbox.submit(studentId, text);
  }

  private onStatus = (): void => {
    const live = this.connection.getStatus().kind === "live";
    if (live && !this.wasLive) {
      this.outbox.retryNow();
      const viewing = this.store.getViewing();
      if (viewing !== null) void this.load(viewing);
    }
    this.wasLive = live;
  };

  private emit(payload: ProctorChatSend): Promise<ChatAck> {
    if (this.connection.getStatus().kind !== "live") {
      return Promise.resolve({ status: "rejected", reason: "unavailable", message: "not connected" });
    }
    return ask(this.socket, this.timeoutMs, EVENTS.CHAT, payload);
  }

  private load(id: string): Promise<void> {
    const running = this.loading.get(id);
    if (running) return running;
    const from = this.marks.get(id);
    if (from === undefined) this.store.setLoadState(id, { kind: "loading" });
    const done = fetchHistory((after) => this.api.chat(id, after), from ?? 0, this.wait)
      .then(
        ({ messages, last }) => {
          this.store.addHistory(messages);
          this.marks.set(id, Math.max(last, this.marks.get(id) ?? 0));
          this.store.setLoadState(id, { kind: "loaded" });
        },
        (e: unknown) => {
          this.store.setLoadState(id, { kind: "error", text: e instanceof Error ? e.message : String(e) });
        },
      )
      .finally(() => this.loading.delete(id));
    this.loading.set(id, done);
    return done;
  }
}
