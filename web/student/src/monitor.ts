// Monitoring: camera results and page events go through the debouncer, and
// what it raises goes into the persistent outbox, with an evidence frame when
// the exam keeps them (for a voice, a sound clip where the exam keeps sound).
// The outbox opens at the first welcome (incidents left open by an earlier
// page life end then) and lives as long as the page; the student's chat
// messages go through it too.

import type { ChatSend, ExamSettings, IncidentReport, StudentWelcome } from "@proto";
import type { Camera } from "./camera.ts";
import { Debouncer, applyThresholds, type Action, type DebounceConfig, type StateKind } from "./debounce.ts";
import type { Direction } from "./gaze.ts";
import { IdbStorage } from "./idb-storage.ts";
import { MemoryStorage, Outbox, type Outcome, type OutboxItem, type OutboxStorage } from "./outbox.ts";
import type { Session } from "./session.ts";
import type { Voice } from "./voice.ts";
import type { FrameResult, ObjectsResult, VoiceResult } from "./worker-protocol.ts";

export type RaiseAction = Extract<Action, { type: "raise" }>;
export type EndAction = Extract<Action, { type: "end" }>;

/** Sees what monitoring does; only the test build has one (test-hooks.ts). */
export interface Probe {
  raised(a: RaiseAction): void;
  ended(a: EndAction): void;
  settled(item: OutboxItem, outcome: Outcome): void;
}

export class Monitor {
  private outbox: Outbox | null = null;
  private opening: Promise<Outbox> | null = null;
  private debouncer: Debouncer | null = null;
  private disabled: readonly string[] = [];
  private active = false;
  /** Off when the exam keeps no frames (its privacy tier, or the server refused one). */
  private evidence = true;
  /** On when the exam keeps sound clips of voices (recording tier, microphone on), until the server refuses one. */
  private clips = false;
  /** The voice detector, while the exam uses the microphone (main.ts sets it). */
  voiceDetector: Voice | null = null;
  /** The page's thresholds with the exam's (the student's) over them. */
  private config: DebounceConfig;
  /** Where the student looked while calibrating (gaze.ts), kept across settings changes. */
  private screen: Direction | null = null;
  /** Resolves with the outbox once the first welcome opened it. */
  private readonly ready: Promise<Outbox>;
  private opened: (o: Outbox) => void = () => undefined;
  /** Sees every item leave the outbox (the chat panel follows its messages here). */
  onSettled: ((item: OutboxItem, outcome: Outcome) => void) | null = null;

  constructor(
    private readonly session: Session,
    private readonly camera: Camera,
    /** The page's own thresholds (defaults, and the join URL's knobs). */
    private readonly baseConfig: DebounceConfig,
    private readonly onChange: () => void,
    private readonly probe?: Probe,
  ) {
    this.config = baseConfig;
    this.ready = new Promise((r) => {
      this.opened = r;
    });
  }

  /** Items not yet acknowledged by the server; -1 before the outbox is open. */
  pending(): number {
    return this.outbox ? this.outbox.pending().length : -1;
  }

  /** Every welcome (first connect and reconnects): resume sending from the server's sequence number. */
  async welcome(w: StudentWelcome): Promise<void> {
    this.applySettings(w.settings);
    // A reconnect's welcome can come while the first is still opening IndexedDB: one outbox.
    this.opening ??= this.open(w);
    const outbox = await this.opening;
    await outbox.serverNextSeq(w.next_seq);
    outbox.kick();
  }

  /**
   * The exam's settings, from a welcome or changed live: what is collected,
   * which detectors run and their thresholds (the welcome's and
   * exam_settings' are already this student's, accommodations merged). A
   * detector switched off ends its open incident.
   */
  applySettings(s: ExamSettings): void {
    this.evidence = s.privacy !== "events_only";
    this.clips = s.privacy === "recording" && s.microphone;
    this.disabled = s.disabled_detectors;
    this.config = { ...applyThresholds(this.baseConfig, s.thresholds), screen: this.screen };
    this.debouncer?.setConfig(this.config);
    if (this.debouncer) for (const a of this.debouncer.setDisabled(s.disabled_detectors, this.session.now())) void this.act(a);
  }

  /** The gaze calibration: looking away counts from there (head and eyes) from the next frame on. */
  setScreen(screen: Direction | null): void {
    this.screen = screen;
    this.config = { ...this.config, screen };
    this.debouncer?.setConfig(this.config);
  }

  /** The debouncer's thresholds now (the test build shows them). */
  thresholds(): DebounceConfig {
    return this.config;
  }

  /** Queues a chat message in the outbox (persisted before its first send). */
  async chat(message: ChatSend): Promise<void> {
    await (await this.ready).chat(message);
  }

  /** The chat messages an earlier page life left unsent, once the outbox is open. */
  async pendingChats(): Promise<ChatSend[]> {
    const ob = await this.ready;
    return ob.pending().flatMap((i) => (i.type === "chat" ? [i.payload] : []));
  }

  private async open(w: StudentWelcome): Promise<Outbox> {
    let storage: OutboxStorage;
    try {
      storage = await IdbStorage.open(`vigil-outbox:${w.exam_id}:${w.student.id}`);
    } catch {
      storage = new MemoryStorage(); // private mode without IndexedDB: still works, just not across reloads
    }
    const outbox = await Outbox.open(storage, {
      events: {
        settled: (item, outcome) => {
          this.probe?.settled(item, outcome);
          this.onSettled?.(item, outcome);
          this.onChange();
        },
        evidenceRefused: (media) => {
          if (media === "wav") this.clips = false;
          else this.evidence = false;
        },
      },
    });
    // Incidents left open by an earlier page life end now.
    for (const o of outbox.openIncidents()) await outbox.end(o.id, Math.max(o.started_at, this.session.now()));
    outbox.attach(this.session);
    this.outbox = outbox;
    this.opened(outbox);
    return outbox;
  }

  /** The socket is back: send what waited. */
  kick(): void {
    this.outbox?.kick();
  }

  /** Resolves once everything queued has been acknowledged. */
  drained(): Promise<void> {
    return this.outbox ? this.outbox.drained() : Promise.resolve();
  }

  start(): void {
    this.debouncer ??= new Debouncer(() => crypto.randomUUID(), this.disabled, this.config);
    this.active = true;
  }

  /** Ends every open incident now and stops raising new ones. */
  stop(): void {
    if (this.debouncer) for (const a of this.debouncer.endAll(this.session.now())) void this.act(a);
    this.active = false;
  }

  observe(r: FrameResult): void {
    if (!this.active || !this.debouncer) return;
    const obs: Parameters<Debouncer["observe"]>[0] = { at: r.at + this.session.offsetMs, faces: r.faces, brightness: r.brightness };
    if (r.yawDeg !== undefined) obs.yawDeg = r.yawDeg;
    if (r.pitchDeg !== undefined) obs.pitchDeg = r.pitchDeg;
    if (r.eyeYawDeg !== undefined) obs.eyeYawDeg = r.eyeYawDeg;
    if (r.eyePitchDeg !== undefined) obs.eyePitchDeg = r.eyePitchDeg;
    if (r.confidence !== undefined) obs.confidence = r.confidence;
    for (const a of this.debouncer.observe(obs)) void this.act(a);
  }

  /** What the object detector saw on a frame (a few times a second). */
  objects(r: ObjectsResult): void {
    if (!this.active || !this.debouncer) return;
    for (const a of this.debouncer.objects(r.at + this.session.offsetMs, r.phoneScore)) void this.act(a);
  }

  /** What the voice detector heard (every ~100 ms). */
  voice(r: VoiceResult): void {
    if (!this.active || !this.debouncer) return;
    for (const a of this.debouncer.voice(r.at + this.session.offsetMs, r.speech)) void this.act(a);
  }

  /** A page condition (tab hidden, window blurred, …) started or stopped holding. */
  pageState(kind: StateKind, holds: boolean, detail?: string): void {
    if (!this.active || !this.debouncer) return;
    for (const a of this.debouncer.state(kind, holds, this.session.now(), detail)) void this.act(a);
  }

  copyPaste(detail: string): void {
    if (!this.active || !this.debouncer) return;
    for (const a of this.debouncer.instant("copy_paste", this.session.now(), detail)) void this.act(a);
  }

  /** Debounce deadlines pass without new input (a face missing for 3 s raises at 3 s). */
  tick(): void {
    if (!this.active || !this.debouncer) return;
    for (const a of this.debouncer.tick(this.session.now())) void this.act(a);
  }

  private async act(a: Action): Promise<void> {
    const ob = this.outbox;
    if (!ob) return;
    if (a.type === "end") {
      this.probe?.ended(a);
      await ob.end(a.id, a.ended_at);
      return;
    }
    this.probe?.raised(a);
    const report: Omit<IncidentReport, "seq"> = { id: a.id, kind: a.kind, started_at: a.started_at };
    if (a.ended_at !== undefined) report.ended_at = a.ended_at;
    if (a.confidence !== undefined) report.confidence = a.confidence;
    if (a.detail !== undefined) report.detail = a.detail;
    const queued = ob.incident(report);
    if (this.evidence && this.clips && a.kind === "voice_detected" && this.voiceDetector) {
      try {
        const clip = await this.voiceDetector.clip(a.id);
        await queued;
        await ob.evidence(a.id, clip.wav, clip.capturedAt + this.session.offsetMs, "wav");
        return;
      } catch {
        /* no clip (the microphone stopped): a frame instead */
      }
    }
    const vision = this.camera.vision;
    if (this.evidence && vision) {
      try {
        const ev = await vision.capture(a.id);
        await queued;
        await ob.evidence(a.id, ev.jpeg, ev.capturedAt + this.session.offsetMs);
      } catch {
        /* no frame to show (camera gone): the incident stands without one */
      }
    }
    await queued;
  }
}
