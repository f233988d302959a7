/**
 * The proctor's live connection: Socket.IO `/proctor` plus the HTTP snapshot.
 *
 * Socket.IO has no state recovery, so after every (re)connect the page
 * fetches the exam snapshot over HTTP, loads it into the store (which
 * replaces everything), and only then applies the updates that arrived
 * meanwhile; the store drops those not newer than the snapshot (by `seq`
 * for scores, by time for presence and quality). Until that is done, and
 * whenever the socket is down, the status says so and the UI greys the grid.
 */
import type {
  ActionRequest,
  Exam,
  ExamSnapshot,
  IncidentRecord,
  PresenceUpdate,
  QualityUpdate,
  RequestAck,
  ScoreUpdate,
  SessionUpdate,
  StudentView,
} from "@proto";
import { EVENTS } from "@proto";
import type { Listener, ScoreStore } from "../store/scoreStore";
import { ApiError } from "./api";
import { ask, type ProctorSocket } from "./socket";

export interface SnapshotSource {
  snapshot(): Promise<ExamSnapshot>;
}

export type ConnectionStatus =
  | { kind: "connecting" }
  | { kind: "syncing" }
  | { kind: "live"; since: number }
  | { kind: "reconnecting"; detail: string }
  | { kind: "refused"; detail: string };

export interface ConnectionHooks {
  /** After a score update reached the store (`applied`: it was newer). */
  onScore?(update: ScoreUpdate, applied: boolean): void;
  onIncident?(record: IncidentRecord): void;
  /** After each snapshot load, with the snapshot. */
  onSnapshot?(snapshot: ExamSnapshot): void;
  /** After a session change reached the store (in order, after the snapshot it follows). */
  onSession?(update: SessionUpdate): void;
}

type Buffered =
  | { t: "score"; v: ScoreUpdate }
  | { t: "incident"; v: IncidentRecord }
  | { t: "presence"; v: PresenceUpdate }
  | { t: "quality"; v: QualityUpdate }
  | { t: "exam"; v: Exam }
  | { t: "student"; v: StudentView }
  | { t: "session"; v: SessionUpdate };

/** Reasons after which retrying the connection cannot help. */
const FATAL = /^(missing_token|invalid_token|expired_token|wrong_scope|unknown_exam|forbidden)\b/;

export class Connection {
  private statusValue: ConnectionStatus = { kind: "connecting" };
  private readonly listeners = new Set<Listener>();
  /** Counts connects; a snapshot answer for an older connect is ignored. */
  private generation = 0;
  private buffer: Buffered[] | null = null;
  private closed = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly socket: ProctorSocket,
    private readonly api: SnapshotSource,
    private readonly store: ScoreStore,
    private readonly hooks: ConnectionHooks = {},
    private readonly retryMs = 1000,
  ) {
    socket.on("connect", this.onConnect);
    socket.on("disconnect", this.onDisconnect);
    socket.on("connect_error", this.onConnectError);
    socket.on(EVENTS.SCORE, (v) => this.receive({ t: "score", v }));
    socket.on(EVENTS.INCIDENT_NOTICE, (v) => this.receive({ t: "incident", v }));
    socket.on(EVENTS.PRESENCE, (v) => this.receive({ t: "presence", v }));
    socket.on(EVENTS.QUALITY, (v) => this.receive({ t: "quality", v }));
    socket.on(EVENTS.EXAM, (v) => this.receive({ t: "exam", v }));
    socket.on(EVENTS.STUDENT_ADDED, (v) => this.receive({ t: "student", v }));
    socket.on(EVENTS.SESSION, (v) => this.receive({ t: "session", v }));
  }

  get status(): ConnectionStatus {
    return this.statusValue;
  }
  getStatus = (): ConnectionStatus => this.statusValue;
  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  /** Sends a proctor action; resolves with the server's ack (or a timeout rejection). */
  async action(req: ActionRequest, timeoutMs = 5000): Promise<RequestAck> {
    if (this.statusValue.kind !== "live") {
      return { status: "rejected", reason: "unavailable", message: "not connected" };
    }
    try {
      return await ask(this.socket, timeoutMs, EVENTS.ACTION, req);
    } catch {
      return { status: "rejected", reason: "unavailable", message: "no answer from the server" };
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket.disconnect();
  }

  private setStatus(s: ConnectionStatus): void {
    if (this.statusValue.kind === "refused") return; // final
    this.statusValue = s;
    for (const l of [...this.listeners]) l();
  }

  private onConnect = (): void => {
    const gen = ++this.generation;
    this.buffer = [];
    this.setStatus({ kind: "syncing" });
    void this.sync(gen);
  };

  private async sync(gen: number): Promise<void> {
    try {
      const snap = await this.api.snapshot();
      if (gen !== this.generation || this.closed) return;
      this.store.loadSnapshot(snap);
      this.hooks.onSnapshot?.(snap);
      const pending = this.buffer ?? [];
      this.buffer = null;
      for (const b of pending) this.apply(b);
      this.setStatus({ kind: "live", since: Date.now() });
    } catch (e) {
      if (gen !== this.generation || this.closed) return;
      if (e instanceof ApiError && e.fatal) {
        this.setStatus({ kind: "refused", detail: e.message });
        this.closed = true;
        this.socket.disconnect();
        return;
      }
      this.setStatus({ kind: "reconnecting", detail: `snapshot failed: ${e instanceof Error ? e.message : String(e)}` });
      this.retryTimer = setTimeout(() => {
        if (gen !== this.generation || this.closed) return;
        // The next snapshot covers everything buffered so far: keep only what follows it.
        this.buffer = [];
        void this.sync(gen);
      }, this.retryMs);
    }
  }

  private onDisconnect = (reason: string): void => {
    this.generation++;
    this.buffer = null;
    if (this.closed) return;
    this.setStatus({ kind: "reconnecting", detail: reason });
    // The server closed us on purpose: socket.io-client will not retry by itself.
    if (reason === "io server disconnect") this.socket.connect();
  };

  private onConnectError = (err: Error): void => {
    const message = err?.message ?? String(err);
    if (FATAL.test(message) || !this.socket.active) {
      this.setStatus({ kind: "refused", detail: message });
      this.closed = true;
      this.socket.disconnect();
    } else {
      this.setStatus({ kind: "reconnecting", detail: message });
    }
  };

  private receive(b: Buffered): void {
    if (this.buffer) this.buffer.push(b);
    else if (this.statusValue.kind === "live") this.apply(b);
    // Otherwise (between disconnect and the next snapshot) the snapshot covers it.
  }

  private apply(b: Buffered): void {
    switch (b.t) {
      case "score": {
        const applied = this.store.applyScore(b.v);
        this.hooks.onScore?.(b.v, applied);
        break;
      }
      case "incident":
        this.store.applyIncident(b.v);
        this.hooks.onIncident?.(b.v);
        break;
      case "presence":
        this.store.applyPresence(b.v);
        break;
      case "quality":
        this.store.applyQuality(b.v);
        break;
      case "exam":
        this.store.applyExam(b.v);
        break;
      case "student":
        this.store.addStudent(b.v);
        break;
      case "session":
        this.store.applySession(b.v);
        this.hooks.onSession?.(b.v);
        break;
    }
  }
}
