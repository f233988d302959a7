/**
 * The exam's chat as this proctor has seen it: every message once, by `seq`.
 *
 * Messages reach the page three ways that overlap: live `chat` events
 * (every stored message of the exam, the proctor's own included), a
 * conversation's history over HTTP, and the answer to the proctor's own
 * send. Each is added here by `seq`, which the server never reuses, so a
 * message shows exactly once whatever order those arrive in.
 *
 * A conversation is one student's messages (theirs and the proctors') plus
 * the announcements to every student, as the student sees it. Unread
 * counts: a student's message that arrives live while their drawer does
 * not show the conversation marks their tile.
 *
 * Listeners are told synchronously: chat is a few messages a minute, not
 * the score stream, so there is nothing to coalesce per frame.
 */
import { createContext, useCallback, useContext, useSyncExternalStore } from "react";
import type { ChatMessage } from "@proto";
import type { Listener } from "../store/scoreStore";

/** `base` with `extra` merged in, in `seq` order, each `seq` once; `base` itself when nothing is new. */
export function mergeBySeq(base: readonly ChatMessage[], extra: readonly ChatMessage[]): readonly ChatMessage[] {
  if (extra.length === 0) return base;
  const seen = new Set(base.map((m) => m.seq));
  const fresh = extra.filter((m) => {
    if (seen.has(m.seq)) return false;
    seen.add(m.seq);
    return true;
  });
  if (fresh.length === 0) return base;
  return [...base, ...fresh].sort((a, b) => a.seq - b.seq);
}

/** Where a message is shown: a student's conversation, or every one (an announcement). */
export const isAnnouncement = (m: ChatMessage): boolean => m.student_id === undefined;

/** A conversation's history load, as the drawer says it. */
export type LoadState = { kind: "idle" } | { kind: "loading" } | { kind: "loaded" } | { kind: "error"; text: string };

const NONE: readonly ChatMessage[] = Object.freeze([]);
const IDLE: LoadState = { kind: "idle" };

class Topic {
  private readonly listeners = new Set<Listener>();
  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  notify(): void {
    for (const l of [...this.listeners]) l();
  }
  get idle(): boolean {
    return this.listeners.size === 0;
  }
}

export class ChatStore {
  private readonly seqs = new Set<number>();
  /** Each student's own messages (not the announcements), in seq order. */
  private readonly own = new Map<string, readonly ChatMessage[]>();
  private announcements: readonly ChatMessage[] = NONE;
  /** Conversation views, rebuilt only when one of their two parts changed. */
  private readonly views = new Map<string, { own: readonly ChatMessage[]; ann: readonly ChatMessage[]; all: readonly ChatMessage[] }>();
  private readonly unread = new Map<string, number>();
  private readonly loads = new Map<string, LoadState>();
  private viewing: string | null = null;

  /** Per student: their conversation or load state changed. */
  private readonly conversationTopics = new Map<string, Topic>();
  /** Per student: their unread count changed (the tile listens). */
  private readonly unreadTopics = new Map<string, Topic>();
  /** An announcement arrived: every conversation, and the announcements list. */
  private readonly announcementTopic = new Topic();

  // --- reads -------------------------------------------------------------

  /** The student's conversation with the announcements, in seq order; the same array until it changes. */
  conversation(id: string): readonly ChatMessage[] {
    const own = this.own.get(id) ?? NONE;
    const ann = this.announcements;
    const v = this.views.get(id);
    if (v && v.own === own && v.ann === ann) return v.all;
    const all = own === NONE ? ann : ann === NONE ? own : mergeBySeq(own, ann);
    this.views.set(id, { own, ann, all });
    return all;
  }

  /** The announcements seen so far, in seq order. */
  getAnnouncements = (): readonly ChatMessage[] => this.announcements;

  unreadOf(id: string): number {
    return this.unread.get(id) ?? 0;
  }

  loadState(id: string): LoadState {
    return this.loads.get(id) ?? IDLE;
  }

  /** The student whose conversation a drawer shows, if any. */
  getViewing(): string | null {
    return this.viewing;
  }

  // --- writes ------------------------------------------------------------

  /**
   * A message as it arrives live (`chat` event or a send's answer);
   * `live` says whether it is news (marks unread) rather than history.
   * Returns whether it was new.
   */
  add(m: ChatMessage, live = true): boolean {
    if (this.seqs.has(m.seq)) return false;
    this.seqs.add(m.seq);
    if (isAnnouncement(m)) {
      this.announcements = mergeBySeq(this.announcements, [m]);
      this.announcementTopic.notify();
      for (const t of this.conversationTopics.values()) t.notify();
      return true;
    }
    const id = m.student_id!;
    this.own.set(id, mergeBySeq(this.own.get(id) ?? NONE, [m]));
    if (live && m.from === "student" && this.viewing !== id) {
      this.unread.set(id, this.unreadOf(id) + 1);
      this.unreadTopics.get(id)?.notify();
    }
    this.conversationTopics.get(id)?.notify();
    return true;
  }

  /** Messages from a history load: past, so never unread. */
  addHistory(messages: readonly ChatMessage[]): void {
    for (const m of messages) this.add(m, false);
  }

  /**
   * The drawer now shows `id`'s conversation (null: none): their unread
   * mark clears, and their messages arriving meanwhile do not set it.
   */
  setViewing(id: string | null): void {
    this.viewing = id;
    if (id !== null && this.unreadOf(id) !== 0) {
      this.unread.delete(id);
      this.unreadTopics.get(id)?.notify();
    }
  }

  setLoadState(id: string, state: LoadState): void {
    this.loads.set(id, state);
    this.conversationTopics.get(id)?.notify();
  }

  // --- subscriptions -----------------------------------------------------

  subscribeConversation(id: string, l: Listener): () => void {
    const un = this.topic(this.conversationTopics, id).subscribe(l);
    return () => {
      un();
      this.prune(this.conversationTopics, id);
    };
  }

  subscribeUnread(id: string, l: Listener): () => void {
    const un = this.topic(this.unreadTopics, id).subscribe(l);
    return () => {
      un();
      this.prune(this.unreadTopics, id);
    };
  }

  subscribeAnnouncements = (l: Listener): (() => void) => this.announcementTopic.subscribe(l);

  private topic(map: Map<string, Topic>, id: string): Topic {
    let t = map.get(id);
    if (!t) map.set(id, (t = new Topic()));
    return t;
  }

  private prune(map: Map<string, Topic>, id: string): void {
    if (map.get(id)?.idle) map.delete(id);
  }
}

// ---------------------------------------------------------------------------
// React bindings

/**
 * The chat store for components that may render without the page's
 * services (a tile in a unit test): absent, there is simply no badge.
 */
export const ChatStoreContext = createContext<ChatStore | null>(null);

const noSubscription = () => () => undefined;

/** The student's unread count; the tile re-renders only when it changes. */
export function useUnread(id: string): number {
  const chat = useContext(ChatStoreContext);
  const sub = useCallback((l: Listener) => (chat ? chat.subscribeUnread(id, l) : noSubscription()), [chat, id]);
  const get = useCallback(() => chat?.unreadOf(id) ?? 0, [chat, id]);
  return useSyncExternalStore(sub, get, get);
}

export function useConversation(chat: ChatStore, id: string): { messages: readonly ChatMessage[]; load: LoadState } {
  const sub = useCallback((l: Listener) => chat.subscribeConversation(id, l), [chat, id]);
  const messages = useSyncExternalStore(
    sub,
    useCallback(() => chat.conversation(id), [chat, id]),
  );
  const load = useSyncExternalStore(
    sub,
    useCallback(() => chat.loadState(id), [chat, id]),
  );
  return { messages, load };
}

export function useAnnouncements(chat: ChatStore): readonly ChatMessage[] {
  return useSyncExternalStore(chat.subscribeAnnouncements, chat.getAnnouncements);
}

export function useChatStore(): ChatStore {
  const chat = useContext(ChatStoreContext);
  if (!chat) throw new Error("useChatStore: no ChatStoreContext provider above this component");
  return chat;
}
