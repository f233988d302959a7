// Proof of life for the server: heartbeats every 2.5 s (page, worker and
// camera health) and signals every 1 s (the latest measurements, for the
// proctor's detection-quality indicator; never the score).

import type { Signals } from "@proto";
import type { Camera } from "./camera.ts";
import type { Session } from "./session.ts";
import type { FrameResult } from "./worker-protocol.ts";

const HEARTBEAT_MS = 2500;
const SIGNALS_MS = 1000;
/** Measurements older than this are not sent as current. */
const FRESH_MS = 2000;

export class Telemetry {
  /** The last analysed frame. */
  latest: FrameResult | null = null;
  private started = false;
  private lastHeartbeat = 0;
  private lastSignals = 0;

  constructor(
    private readonly session: Session,
    private readonly camera: Camera,
  ) {}

  /** From the first welcome on. */
  start(): void {
    if (this.started) return;
    this.started = true;
    setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    setInterval(() => this.signals(), SIGNALS_MS);
  }

  onResult(r: FrameResult): void {
    this.latest = r;
    if (!this.started) return;
    // Timers of a hidden tab are throttled (down to once a minute); worker
    // messages are not, so results also keep heartbeats and signals going.
    // The 100 ms of slack leaves the sending to the timers while they run.
    const now = performance.now();
    if (now - this.lastHeartbeat > HEARTBEAT_MS + 100) this.heartbeat();
    if (now - this.lastSignals > SIGNALS_MS + 100) this.signals();
  }

  private heartbeat(): void {
    this.lastHeartbeat = performance.now();
    const v = this.camera.vision;
    const track = this.camera.track();
    this.session.heartbeat({
      at: this.session.now(),
      inference_fps: v?.healthy ? Math.round(v.fps * 10) / 10 : 0,
      worker_ok: v ? v.healthy : false,
      worker_restarts: v?.restarts ?? 0,
      camera_live: !!track && track.readyState === "live" && !track.muted,
    });
  }

  private signals(): void {
    if (!this.camera.vision) return;
    this.lastSignals = performance.now();
    const r = this.latest;
    const sig: Signals = { at: this.session.now(), tab_visible: !document.hidden, fullscreen: !!document.fullscreenElement };
    if (r && Date.now() - r.at < FRESH_MS) {
      sig.faces = r.faces;
      sig.brightness = Math.round(r.brightness * 1000) / 1000;
      if (r.yawDeg !== undefined) sig.yaw_deg = Math.round(r.yawDeg * 10) / 10;
      if (r.pitchDeg !== undefined) sig.pitch_deg = Math.round(r.pitchDeg * 10) / 10;
      if (r.confidence !== undefined) sig.confidence = Math.round(r.confidence * 1000) / 1000;
    }
    this.session.signals(sig);
  }
}
