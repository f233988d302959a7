// The connection to the server: Socket.IO /student (welcome, incidents with
// acks, signals, heartbeats, proctor actions, WebRTC signalling) and the
// evidence upload, wired to the outbox as its transport.

import type { IncidentAck, IncidentEnd, IncidentReport, ProctorAction, StudentWelcome } from "@proto";
import { EVENTS } from "@proto";
import { io, type Socket } from "socket.io-client";
import type { Transport, UploadResult } from "./outbox.ts";

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
}

export class Session implements Transport {
  readonly socket: Socket;
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
    this.socket.on(EVENTS.WELCOME, (w: StudentWelcome) => {
      this.offsetMs = w.server_time - Date.now();
      h.welcome(w);
    });
    this.socket.on("connect", () => h.connected(true));
    this.socket.on("disconnect", () => h.connected(false));
    this.socket.on("connect_error", (err: Error) => {
      // A refusal by the server's middleware stops the client; a network
      // error leaves it retrying on its own.
      if (!this.socket.active) {
        const m = /^([a-z_]+): (.*)$/s.exec(err.message);
        h.refused(m?.[1] ?? "refused", m?.[2] ?? err.message);
      } else {
        h.connected(false);
      }
    });
    this.socket.on(EVENTS.PROCTOR_ACTION, (a: ProctorAction) => h.action(a));
  }

  /** Server time now. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  ready(): boolean {
    return this.socket.connected;
  }

  emit(event: "incident" | "incident_end", payload: IncidentReport | IncidentEnd): Promise<IncidentAck> {
    return this.socket.timeout(5000).emitWithAck(event, payload) as Promise<IncidentAck>;
  }

  async upload(incidentId: string, jpeg: Uint8Array, capturedAt: number): Promise<UploadResult> {
    const res = await fetch(`${this.origin}/api/v1/evidence/${encodeURIComponent(incidentId)}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${this.token}`,
        "content-type": "image/jpeg",
        "x-vigil-captured-at": String(Math.round(capturedAt)),
      },
      body: jpeg as BodyInit,
    });
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    return { status: res.status, body };
  }

  signals(s: object): void {
    if (this.socket.connected) this.socket.volatile.emit(EVENTS.SIGNALS, s);
  }

  heartbeat(h: object): void {
    if (this.socket.connected) this.socket.emit(EVENTS.HEARTBEAT, h);
  }

  close(): void {
    this.socket.close();
  }
}
