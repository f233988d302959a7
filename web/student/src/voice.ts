// Page side of the voice detector, for exams with the microphone on: an
// AudioWorklet copies the microphone's samples to the voice worker over a
// channel of their own (voice.worklet.ts → voice.worker.ts), and the worker's
// results come back here, and so do sound clips asked for as evidence. A
// worker that fails is tried again a few times; the rest of the page goes on
// without it.

import workletUrl from "./voice.worklet.ts?worker&url";
import type { ModelDirs } from "./models.ts";
import { RateMeter } from "./rate-meter.ts";
import type { FromVoiceWorker, ToVoiceWorker, VoiceResult } from "./worker-protocol.ts";

const RETRY_MS = 10_000;
const MAX_RESTARTS = 5;
/** A clip takes 3 s of audio after it is asked for; past this it is given up. */
const CLIP_TIMEOUT_MS = 8_000;

export interface SoundClip {
  wav: Uint8Array;
  /** When its first sample was heard (ms since epoch, page clock). */
  capturedAt: number;
  durationMs: number;
}

export class Voice {
  ready = false;
  restarts = 0;
  lastError = "";
  /** Results per second over the last few seconds (about 10 when it keeps up). */
  rate = 0;
  onResult: (r: VoiceResult) => void = () => {};
  onStatus: () => void = () => {};
  private ctx: AudioContext | null = null;
  private node: AudioWorkletNode | null = null;
  private worker: Worker | null = null;
  private readonly meter = new RateMeter();
  private retry: ReturnType<typeof setTimeout> | null = null;
  private readonly clips = new Map<string, { resolve: (c: SoundClip) => void; reject: (e: Error) => void }>();
  private stopped = false;

  constructor(
    private readonly track: MediaStreamTrack,
    /** Where the model files are (models.ts), read from the manifest once for the page. */
    private readonly models: () => Promise<ModelDirs>,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    const ctx = new AudioContext();
    this.ctx = ctx;
    await ctx.audioWorklet.addModule(workletUrl);
    const node = new AudioWorkletNode(ctx, "vigil-voice-capture", { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: "explicit" });
    this.node = node;
    ctx.createMediaStreamSource(new MediaStream([this.track])).connect(node);
    // Connected to the output, so that every browser keeps pulling it; it writes silence.
    node.connect(ctx.destination);
    if (ctx.state === "suspended") {
      // Started without a click (a reload mid-exam): the first one resumes it.
      const resume = () => void ctx.resume();
      for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, resume, { once: true });
      void ctx.resume().catch(() => undefined);
    }
    this.spawn();
  }

  /** A clip of the 2 s before now and the 3 s after (clip.ts), as evidence of incident `id`. */
  clip(id: string): Promise<SoundClip> {
    const w = this.worker;
    if (!w || !this.ready) return Promise.reject(new Error("voice worker not ready"));
    return new Promise((resolve, reject) => {
      this.clips.set(id, { resolve, reject });
      w.postMessage({ type: "clip", id } satisfies ToVoiceWorker);
      setTimeout(() => {
        if (this.clips.delete(id)) reject(new Error("sound clip timed out"));
      }, CLIP_TIMEOUT_MS);
    });
  }

  stop(): void {
    this.stopped = true;
    this.failClips("the microphone stopped");
    if (this.retry) clearTimeout(this.retry);
    this.worker?.terminate();
    this.worker = null;
    this.node?.disconnect();
    void this.ctx?.close().catch(() => undefined);
    this.ctx = null;
    this.ready = false;
  }

  /** Reads where the models are, then starts the worker; a manifest that cannot be read fails like a worker (tried again). */
  private spawn(): void {
    this.models().then(
      (models) => {
        if (!this.stopped) this.spawnWith(models);
      },
      (e: unknown) => {
        if (!this.stopped) this.fail(e instanceof Error ? e.message : String(e));
      },
    );
  }

  private spawnWith(models: ModelDirs): void {
    if (!this.node) return;
    const w = new Worker(new URL("./voice.worker.ts", import.meta.url), { type: "module", name: "vigil-voice" });
    this.worker = w;
    this.ready = false;
    const channel = new MessageChannel();
    this.node.port.postMessage({ port: channel.port1 }, [channel.port1]);
    w.postMessage({ type: "init", models, port: channel.port2 } satisfies ToVoiceWorker, [channel.port2]);
    w.onmessage = ({ data }: MessageEvent<FromVoiceWorker>) => {
      if (w !== this.worker) return;
      switch (data.type) {
        case "ready":
          this.ready = true;
          this.onStatus();
          break;
        case "voice": {
          this.rate = this.meter.tick(performance.now());
          this.onResult(data);
          break;
        }
        case "clip": {
          const waiting = this.clips.get(data.id);
          this.clips.delete(data.id);
          waiting?.resolve({ wav: new Uint8Array(data.wav), capturedAt: data.startedAt, durationMs: data.durationMs });
          break;
        }
        case "error":
          this.lastError = data.error;
          if (data.fatal) this.fail(data.error);
          break;
      }
    };
    w.onerror = (e) => {
      e.preventDefault();
      this.fail(e.message || "voice worker error");
    };
  }

  private failClips(why: string): void {
    for (const c of this.clips.values()) c.reject(new Error(why));
    this.clips.clear();
  }

  private fail(error: string): void {
    this.lastError = error;
    this.failClips(error);
    this.worker?.terminate();
    this.worker = null;
    this.ready = false;
    this.onStatus();
    if (this.stopped || this.restarts >= MAX_RESTARTS) return;
    this.restarts += 1;
    this.retry = setTimeout(() => {
      if (!this.stopped) this.spawn();
    }, RETRY_MS);
  }
}
