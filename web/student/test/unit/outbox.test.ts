import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it, vi } from "vitest";
import type { ChatAck, ChatMessage, ChatSend, EvidenceMedia, IncidentAck, IncidentReport } from "@proto";
import { EVENTS } from "@proto";
import { IdbStorage } from "../../src/idb-storage.ts";
import { MemoryStorage, Outbox, type IncidentMessage, type OutboxItem, type OutboxStorage, type Transport, type UploadResult } from "../../src/outbox.ts";

type Sent = IncidentMessage;

/** A server stand-in: dedupe by id, strictly checked sequence numbers, scripted failures. */
class FakeServer implements Transport {
  up = true;
  sent: Sent[] = [];
  uploads: Array<{ id: string; capturedAt: number; bytes: number; media?: EvidenceMedia }> = [];
  known = new Map<string, string>();
  ended = new Set<string>();
  top = 0;
  failNext: Array<IncidentAck | "timeout"> = [];
  uploadReplies: Array<UploadResult | "network"> = [];
  /** Chat messages stored, by id; `chatSent` every attempt, in order. */
  chats = new Map<string, ChatMessage>();
  chatSent: ChatSend[] = [];
  chatReplies: Array<ChatAck | "timeout" | "lost"> = [];
  /** Order of everything the socket lane emitted: `incident:a`, `chat:c1`, … */
  order: string[] = [];
  private chatSeq = 0;

  ready() {
    return this.up;
  }
  // eslint-disable-next-line @typescript-eslint/require-await -- async makes a scripted timeout a rejection, as the real socket's is
  async send(m: IncidentMessage): Promise<IncidentAck> {
    this.sent.push(m);
    this.order.push(`${m.event}:${m.payload.id}`);
    const f = this.failNext.shift();
    if (f === "timeout") throw new Error("timeout");
    if (f) return f;
    const { payload } = m;
    const fp = JSON.stringify(payload);
    if (m.event === EVENTS.INCIDENT) {
      if (this.known.has(payload.id)) return { status: "duplicate", id: payload.id };
      if (payload.seq <= this.top) return { status: "rejected", id: payload.id, reason: "sequence_replayed", message: "" };
      this.known.set(payload.id, fp);
    } else {
      if (!this.known.has(payload.id)) return { status: "rejected", id: payload.id, reason: "unknown_incident", message: "" };
      if (this.ended.has(payload.id)) return { status: "duplicate", id: payload.id };
      if (payload.seq <= this.top) return { status: "rejected", id: payload.id, reason: "sequence_replayed", message: "" };
      this.ended.add(payload.id);
    }
    this.top = payload.seq;
    return { status: "accepted", id: payload.id };
  }
  // eslint-disable-next-line @typescript-eslint/require-await -- async makes a scripted timeout a rejection, as the real socket's is
  async sendChat(m: ChatSend): Promise<ChatAck> {
    this.chatSent.push(m);
    this.order.push(`chat:${m.id}`);
    const f = this.chatReplies.shift();
    if (f === "timeout") throw new Error("timeout");
    if (f && f !== "lost") return f;
    const known = this.chats.get(m.id);
    if (known && known.text !== m.text) return { status: "rejected", reason: "conflicting_duplicate", message: "other text" };
    if (known) return { status: "duplicate", message: known };
    const stored: ChatMessage = { seq: ++this.chatSeq, id: m.id, from: "student", student_id: "s1", text: m.text, at: 1 };
    this.chats.set(m.id, stored);
    // "lost": stored, but the answer never arrives.
    if (f === "lost") throw new Error("timeout");
    return { status: "accepted", message: stored };
  }
  // eslint-disable-next-line @typescript-eslint/require-await -- async makes a scripted network error a rejection, as fetch's is
  async upload(id: string, bytes: Uint8Array, media: EvidenceMedia, capturedAt: number): Promise<UploadResult> {
    const r = this.uploadReplies.shift();
    if (r === "network") throw new Error("network");
    if (r) return r;
    if (!this.known.has(id)) return { status: 404, body: { error: { reason: "unknown_incident", message: "" } } };
    this.uploads.push({ id, capturedAt, bytes: bytes.byteLength, ...(media === "jpeg" ? {} : { media }) });
    return { status: 201, body: {} };
  }
}

const report = (id: string, at = 1000): Omit<IncidentReport, "seq"> => ({ id, kind: "no_face", started_at: at });
const fast = { baseDelayMs: 1, maxDelayMs: 5 };

async function settle(ob: Outbox, ms = 2000) {
  await Promise.race([ob.drained(), new Promise((_, rej) => setTimeout(() => rej(new Error(`not drained: ${JSON.stringify(ob.pending().map((i) => i.type))}`)), ms))]);
}

describe("Outbox", () => {
  it("assigns strictly increasing sequence numbers across incidents and ends, and delivers in order", async () => {
    const srv = new FakeServer();
    const ob = await Outbox.open(new MemoryStorage(), fast);
    ob.attach(srv);
    await ob.incident(report("a"));
    await ob.incident(report("b"));
    await ob.end("a", 2000);
    await ob.evidence("a", new Uint8Array([1, 2, 3]), 1500);
    await settle(ob);
    expect(srv.sent.map((s) => [s.event, s.payload.id, s.payload.seq])).toEqual([
      ["incident", "a", 1],
      ["incident", "b", 2],
      ["incident_end", "a", 3],
    ]);
    expect(srv.uploads).toEqual([{ id: "a", capturedAt: 1500, bytes: 3 }]);
    expect(ob.nextSeq()).toBe(4);
    expect(ob.openIncidents().map((o) => o.id)).toEqual(["b"]);
  });

  it("holds everything while offline and sends it once connected", async () => {
    const srv = new FakeServer();
    srv.up = false;
    const ob = await Outbox.open(new MemoryStorage(), fast);
    ob.attach(srv);
    await ob.incident(report("a"));
    await ob.evidence("a", new Uint8Array(10), 1000);
    await new Promise((r) => setTimeout(r, 20));
    expect(srv.sent).toHaveLength(0);
    expect(ob.pending()).toHaveLength(2);
    srv.up = true;
    ob.kick();
    await settle(ob);
    expect(srv.uploads).toHaveLength(1);
  });

  it("retries only retryable rejections and timeouts; duplicate counts as delivered", async () => {
    const srv = new FakeServer();
    const settled: string[] = [];
    const ob = await Outbox.open(new MemoryStorage(), { ...fast, events: { settled: (i, o) => settled.push(`${i.id}:${o.result}`) } });
    srv.failNext = [
      "timeout",
      { status: "rejected", id: "a", reason: "rate_limited", message: "", retry_after_ms: 3 },
      { status: "rejected", id: "a", reason: "unavailable", message: "" },
    ];
    ob.attach(srv);
    await ob.incident(report("a"));
    await settle(ob);
    expect(srv.sent).toHaveLength(4);
    expect(settled).toEqual(["a:delivered"]);
    // A lost ack: the server has it, the resend is a duplicate.
    srv.failNext = [{ status: "duplicate", id: "b" }];
    await ob.incident(report("b"));
    await settle(ob);
    expect(settled).toEqual(["a:delivered", "b:delivered"]);
  });

  it("drops a non-retryable rejection together with its end and evidence", async () => {
    const srv = new FakeServer();
    const settled: string[] = [];
    const ob = await Outbox.open(new MemoryStorage(), { ...fast, events: { settled: (i, o) => settled.push(`${i.type}:${o.result}:${"reason" in o ? o.reason : ""}`) } });
    srv.up = false;
    ob.attach(srv);
    await ob.incident(report("x"));
    await ob.evidence("x", new Uint8Array(4), 1000);
    await ob.end("x", 2000);
    await ob.incident(report("y"));
    srv.failNext = [{ status: "rejected", id: "x", reason: "detector_disabled", message: "off" }];
    srv.up = true;
    ob.kick();
    await settle(ob);
    expect(settled).toEqual(["incident:dropped:detector_disabled", "evidence:dropped:incident_dropped", "end:dropped:incident_dropped", "incident:delivered:"]);
    expect(srv.uploads).toHaveLength(0);
    expect(ob.openIncidents().map((o) => o.id)).toEqual(["y"]);
  });

  it("resumes from max(local, welcome.next_seq) and re-numbers a message the server refuses as replayed", async () => {
    const srv = new FakeServer();
    srv.top = 41; // another device/profile used numbers up to 41
    const ob = await Outbox.open(new MemoryStorage(), fast);
    srv.up = false;
    ob.attach(srv);
    await ob.incident(report("old")); // seq 1: made before we heard the server
    await ob.serverNextSeq(42);
    await ob.serverNextSeq(7); // never backwards
    await ob.incident(report("new"));
    srv.up = true;
    ob.kick();
    await settle(ob);
    expect(srv.sent.map((s) => [s.payload.id, s.payload.seq])).toEqual([
      ["old", 1],
      ["old", 43],
      ["new", 42],
      ["new", 44],
    ]);
    expect([...srv.known.keys()].sort()).toEqual(["new", "old"]);
  });

  it("evidence: retries network errors and 5xx, treats evidence_already_attached as delivered, reports evidence_not_collected", async () => {
    const srv = new FakeServer();
    const refused: string[] = [];
    const settled: string[] = [];
    const ob = await Outbox.open(new MemoryStorage(), {
      ...fast,
      events: { evidenceRefused: (media) => refused.push(media), settled: (i, o) => i.type === "evidence" && settled.push(`${o.result}:${"reason" in o ? o.reason : ""}`) },
    });
    ob.attach(srv);
    srv.uploadReplies = ["network", { status: 503, body: { error: { reason: "unavailable", message: "", retry_after_ms: 2 } } }];
    await ob.incident(report("a"));
    await ob.evidence("a", new Uint8Array(5), 1000);
    await settle(ob);
    expect(srv.uploads).toHaveLength(1);
    srv.uploadReplies = [{ status: 409, body: { error: { reason: "evidence_already_attached", message: "" } } }];
    await ob.evidence("a", new Uint8Array(5), 1000);
    await settle(ob);
    srv.uploadReplies = [{ status: 403, body: { error: { reason: "evidence_not_collected", message: "" } } }];
    await ob.evidence("a", new Uint8Array(5), 1000);
    await settle(ob);
    // A sound clip refused says so by its media: frames may still be kept.
    srv.uploadReplies = [{ status: 403, body: { error: { reason: "evidence_not_collected", message: "" } } }];
    await ob.evidence("a", new Uint8Array(7), 1000, "wav");
    await settle(ob);
    expect(settled).toEqual(["delivered:", "delivered:", "dropped:evidence_not_collected", "dropped:evidence_not_collected"]);
    expect(refused).toEqual(["jpeg", "wav"]);
  });

  it("sends a frame an earlier version of the page stored (its bytes under `jpeg`) as a JPEG", async () => {
    const storage = new MemoryStorage();
    storage.items.set(1, { type: "evidence", id: "old", jpeg: new Uint8Array([1, 2, 3]), capturedAt: 900, key: 1 } as unknown as OutboxItem);
    const srv = new FakeServer();
    srv.known.set("old", "x");
    const ob = await Outbox.open(storage, fast);
    ob.attach(srv);
    await settle(ob);
    expect(srv.uploads).toEqual([{ id: "old", capturedAt: 900, bytes: 3 }]);
  });

  it("a failing upload does not hold back incidents", async () => {
    const srv = new FakeServer();
    const ob = await Outbox.open(new MemoryStorage(), { baseDelayMs: 50, maxDelayMs: 50 });
    ob.attach(srv);
    srv.uploadReplies = Array.from({ length: 100 }, () => ({ status: 503, body: { error: { reason: "unavailable", message: "" } } }));
    await ob.incident(report("a"));
    await ob.evidence("a", new Uint8Array(5), 1000);
    await new Promise((r) => setTimeout(r, 20));
    await ob.incident(report("b"));
    await new Promise((r) => setTimeout(r, 20));
    expect([...srv.known.keys()]).toEqual(["a", "b"]);
    ob.close();
  });
});

describe("Outbox: chat messages", () => {
  type Settled = { id: string; type: string; result: string; reason?: string; message?: string; seq?: number };
  const recorder = () => {
    const settled: Settled[] = [];
    const events = {
      settled: (i: { id: string; type: string }, o: import("../../src/outbox.ts").Outcome) => {
        if (o.result === "delivered") settled.push({ id: i.id, type: i.type, result: o.result, ...(o.message ? { seq: o.message.seq } : {}) });
        else settled.push({ id: i.id, type: i.type, result: o.result, reason: o.reason, ...(o.message !== undefined ? { message: o.message } : {}) });
      },
    };
    return { settled, events };
  };

  it("a message waiting out its rate limit never holds back an incident", async () => {
    const srv = new FakeServer();
    const { settled, events } = recorder();
    const ob = await Outbox.open(new MemoryStorage(), { ...fast, events });
    srv.chatReplies = [{ status: "rejected", reason: "rate_limited", message: "slow down", retry_after_ms: 60_000 }];
    ob.attach(srv);
    await ob.chat({ id: "c1", text: "one" });
    await ob.incident(report("a"));
    // The incident is delivered while the message still waits its minute.
    await vi.waitFor(() => expect(settled.filter((x) => x.type === "incident")).toHaveLength(1));
    expect(srv.chatSent.map((m) => m.id)).toEqual(["c1"]);
    expect(ob.pending().map((i) => i.type)).toEqual(["chat"]);
    ob.close();
  });

  it("are sent in the order written, and settle with the message as stored", async () => {
    const srv = new FakeServer();
    const { settled, events } = recorder();
    const ob = await Outbox.open(new MemoryStorage(), { ...fast, events });
    srv.up = false;
    ob.attach(srv);
    await ob.incident(report("a"));
    await ob.chat({ id: "c1", text: "May I use a calculator?" });
    await ob.end("a", 2000);
    await ob.chat({ id: "c2", text: "Thanks" });
    // Chat uses no sequence number: the incidents' numbering is untouched.
    expect(ob.nextSeq()).toBe(3);
    srv.up = true;
    ob.kick();
    await settle(ob);
    // Two lanes: incidents keep their order, messages theirs.
    const chats = srv.order.filter((e) => e.startsWith("chat:"));
    const incidents = srv.order.filter((e) => !e.startsWith("chat:"));
    expect([chats, incidents]).toEqual([["chat:c1", "chat:c2"], ["incident:a", "incident_end:a"]]);
    expect(settled.filter((x) => x.type === "chat")).toEqual([
      { id: "c1", type: "chat", result: "delivered", seq: 1 },
      { id: "c2", type: "chat", result: "delivered", seq: 2 },
    ]);
  });

  it("a lost answer: resent with the same id, the duplicate is delivered, stored once", async () => {
    const srv = new FakeServer();
    const { settled, events } = recorder();
    const ob = await Outbox.open(new MemoryStorage(), { ...fast, events });
    srv.chatReplies = ["lost", "timeout"];
    ob.attach(srv);
    await ob.chat({ id: "c1", text: "Hello" });
    await settle(ob);
    expect(srv.chatSent.map((m) => m.id)).toEqual(["c1", "c1", "c1"]);
    expect(srv.chats.size).toBe(1);
    expect(settled).toEqual([{ id: "c1", type: "chat", result: "delivered", seq: 1 }]);
  });

  it("rate_limited and unavailable are retried (after retry_after_ms); other refusals drop the message with the server's words", async () => {
    const srv = new FakeServer();
    const { settled, events } = recorder();
    const ob = await Outbox.open(new MemoryStorage(), { ...fast, events });
    srv.chatReplies = [
      { status: "rejected", reason: "rate_limited", message: "slow down", retry_after_ms: 30 },
      { status: "rejected", reason: "unavailable", message: "busy" },
    ];
    ob.attach(srv);
    const t0 = Date.now();
    await ob.chat({ id: "c1", text: "one" });
    await settle(ob);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(20); // 30 ms, less the jitter
    expect(srv.chatSent).toHaveLength(3);
    srv.chatReplies = [{ status: "rejected", reason: "session_terminated", message: "the session was terminated" }];
    await ob.chat({ id: "c2", text: "two" });
    await ob.chat({ id: "c3", text: "three" });
    await settle(ob);
    expect(settled).toEqual([
      { id: "c1", type: "chat", result: "delivered", seq: 1 },
      { id: "c2", type: "chat", result: "dropped", reason: "session_terminated", message: "the session was terminated" },
      { id: "c3", type: "chat", result: "delivered", seq: 2 },
    ]);
    expect(ob.pending()).toHaveLength(0);
  });

  it("a dropped incident takes its end and evidence with it, never a chat message that happens to share its id", async () => {
    const srv = new FakeServer();
    const { settled, events } = recorder();
    const ob = await Outbox.open(new MemoryStorage(), { ...fast, events });
    srv.up = false;
    ob.attach(srv);
    await ob.incident(report("x"));
    await ob.chat({ id: "x", text: "same id, other kind of thing" });
    await ob.end("x", 2000);
    srv.failNext = [{ status: "rejected", id: "x", reason: "detector_disabled", message: "off" }];
    srv.up = true;
    ob.kick();
    await settle(ob);
    // The lanes settle independently: compare what happened, not the order across them.
    expect(settled.map((x) => `${x.type}:${x.result}`).sort()).toEqual(["chat:delivered", "end:dropped", "incident:dropped"]);
  });
});

describe("Outbox on IndexedDB", () => {
  async function storage(factory: IDBFactory, name = "t"): Promise<OutboxStorage & { close(): void }> {
    return IdbStorage.open(name, factory);
  }

  it("survives a reload: pending items, counter and open incidents come back; the resend is deduplicated", async () => {
    const factory = new IDBFactory();
    const srv = new FakeServer();
    // Page life 1: the ack of "a" is lost, "b" and the end never leave.
    let s1 = await storage(factory);
    const ob1 = await Outbox.open(s1, { baseDelayMs: 60_000 });
    srv.failNext = ["timeout"];
    ob1.attach(srv);
    await ob1.incident(report("a"));
    await new Promise((r) => setTimeout(r, 1));
    srv.up = false;
    srv.known.set("a", "x"); // the server did store it
    await ob1.incident(report("b"));
    await ob1.evidence("b", new Uint8Array([9, 9]), 1234);
    await ob1.end("b", 3000);
    ob1.close();
    s1.close();

    // Page life 2.
    s1 = await storage(factory);
    const ob2 = await Outbox.open(s1, fast);
    expect(ob2.pending().map((i) => [i.type, i.id])).toEqual([
      ["incident", "a"],
      ["incident", "b"],
      ["evidence", "b"],
      ["end", "b"],
    ]);
    expect(ob2.nextSeq()).toBe(4);
    expect(ob2.openIncidents().map((o) => o.id)).toEqual(["a"]);
    const ev = ob2.pending()[2] as { bytes: Uint8Array; media: string };
    expect([...ev.bytes]).toEqual([9, 9]);
    expect(ev.media).toBe("jpeg");
    srv.up = true;
    ob2.attach(srv);
    await settle(ob2);
    expect([...srv.known.keys()].sort()).toEqual(["a", "b"]);
    expect(srv.uploads).toEqual([{ id: "b", capturedAt: 1234, bytes: 2 }]);
    const reloaded = await Outbox.open(s1, fast);
    expect(reloaded.pending()).toHaveLength(0);
  });

  it("a chat message written offline survives a reload and is sent once, with its id", async () => {
    const factory = new IDBFactory();
    const srv = new FakeServer();
    let s1 = await storage(factory, "chat");
    const ob1 = await Outbox.open(s1, { baseDelayMs: 60_000 });
    srv.chatReplies = ["lost"];
    ob1.attach(srv);
    await ob1.chat({ id: "c1", text: "Is the second page missing?" });
    await new Promise((r) => setTimeout(r, 5));
    srv.up = false;
    await ob1.chat({ id: "c2", text: "Line one\nline two" });
    ob1.close();
    s1.close();

    s1 = await storage(factory, "chat");
    const ob2 = await Outbox.open(s1, fast);
    expect(ob2.pending().map((i) => (i.type === "chat" ? [i.id, i.payload.text] : [i.type]))).toEqual([
      ["c1", "Is the second page missing?"],
      ["c2", "Line one\nline two"],
    ]);
    srv.up = true;
    ob2.attach(srv);
    await settle(ob2);
    expect([...srv.chats.values()].map((m) => [m.seq, m.id])).toEqual([
      [1, "c1"],
      [2, "c2"],
    ]);
    expect(srv.chatSent.map((m) => m.id)).toEqual(["c1", "c1", "c2"]);
    expect((await Outbox.open(s1, fast)).pending()).toHaveLength(0);
  });

  it("never moves the stored counter backwards", async () => {
    const factory = new IDBFactory();
    const s = await storage(factory, "c");
    await s.setSeq(10);
    await s.setSeq(3);
    expect((await s.load()).seq).toBe(10);
  });
});
