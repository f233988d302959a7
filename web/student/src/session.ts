// The connection to the server: Socket.IO /student (welcome, incidents and
// chat messages with acks, chat sync, session changes, signals, heartbeats,
// proctor actions, WebRTC signalling), the evidence upload and the identity
// photos, wired to the outbox as its transport.

import type {
  AssessmentEntry,
  ChatAck,
  ChatHistory,
  ChatMessage,
  ChatSend,
  EvidenceMedia,
  ExamSettings,
  Heartbeat,
  IdentityPhotoKind,
  IncidentAck,
  ProctorAction,
  RequestAck,
  SessionView,
  Signals,
  StudentWelcome,
} from "@proto";
import { EVENTS } from "@proto";
import { io } from "socket.io-client";
import type { IncidentMessage, Transport, UploadResult } from "./outbox.ts";
import { ask, askBare, type BareEvent, type StudentSocket } from "./socket.ts";

/** How long an incident or its end waits for the server's ack before the outbox retries it. */
const ACK_TIMEOUT_MS = 5000;

export interface TokenClaims {
  exam?: string;
  sub?: string;
  exp?: number;
}

/** Reads (without verifying: the server does that) the claims of a JWT. */
export function tokenClaims(token: string): TokenClaims {
  try {
    const part = token.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    return JSON.parse(json) as TokenClaims;
  } catch {
    return {};
  }
}

/** `#token=…` from the join link. */
export function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const t = params.get("token");
  return t && t.length > 10 ? t : null;
}

export interface SessionHandlers {
  welcome(w: StudentWelcome): void;
  connected(up: boolean): void;
  /** The server refused us ("reason: text"); no automatic retry. */
  refused(reason: string, text: string): void;
  action(a: ProctorAction): void;
  /** The learning platform's assessment changed (it ended the attempt). */
  assessment(a: AssessmentEntry): void;
  /** The exam's settings changed (an instructor edited them during the exam). */
  settings(s: ExamSettings): void;
  /** The exam's access code was set or replaced: ask for it again. */
  accessCodeChanged(): void;
  /** The server changed the session (a pause, a resume, a break, the identity check's decision, the end). */
  session(v: SessionView): void;
  /** A chat message of the student's conversation, or an announcement. */
  chat(m: ChatMessage): void;
}

export class Session implements Transport {
  readonly socket: StudentSocket;
  /** server clock − page clock, from the last welcome (ms). */
  offsetMs = 0;

  constructor(
    private origin: string,
    private token: string,
    h: SessionHandlers,
  ) {
    this.socket = io(`${origin}${EVENTS.STUDENT_NS}`, {
      auth: { token },
      transports: ["websocket"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    this.socket.on(EVENTS.WELCOME, (w) => {
      this.offsetMs = w.server_time - Date.now();
      h.welcome(w);
    });
    this.socket.on("connect", () => h.connected(true));
    this.socket.on("disconnect", () => h.connected(false));
    this.socket.on("connect_error", (err) => {
      // A refusal by the server's middleware stops the client; a network
      // error leaves it retrying on its own.
      if (!this.socket.active) {
        const m = /^([a-z_]+): (.*)$/s.exec(err.message);
        h.refused(m?.[1] ?? "refused", m?.[2] ?? err.message);
      } else {
        h.connected(false);
      }
    });
    this.socket.on(EVENTS.PROCTOR_ACTION, (a) => h.action(a));
    this.socket.on(EVENTS.ASSESSMENT, (a) => h.assessment(a));
    this.socket.on(EVENTS.EXAM_SETTINGS, (s) => h.settings(s));
    this.socket.on(EVENTS.ACCESS_CODE_CHANGED, () => h.accessCodeChanged());
    this.socket.on(EVENTS.SESSION, (v) => h.session(v));
    this.socket.on(EVENTS.CHAT, (m) => h.chat(m));
  }

  /**
   * A change of the student's own session: the exam starts (its clock
   * starts) or is handed in, the identity photos are submitted, a break
   * starts or ends.
   */
  async sessionChange(event: BareEvent): Promise<RequestAck> {
    try {
      return await askBare(this.socket, ACK_TIMEOUT_MS, event);
    } catch {
      return { status: "rejected", reason: "unavailable", message: "no answer from the server" };
    }
  }

  sendChat(m: ChatSend): Promise<ChatAck> {
    return ask(this.socket, ACK_TIMEOUT_MS, EVENTS.CHAT, m);
  }

  /** `chat_sync`; rejects at once while the socket is down (the next welcome syncs again). */
  chatSync(after: number): Promise<ChatHistory> {
    if (!this.socket.connected) return Promise.reject(new Error("not connected"));
    return ask(this.socket, ACK_TIMEOUT_MS, EVENTS.CHAT_SYNC, { after });
  }

  /** Server time now. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  ready(): boolean {
    return this.socket.connected;
  }

  send(m: IncidentMessage): Promise<IncidentAck> {
    // Narrowed per event, so each payload is checked against its own event.
    return m.event === EVENTS.INCIDENT
      ? ask(this.socket, ACK_TIMEOUT_MS, m.event, m.payload)
      : ask(this.socket, ACK_TIMEOUT_MS, m.event, m.payload);
  }

  upload(incidentId: string, bytes: Uint8Array, media: EvidenceMedia, capturedAt: number): Promise<UploadResult> {
    return this.post(`/api/v1/evidence/${encodeURIComponent(incidentId)}`, bytes, media, capturedAt);
  }

  /** An identity photo; `capturedAt` is server time. */
  uploadIdentity(kind: IdentityPhotoKind, jpeg: Uint8Array, capturedAt: number): Promise<UploadResult> {
    return this.post(`/api/v1/identity/${kind}`, jpeg, "jpeg", capturedAt);
  }

  /** POSTs a JPEG or WAV with this page's token and its capture time (server clock); rejects on a network error. */
  private async post(path: string, bytes: Uint8Array, media: EvidenceMedia, capturedAt: number): Promise<UploadResult> {
    const res = await fetch(`${this.origin}${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${this.token}`,
        "content-type": media === "wav" ? "audio/wav" : "image/jpeg",
        "x-vigil-captured-at": String(Math.round(capturedAt)),
      },
      body: bytes as BodyInit,
    });
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    return { status: res.status, body };
  }

  signals(s: Signals): void {
    if (this.socket.connected) this.socket.volatile.emit(EVENTS.SIGNALS, s);
  }

  heartbeat(h: Heartbeat): void {
    if (this.socket.connected) this.socket.emit(EVENTS.HEARTBEAT, h);
  }

  close(): void {
    this.socket.close();
  }
}
