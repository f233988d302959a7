// The status line in the header: connection, camera check, backlog, live video.

import type { Publisher } from "./rtc.ts";
import type { Vision } from "./vision.ts";

export interface StatusInputs {
  connected: boolean;
  vision: Vision | null;
  /** Incidents, ends and frames not yet acknowledged. */
  pending: number;
  publisher: Publisher | null;
}

export function statusLine(s: StatusInputs): string {
  const parts = [s.connected ? "Connected" : "Reconnecting…"];
  if (s.vision) parts.push(s.vision.healthy ? `Camera check ${s.vision.fps.toFixed(0)}/s` : "Camera check starting…");
  if (s.pending > 0) parts.push(`${s.pending} to send`);
  if (s.publisher?.state === "connected") {
    const up = s.publisher.uplinkBps;
    parts.push(up ? `Video live (upload about ${(up / 1e6).toFixed(1)} Mbit/s)` : "Video live");
  }
  return parts.join(" · ");
}
