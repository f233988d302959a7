// Page side of the inference worker: starts it, feeds it the camera (a
// transferred MediaStreamTrackProcessor stream, so frames never touch the
// main thread; or pushed ImageBitmaps where there is no track processor),
// restarts it when it crashes or goes silent, and asks it for evidence.

import type { FrameResult, FromWorker, Model, ModelChoice, ToWorker } from "./worker-protocol.ts";

declare const MediaStreamTrackProcessor:
  | undefined
  | (new (init: { track: MediaStreamTrack; maxBufferSize?: number }) => { readable: ReadableStream<VideoFrame> });

export interface VisionOptions {
  modelsBase: string;
  model: ModelChoice;
  targetFps: number;
  /** A worker that has sent nothing for this long is restarted. */
  silentAfterMs?: number;
}

export interface Evidence {
  jpeg: Uint8Array;
  capturedAt: number;
  width: number;
  height: number;
}

export class Vision {
  worker: Worker | null = null;
  restarts = 0;
  model: Model | null = null;
  webgl: string | null = null;
  fps = 0;
  lastResultAt = 0;
  ready = false;
  lastError = "";
  onResult: (r: FrameResult) => void = () => {};
  onStatus: () => void = () => {};
  private clone: MediaStreamTrack | null = null;
  private captures = new Map<string, { resolve: (e: Evidence) => void; reject: (e: Error) => void }>();
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private startedAt = 0;
  private stopped = false;

  constructor(
    private track: MediaStreamTrack,
    private video: HTMLVideoElement,
    private opts: VisionOptions,
  ) {}

  /** Starts the worker; resolves once the models are loaded. */
  start(): Promise<void> {
    this.stopped = false;
    this.watchdog ??= setInterval(() => this.check(), 1000);
    return this.spawn();
  }

  get healthy(): boolean {
    return this.ready && performance.now() - this.lastResultAt < 3000;
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.kill();
  }

  /** JPEG of the last analysed frame. */
  capture(id: string, maxWidth = 640, quality = 0.7): Promise<Evidence> {
    const w = this.worker;
    if (!w || !this.ready) return Promise.reject(new Error("inference worker not ready"));
    return new Promise((resolve, reject) => {
      this.captures.set(id, { resolve, reject });
      this.send({ type: "capture", id, maxWidth, quality });
      setTimeout(() => {
        if (this.captures.delete(id)) reject(new Error("evidence capture timed out"));
      }, 5000);
    });
  }

  /** Test hook: makes the worker die. */
  crash(): void {
    this.send({ type: "crash" });
  }

  private send(m: ToWorker, transfer: Transferable[] = []): void {
    this.worker?.postMessage(m, transfer);
  }

  private spawn(): Promise<void> {
    const worker = new Worker(new URL("./inference.worker.ts", import.meta.url), { type: "module", name: "vigil-inference" });
    this.worker = worker;
    this.ready = false;
    this.startedAt = performance.now();
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    const readyP = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
      if (worker !== this.worker) return;
      switch (data.type) {
        case "ready":
          this.ready = true;
          this.webgl = data.webgl;
          this.model = data.model;
          this.lastResultAt = performance.now();
          this.feed();
          resolveReady();
          this.onStatus();
          break;
        case "result":
          this.lastResultAt = performance.now();
          this.fps = data.fps;
          this.model = data.model;
          this.onResult(data);
          break;
        case "want-frame":
          void this.pushFrame();
          break;
        case "model":
          this.model = data.model;
          this.onStatus();
          break;
        case "evidence": {
          const c = this.captures.get(data.id);
          this.captures.delete(data.id);
          c?.resolve({ jpeg: new Uint8Array(data.jpeg), capturedAt: data.capturedAt, width: data.width, height: data.height });
          break;
        }
        case "evidence-failed": {
          const c = this.captures.get(data.id);
          this.captures.delete(data.id);
          c?.reject(new Error(data.error));
          break;
        }
        case "error":
          this.lastError = data.error;
          if (data.fatal) {
            rejectReady(new Error(data.error));
            this.onStatus();
          }
          break;
      }
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.lastError = e.message || "worker error";
      if (!this.ready) rejectReady(new Error(this.lastError));
      else this.restart(`worker error: ${this.lastError}`);
    };
    this.send({ type: "init", modelsBase: this.opts.modelsBase, model: this.opts.model, targetFps: this.opts.targetFps });
    return readyP;
  }

  private feed(): void {
    if (typeof MediaStreamTrackProcessor === "function") {
      this.clone?.stop();
      this.clone = this.track.clone();
      const proc = new MediaStreamTrackProcessor({ track: this.clone, maxBufferSize: 1 });
      this.send({ type: "stream", readable: proc.readable }, [proc.readable]);
    } else {
      void this.pushFrame();
    }
  }

  private async pushFrame(): Promise<void> {
    if (!this.worker || this.video.readyState < 2) {
      setTimeout(() => void this.pushFrame(), 100);
      return;
    }
    const at = Date.now();
    const bitmap = await createImageBitmap(this.video);
    this.send({ type: "frame", frame: bitmap, at }, [bitmap]);
  }

  private kill(): void {
    this.worker?.terminate();
    this.worker = null;
    this.ready = false;
    this.clone?.stop();
    this.clone = null;
    for (const c of this.captures.values()) c.reject(new Error("worker stopped"));
    this.captures.clear();
  }

  private restart(reason: string): void {
    if (this.stopped) return;
    this.lastError = reason;
    this.kill();
    this.restarts += 1;
    this.onStatus();
    this.spawn().catch((e: Error) => {
      this.lastError = e.message;
      this.onStatus();
    });
  }

  private check(): void {
    if (this.stopped || !this.worker) return;
    const now = performance.now();
    const silentAfter = this.opts.silentAfterMs ?? 5000;
    if (this.ready && this.track.readyState === "live" && now - this.lastResultAt > silentAfter) {
      this.restart(`no result for ${Math.round((now - this.lastResultAt) / 1000)} s`);
    } else if (!this.ready && now - this.startedAt > 60_000) {
      this.restart("worker did not load its models in 60 s");
    }
  }
}
