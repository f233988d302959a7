// The status line in the header: connection, camera check, backlog, live video.

import type { Publisher } from "./rtc.ts";
import { reducedWords } from "./uplink.ts";
import type { Vision } from "./vision.ts";

export interface StatusInputs {
  connected: boolean;
  vision: Vision | null;
  /** Incidents, ends, frames and chat messages not yet acknowledged. */
  pending: number;
  publisher: Publisher | null;
  /** Exam time left (ms) by the server's clock, while it runs; null otherwise. */
  timeLeftMs?: number | null;
}

/** `1:05:09` or `4:07`. */
export function clockText(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const [h, m, sec] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const two = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

export function statusLine(s: StatusInputs): string {
  const parts = [s.connected ? "Connected" : "Reconnecting…"];
  if (s.timeLeftMs != null) parts.push(`Time left ${clockText(s.timeLeftMs)}`);
  if (s.vision) parts.push(s.vision.healthy ? `Camera check ${s.vision.fps.toFixed(0)}/s` : "Camera check starting…");
  if (s.pending > 0) parts.push(`${s.pending} to send`);
  if (s.publisher?.state === "connected") {
    const up = s.publisher.uplinkBps;
    // A reduced plan is said: the student knows the proctor sees less, and why.
    const reduced = reducedWords(s.publisher.plan);
    const detail = [up ? `upload about ${(up / 1e6).toFixed(1)} Mbit/s` : null, reduced].filter((x) => x !== null);
    parts.push(detail.length ? `Video live (${detail.join("; ")})` : "Video live");
  }
  return parts.join(" · ");
}
