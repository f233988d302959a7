// The outbox: incidents, their ends, their evidence frames and the
// student's chat messages, persisted before the first send and resent until
// the server has them. The server deduplicates by incident id and by chat
// message id, so a resend after a lost ack is harmless.
//
// Three lanes drain it: the socket lane (incidents and ends, in order: an
// end never overtakes its incident, and sequence numbers reach the server in
// the order they were assigned), the chat lane (the student's messages, in
// the order they were written) and the evidence lane (HTTP uploads, each
// waiting until its incident is acknowledged). A slow or failing upload
// therefore never holds back a new incident, and neither does a chat
// message waiting out its rate limit (a student typing fast must not delay
// their own incidents). Chat messages carry no sequence number: their id
// alone makes a resend the same message.
//
// No DOM here: storage and transport are injected (IndexedDB and
// Socket.IO/fetch in the app, memory and fakes in the tests).

import type { ChatAck, ChatMessage, ChatSend, EvidenceMedia, IncidentAck, IncidentEnd, IncidentReport, RejectReason } from "@proto";
import { EVENTS } from "@proto";

export type NewItem =
  | { type: "incident"; id: string; payload: IncidentReport; raisedAt?: number }
  | { type: "end"; id: string; payload: IncidentEnd }
  /** A frame (`jpeg`) or, for a voice where the exam keeps sound, a clip (`wav`). */
  | { type: "evidence"; id: string; bytes: Uint8Array; media: EvidenceMedia; capturedAt: number }
  | { type: "chat"; id: string; payload: ChatSend };

export type OutboxItem = NewItem & { key: number; reseqs?: number };

/** An incident raised and not yet ended, remembered across page reloads. */
export interface OpenRecord {
  id: string;
  kind: string;
  started_at: number;
}

export interface StoredState {
  items: OutboxItem[];
  /** Next sequence number to use. */
  seq: number;
  open: OpenRecord[];
}

export interface OpenChange {
  set?: OpenRecord;
  clear?: string;
}

export interface OutboxStorage {
  load(): Promise<StoredState>;
  /** Stores a new item, the sequence counter and an open-set change atomically; returns the item's key. */
  add(item: NewItem, seq: number, open?: OpenChange): Promise<number>;
  /** Rewrites an item (a new sequence number) and the counter. */
  put(item: OutboxItem, seq: number): Promise<void>;
  remove(key: number): Promise<void>;
  setSeq(seq: number): Promise<void>;
  setOpen(change: OpenChange): Promise<void>;
}

export interface UploadResult {
  status: number;
  body: unknown;
}

/** What the socket lane sends: an incident or its end, each under its own event. */
export type IncidentMessage =
  | { event: typeof EVENTS.INCIDENT; payload: IncidentReport }
  | { event: typeof EVENTS.INCIDENT_END; payload: IncidentEnd };

export interface Transport {
  /** Whether sending can be tried now (socket connected). */
  ready(): boolean;
  /** Emits with an ack; rejects on timeout or disconnect. */
  send(message: IncidentMessage): Promise<IncidentAck>;
  /** Emits a chat message with an ack; rejects on timeout or disconnect. */
  sendChat(message: ChatSend): Promise<ChatAck>;
  /** POSTs evidence; rejects on a network error. */
  upload(incidentId: string, bytes: Uint8Array, media: EvidenceMedia, capturedAt: number): Promise<UploadResult>;
}

export type Outcome =
  /** `message`: a chat message as the server stored it (its `seq` places it in the conversation). */
  | { result: "delivered"; duplicate: boolean; message?: ChatMessage }
  | { result: "dropped"; reason: string; message?: string };

export interface OutboxEvents {
  /** An item left the outbox; `at` is the local monotonic time of the ack. */
  settled?(item: OutboxItem, outcome: Outcome): void;
  /** The exam keeps no evidence of this kind (privacy tier events_only, or no sound): stop capturing it. */
  evidenceRefused?(media: EvidenceMedia): void;
}

export interface OutboxOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Times an item may be given a fresh sequence number before it is dropped. */
  maxReseqs?: number;
  events?: OutboxEvents;
}

const RETRYABLE: ReadonlySet<string> = new Set<RejectReason>(["rate_limited", "unavailable"]);
const SEQ_PROBLEM: ReadonlySet<string> = new Set<RejectReason>(["sequence_replayed", "sequence_too_old"]);

type Step = { next: "done"; outcome: Outcome } | { next: "retry"; afterMs?: number } | { next: "again" };

interface Lane {
  name: "socket" | "chat" | "evidence";
  running: boolean;
  again: boolean;
  failures: number;
  timer: ReturnType<typeof setTimeout> | null;
}

export class Outbox {
  private items: OutboxItem[];
  private seq: number;
  private open: Map<string, OpenRecord>;
  private transport: Transport | null = null;
  private lanes: Record<Lane["name"], Lane>;
  private idle: Array<() => void> = [];
  private closed = false;
  private readonly opts: Required<Omit<OutboxOptions, "events">> & { events: OutboxEvents };

  private constructor(
    private storage: OutboxStorage,
    state: StoredState,
    opts: OutboxOptions,
  ) {
    this.items = [...state.items].map(fromEarlierPage).sort((a, b) => a.key - b.key);
    this.seq = Math.max(1, state.seq);
    this.open = new Map(state.open.map((o) => [o.id, o]));
    const lane = (name: Lane["name"]): Lane => ({ name, running: false, again: false, failures: 0, timer: null });
    this.lanes = { socket: lane("socket"), chat: lane("chat"), evidence: lane("evidence") };
    this.opts = {
      baseDelayMs: opts.baseDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 30_000,
      maxReseqs: opts.maxReseqs ?? 3,
      events: opts.events ?? {},
    };
  }

  static async open(storage: OutboxStorage, opts: OutboxOptions = {}): Promise<Outbox> {
    return new Outbox(storage, await storage.load(), opts);
  }

  /** Items not yet acknowledged, oldest first. */
  pending(): readonly OutboxItem[] {
    return this.items;
  }

  nextSeq(): number {
    return this.seq;
  }

  /** Incidents raised and not ended, including those of an earlier page life. */
  openIncidents(): OpenRecord[] {
    return [...this.open.values()];
  }

  /** The server's lowest acceptable sequence number (welcome.next_seq). */
  async serverNextSeq(next: number): Promise<void> {
    if (next > this.seq) {
      this.seq = next;
      await this.storage.setSeq(this.seq);
    }
  }

  /** Queues an incident; the sequence number is assigned and persisted here. */
  async incident(report: Omit<IncidentReport, "seq">, raisedAt?: number): Promise<IncidentReport> {
    const payload: IncidentReport = { ...report, seq: this.seq };
    this.seq += 1;
    const open = report.ended_at === undefined
      ? { set: { id: report.id, kind: report.kind, started_at: report.started_at } }
      : undefined;
    const item: NewItem = { type: "incident", id: report.id, payload };
    if (raisedAt !== undefined) item.raisedAt = raisedAt;
    await this.add(item, open);
    return payload;
  }

  async end(id: string, endedAt: number): Promise<IncidentEnd> {
    const payload: IncidentEnd = { id, seq: this.seq, ended_at: endedAt };
    this.seq += 1;
    await this.add({ type: "end", id, payload }, { clear: id });
    return payload;
  }

  async evidence(incidentId: string, bytes: Uint8Array, capturedAt: number, media: EvidenceMedia = "jpeg"): Promise<void> {
    await this.add({ type: "evidence", id: incidentId, bytes, media, capturedAt });
  }

  /** Queues a chat message; `id` is its idempotency key, kept for every resend. */
  async chat(message: ChatSend): Promise<void> {
    await this.add({ type: "chat", id: message.id, payload: message });
  }

  /** Forgets an open incident without sending an end (its incident was dropped). */
  private async forgetOpen(id: string): Promise<void> {
    if (this.open.delete(id)) await this.storage.setOpen({ clear: id });
  }

  private async add(item: NewItem, open?: OpenChange): Promise<void> {
    if (open?.set) this.open.set(open.set.id, open.set);
    if (open?.clear) this.open.delete(open.clear);
    const key = await this.storage.add(item, this.seq, open);
    this.items.push({ ...item, key });
    this.items.sort((a, b) => a.key - b.key);
    this.kick();
  }

  /** Starts (or resumes) sending through `transport`. */
  attach(transport: Transport): void {
    this.transport = transport;
    this.kick();
  }

  /** Call when the transport becomes ready (socket connected). */
  kick(): void {
    if (this.closed) return;
    void this.run(this.lanes.socket);
    void this.run(this.lanes.chat);
    void this.run(this.lanes.evidence);
  }

  /** Resolves when nothing is pending. */
  drained(): Promise<void> {
    if (this.items.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  close(): void {
    this.closed = true;
    for (const l of Object.values(this.lanes)) if (l.timer) clearTimeout(l.timer);
  }

  private head(lane: Lane): OutboxItem | undefined {
    if (lane.name === "socket") return this.items.find((i) => i.type === "incident" || i.type === "end");
    if (lane.name === "chat") return this.items.find((i) => i.type === "chat");
    const ev = this.items.find((i) => i.type === "evidence");
    if (!ev) return undefined;
    // Evidence binds to an incident the server must already know.
    const waiting = this.items.some((i) => i.type === "incident" && i.id === ev.id);
    return waiting ? undefined : ev;
  }

  private async run(lane: Lane): Promise<void> {
    if (lane.running) {
      lane.again = true;
      return;
    }
    if (lane.timer) return; // backing off; the timer kicks again
    lane.running = true;
    try {
      for (;;) {
        lane.again = false;
        if (this.closed || !this.transport?.ready()) break;
        const item = this.head(lane);
        if (!item) break;
        const step = await this.send(item);
        if (step.next === "retry") {
          lane.failures += 1;
          const backoff = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (lane.failures - 1));
          const delay = Math.max(step.afterMs ?? 0, backoff) * (0.8 + Math.random() * 0.4);
          lane.timer = setTimeout(() => {
            lane.timer = null;
            this.kick();
          }, delay);
          break;
        }
        lane.failures = 0;
        if (step.next === "done") await this.settle(item, step.outcome);
      }
    } finally {
      lane.running = false;
      if (lane.again && !lane.timer) void this.run(lane);
    }
  }

  private async settle(item: OutboxItem, outcome: Outcome): Promise<void> {
    const gone = [item];
    if (outcome.result === "dropped" && item.type === "incident") {
      // Its end and evidence can never be accepted.
      gone.push(...this.items.filter((i) => i !== item && i.id === item.id && (i.type === "end" || i.type === "evidence")));
      await this.forgetOpen(item.id);
    }
    for (const g of gone) {
      await this.storage.remove(g.key);
      this.items = this.items.filter((i) => i !== g);
      this.opts.events.settled?.(g, g === item ? outcome : { result: "dropped", reason: "incident_dropped" });
    }
    // An acknowledged incident may unblock its evidence.
    if (item.type === "incident") void this.run(this.lanes.evidence);
    if (this.items.length === 0) for (const r of this.idle.splice(0)) r();
  }

  private async send(item: OutboxItem): Promise<Step> {
    const t = this.transport!;
    if (item.type === "chat") return this.sendChat(t, item.payload);
    if (item.type === "evidence") {
      let res: UploadResult;
      try {
        res = await t.upload(item.id, item.bytes, item.media, item.capturedAt);
      } catch {
        return { next: "retry" };
      }
      if (res.status === 200 || res.status === 201) return { next: "done", outcome: { result: "delivered", duplicate: res.status === 200 } };
      const err = (res.body as { error?: { reason?: string; message?: string; retry_after_ms?: number } } | null)?.error;
      const reason = err?.reason ?? `http_${res.status}`;
      if (reason === "evidence_already_attached") return { next: "done", outcome: { result: "delivered", duplicate: true } };
      if (RETRYABLE.has(reason) || res.status >= 500 || res.status === 429) {
        return err?.retry_after_ms !== undefined ? { next: "retry", afterMs: err.retry_after_ms } : { next: "retry" };
      }
      if (reason === "evidence_not_collected") this.opts.events.evidenceRefused?.(item.media);
      return { next: "done", outcome: { result: "dropped", reason, message: err?.message ?? "" } };
    }
    const message: IncidentMessage =
      item.type === "incident" ? { event: EVENTS.INCIDENT, payload: item.payload } : { event: EVENTS.INCIDENT_END, payload: item.payload };
    let ack: IncidentAck;
    try {
      ack = await t.send(message);
    } catch {
      return { next: "retry" };
    }
    if (ack.status === "accepted" || ack.status === "duplicate") {
      return { next: "done", outcome: { result: "delivered", duplicate: ack.status === "duplicate" } };
    }
    if (RETRYABLE.has(ack.reason)) {
      return ack.retry_after_ms !== undefined ? { next: "retry", afterMs: ack.retry_after_ms } : { next: "retry" };
    }
    if (SEQ_PROBLEM.has(ack.reason) && (item.reseqs ?? 0) < this.opts.maxReseqs) {
      // The server never stored this message (ids are checked before
      // sequence numbers), so it may go again under a fresh number.
      item.reseqs = (item.reseqs ?? 0) + 1;
      item.payload = { ...item.payload, seq: this.seq };
      this.seq += 1;
      await this.storage.put(item, this.seq);
      return { next: "again" };
    }
    if (item.type === "end" && ack.reason === "already_ended") {
      return { next: "done", outcome: { result: "delivered", duplicate: true } };
    }
    return { next: "done", outcome: { result: "dropped", reason: ack.reason, message: ack.message } };
  }

  /**
   * A chat message: stored (or stored before, on a resend after a lost
   * ack) is delivered; a rate limit or an outage is retried like an
   * incident; any other refusal (an empty or too long text, the session
   * over) cannot change on a resend and drops it.
   */
  private async sendChat(t: Transport, payload: ChatSend): Promise<Step> {
    let ack: ChatAck;
    try {
      ack = await t.sendChat(payload);
    } catch {
      return { next: "retry" };
    }
    if (ack.status === "accepted" || ack.status === "duplicate") {
      return { next: "done", outcome: { result: "delivered", duplicate: ack.status === "duplicate", message: ack.message } };
    }
    if (RETRYABLE.has(ack.reason)) {
      return ack.retry_after_ms !== undefined ? { next: "retry", afterMs: ack.retry_after_ms } : { next: "retry" };
    }
    return { next: "done", outcome: { result: "dropped", reason: ack.reason, message: ack.message } };
  }
}

/** An item as an earlier version of the page stored it: its evidence was a frame in `jpeg`. */
function fromEarlierPage(item: OutboxItem): OutboxItem {
  if (item.type !== "evidence" || item.bytes) return item;
  const old = item as unknown as { jpeg?: Uint8Array };
  return { ...item, bytes: old.jpeg ?? new Uint8Array(0), media: "jpeg" };
}

/** Storage in memory (tests, and a fallback when IndexedDB is unavailable). */
export class MemoryStorage implements OutboxStorage {
  items = new Map<number, OutboxItem>();
  seq = 1;
  open = new Map<string, OpenRecord>();
  private nextKey = 1;

  // Memory needs no waiting: each method settles at once, as a Promise to fit the interface.
  load(): Promise<StoredState> {
    return Promise.resolve({ items: [...this.items.values()].map((i) => ({ ...i })), seq: this.seq, open: [...this.open.values()] });
  }
  async add(item: NewItem, seq: number, open?: OpenChange): Promise<number> {
    const key = this.nextKey++;
    this.items.set(key, { ...item, key });
    this.seq = seq;
    await this.setOpen(open ?? {});
    return key;
  }
  put(item: OutboxItem, seq: number): Promise<void> {
    this.items.set(item.key, { ...item });
    this.seq = seq;
    return Promise.resolve();
  }
  remove(key: number): Promise<void> {
    this.items.delete(key);
    return Promise.resolve();
  }
  setSeq(seq: number): Promise<void> {
    this.seq = seq;
    return Promise.resolve();
  }
  setOpen(change: OpenChange): Promise<void> {
    if (change.set) this.open.set(change.set.id, change.set);
    if (change.clear) this.open.delete(change.clear);
    return Promise.resolve();
  }
}
