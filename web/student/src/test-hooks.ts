// `window.__vigil`: the browser tests' and the benchmark's view into the page
// (state, raise → ack latencies, per-frame inference times, long tasks).
// Only the test build has it (`vite build --mode test`, into dist-test/);
// main.ts installs it under `import.meta.env.MODE === "test"`, so the
// production bundle leaves this module out, which scripts/check-bundle.mjs
// verifies after every production build.

import type { Camera } from "./camera.ts";
import type { ChatLine } from "./chat.ts";
import type { DebounceConfig } from "./debounce.ts";
import type { Direction } from "./gaze.ts";
import type { Probe } from "./monitor.ts";
import type { PhaseName } from "./phase.ts";
import type { Publisher } from "./rtc.ts";
import type { Session } from "./session.ts";
import type { FrameResult, ObjectsResult, VoiceResult } from "./worker-protocol.ts";

/** What the hooks read, each looked up when a test asks. */
export interface Inspected {
  phase: () => PhaseName;
  session: () => Session;
  camera: () => Camera;
  /** Outbox items not yet acknowledged; -1 before the outbox is open. */
  pending: () => number;
  publisher: () => Publisher | null;
  /** The chat as shown, oldest first. */
  chat: () => ChatLine[];
  /** The detectors' thresholds now (the page's, with the exam's over them). */
  thresholds: () => DebounceConfig;
  /** The gaze calibration (where the screen is for the eyes), or null before it is done. */
  calibration: () => Direction | null;
  /** The voice detector's state, in exams with the microphone on. */
  voice: () => { ready: boolean; rate: number; restarts: number; lastError: string } | null;
}

interface LongFrame extends PerformanceEntry {
  blockingDuration: number;
  scripts: Array<{ duration: number; sourceURL: string; invoker: string }>;
}

/** Publishes `window.__vigil`; returns the probe that records what monitoring does, and a per-frame recorder. */
export function installTestHooks(app: Inspected): {
  probe: Probe;
  frame: (r: FrameResult) => void;
  objects: (r: ObjectsResult) => void;
  voice: (r: VoiceResult) => void;
} {
  const metrics = {
    raiseToAck: [] as Array<{ id: string; kind: string; ms: number; duplicate: boolean }>,
    frames: [] as Array<{ model: string; inferMs: number; at: number; frameIndex?: number }>,
    /** The object detector's results: when, how long it took, its best phone score. */
    objects: [] as Array<{ at: number; inferMs: number; phoneScore: number; labels: string[] }>,
    /** The voice detector's results: when, and its speech probability. */
    voice: [] as Array<{ at: number; speech: number }>,
    longTasks: [] as Array<{ start: number; duration: number; phase: string }>,
    longFrames: [] as Array<{ start: number; duration: number; blocking: number; scripts: Array<{ ms: number; what: string }>; phase: string }>,
    raised: [] as Array<{ id: string; kind: string; started_at: number; raised_at: number }>,
    ended: [] as Array<{ id: string; kind: string; ended_at: number }>,
    evidence: [] as Array<{ id: string; outcome: string; bytes: number; media: string }>,
    dropped: [] as Array<{ type: string; id: string; reason: string }>,
  };
  const raisedAtPerf = new Map<string, number>();
  // What earlier lives of this tab raised: a reload test reads it after the
  // reload, with no race against an incident raised just before it.
  const RAISED_KEY = "vigil.test.raised";
  const raisedEarlier = ((): Array<{ id: string; kind: string }> => {
    try {
      return JSON.parse(sessionStorage.getItem(RAISED_KEY) ?? "[]") as Array<{ id: string; kind: string }>;
    } catch {
      return [];
    }
  })();
  // This life's raises after the earlier ones, written whole at each raise.
  const raisedInTab = [...raisedEarlier];

  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) metrics.longTasks.push({ start: e.startTime, duration: e.duration, phase: app.phase() });
    }).observe({ type: "longtask", buffered: true });
  } catch {
    /* no long-task timing in this browser */
  }
  // Long animation frames name the scripts that ran in them: the share of a
  // long frame that is our code, as opposed to the browser's own work.
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as LongFrame[]) {
        const scripts = e.scripts.map((x) => ({ ms: x.duration, what: `${x.invoker} ${x.sourceURL.split("/").pop() ?? ""}` }));
        metrics.longFrames.push({ start: e.startTime, duration: e.duration, blocking: e.blockingDuration, scripts, phase: app.phase() });
      }
    }).observe({ type: "long-animation-frame", buffered: true });
  } catch {
    /* no long-animation-frame timing in this browser */
  }

  const probe: Probe = {
    raised(a) {
      raisedAtPerf.set(a.id, performance.now());
      metrics.raised.push({ id: a.id, kind: a.kind, started_at: a.started_at, raised_at: a.raised_at });
      raisedInTab.push({ id: a.id, kind: a.kind });
      sessionStorage.setItem(RAISED_KEY, JSON.stringify(raisedInTab));
    },
    ended(a) {
      metrics.ended.push({ id: a.id, kind: a.kind, ended_at: a.ended_at });
    },
    settled(item, outcome) {
      if (outcome.result === "dropped") metrics.dropped.push({ type: item.type, id: item.id, reason: outcome.reason });
      if (item.type === "incident") {
        const t0 = raisedAtPerf.get(item.id);
        if (t0 !== undefined && outcome.result === "delivered") {
          metrics.raiseToAck.push({ id: item.id, kind: item.payload.kind, ms: performance.now() - t0, duplicate: outcome.duplicate });
          raisedAtPerf.delete(item.id);
        }
      }
      if (item.type === "evidence") {
        metrics.evidence.push({ id: item.id, outcome: outcome.result === "delivered" ? "stored" : outcome.reason, bytes: item.bytes.byteLength, media: item.media });
      }
    },
  };

  Object.assign(window, {
    __vigil: {
      metrics,
      /** The incidents this tab raised in its earlier page lives (`{id, kind}`), kept in sessionStorage. */
      raisedEarlier: () => raisedEarlier,
      phase: app.phase,
      pending: app.pending,
      crashWorker: () => app.camera().vision?.crash(),
      /** The inference worker's page side: `restarts`, `healthy`, `model`, `webgl`. */
      vision: () => app.camera().vision,
      /** The WebRTC publisher: `state`, and `stats()` for the outbound layers. */
      publisher: app.publisher,
      /** Page clock when the camera started, to place server timestamps in the test video. */
      cameraStartedAt: () => app.camera().startedAt,
      /** Page clock when the microphone started, to place server timestamps in the test audio. */
      microphoneStartedAt: () => app.camera().microphoneStartedAt,
      /** Server clock − page clock (ms). */
      clockOffsetMs: () => app.session().offsetMs,
      /** Stops the socket's reconnection attempts (the durability test reloads with a full outbox). */
      stopReconnecting: () => {
        app.session().socket.io.reconnection(false);
      },
      /** Takes the socket down (the server sees a disconnect) until `restoreConnection`. */
      dropConnection: () => {
        app.session().socket.disconnect();
      },
      /** Connects again: a new welcome, and with it a chat sync. */
      restoreConnection: () => {
        app.session().socket.connect();
      },
      /** Whether the socket is connected. */
      connected: () => app.session().socket.connected,
      /** The chat as shown: `{seq, from, text, announcement}` stored, `{id, state, text, error}` not yet. */
      chat: () =>
        app.chat().map((l) =>
          l.kind === "stored"
            ? { seq: l.message.seq, id: l.message.id, from: l.message.from, text: l.message.text, announcement: l.announcement }
            : { id: l.local.id, state: l.local.state, text: l.local.text, error: l.local.error },
        ),
      thresholds: app.thresholds,
      calibration: app.calibration,
      voice: app.voice,
    },
  });

  return {
    probe,
    frame: (r) => {
      // Bounded: a long benchmark run must not grow the page without end.
      if (metrics.frames.length < 20_000) {
        metrics.frames.push({ model: r.model, inferMs: r.inferMs, at: r.at, ...(r.frameIndex !== undefined ? { frameIndex: r.frameIndex } : {}) });
      }
    },
    voice: (r) => {
      if (metrics.voice.length < 20_000) metrics.voice.push({ at: r.at, speech: r.speech });
    },
    objects: (r) => {
      if (metrics.objects.length < 5_000) {
        metrics.objects.push({ at: r.at, inferMs: r.inferMs, phoneScore: r.phoneScore, labels: r.detections.map((d) => `${d.label} ${d.score.toFixed(2)}`) });
      }
    },
  };
}
