// Page side of the inference worker: starts it, feeds it the camera (a
// transferred MediaStreamTrackProcessor stream, so frames never touch the
// main thread; or pushed ImageBitmaps where there is no track processor),
// restarts it when it crashes or goes silent, and asks it for evidence.
// Beside it, when the exam looks for phones, the object worker
// (objects.worker.ts), which takes a frame from the inference worker over a
// channel of their own whenever it is ready for one.

import type { ModelDirs } from "./models.ts";
import { RateMeter } from "./rate-meter.ts";
import type { FromObjectsWorker, FrameResult, FromWorker, Model, ModelChoice, ObjectsResult, ToObjectsWorker, ToWorker } from "./worker-protocol.ts";

/** The object detector looks at most this often (ms): two and a half inferences a second where the machine allows. */
const OBJECTS_INTERVAL_MS = 400;
/** An object worker that failed is tried again after this long, this many times at most. */
const OBJECTS_RETRY_MS = 10_000;
const OBJECTS_MAX_RESTARTS = 5;

declare const MediaStreamTrackProcessor:
  | undefined
  | (new (init: { track: MediaStreamTrack; maxBufferSize?: number }) => { readable: ReadableStream<VideoFrame> });

export interface VisionOptions {
  /** Where the model files are (models.ts), read from the manifest once for the page. */
  models: () => Promise<ModelDirs>;
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
  onObjects: (r: ObjectsResult) => void = () => {};
  /** The phone detector: whether it runs and is loaded, its inferences per second, its last error. */
  objects = { wanted: false, ready: false, fps: 0, restarts: 0, lastError: "" };
  private objectsWorker: Worker | null = null;
  private readonly objectsMeter = new RateMeter();
  private objectsRetry: ReturnType<typeof setTimeout> | null = null;
  onStatus: () => void = () => {};
  private clone: MediaStreamTrack | null = null;
  private captures = new Map<string, { resolve: (e: Evidence) => void; reject: (e: Error) => void }>();
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private startedAt = 0;
  private stopped = false;
  /** The model directories the inference worker was last started with; the object worker loads from the same. */
  private dirs: ModelDirs | null = null;

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
    this.killObjects();
  }

  /**
   * Runs the phone detector or not (an exam that switched `phone_visible`
   * off runs none: it costs about half a core). It starts once the face
   * models are loaded, so they come first.
   */
  setObjects(on: boolean): void {
    this.objects.wanted = on;
    if (!on) this.killObjects();
    else if (!this.objectsWorker && this.ready) this.spawnObjects();
  }

  private spawnObjects(): void {
    if (this.objectsRetry) clearTimeout(this.objectsRetry);
    this.objectsRetry = null;
    // Known once the inference worker is ready, which is when this runs.
    const models = this.dirs;
    if (!models) return;
    const w = new Worker(new URL("./objects.worker.ts", import.meta.url), { type: "module", name: "vigil-objects" });
    this.objectsWorker = w;
    this.objects.ready = false;
    // The two workers talk directly: frames never pass through the page.
    const channel = new MessageChannel();
    this.send({ type: "objects-port", port: channel.port1 }, [channel.port1]);
    const init: ToObjectsWorker = { type: "init", models, port: channel.port2, minIntervalMs: OBJECTS_INTERVAL_MS };
    w.postMessage(init, [channel.port2]);
    w.onmessage = ({ data }: MessageEvent<FromObjectsWorker>) => {
      if (w !== this.objectsWorker) return;
      switch (data.type) {
        case "ready":
          this.objects.ready = true;
          this.onStatus();
          break;
        case "objects": {
          this.objects.fps = this.objectsMeter.tick(performance.now());
          this.onObjects(data);
          break;
        }
        case "error":
          this.objects.lastError = data.error;
          if (data.fatal) this.failObjects(data.error);
          break;
      }
    };
    w.onerror = (e) => {
      e.preventDefault();
      this.failObjects(e.message || "object worker error");
    };
  }

  /** The object worker died or could not load: the face models go on; it is tried again a few times. */
  private failObjects(error: string): void {
    this.objects.lastError = error;
    this.killObjects();
    this.onStatus();
    if (this.objects.wanted && this.objects.restarts < OBJECTS_MAX_RESTARTS && !this.stopped) {
      this.objects.restarts += 1;
      this.objectsRetry = setTimeout(() => {
        if (this.objects.wanted && !this.objectsWorker && this.ready) this.spawnObjects();
      }, OBJECTS_RETRY_MS);
    }
  }

  private killObjects(): void {
    if (this.objectsRetry) clearTimeout(this.objectsRetry);
    this.objectsRetry = null;
    this.objectsWorker?.terminate();
    this.objectsWorker = null;
    this.objects.ready = false;
    this.objects.fps = 0;
    this.objectsMeter.reset();
  }

  /** JPEG of the last analysed frame that no other incident has used (evidence-frames.ts). */
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
          // A new inference worker (first start or restart): the object worker needs a channel to it.
          if (this.objects.wanted) {
            this.killObjects();
            this.spawnObjects();
          }
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
    // The manifest is fetched once for the page; a fetch that failed is tried
    // again by the next start (the watchdog restarts a worker that has not
    // loaded in 60 s).
    this.opts.models().then(
      (models) => {
        if (worker !== this.worker) return;
        this.dirs = models;
        this.send({ type: "init", models, model: this.opts.model, targetFps: this.opts.targetFps });
      },
      (e: unknown) => {
        if (worker !== this.worker) return;
        this.lastError = e instanceof Error ? e.message : String(e);
        rejectReady(new Error(this.lastError));
        this.onStatus();
      },
    );
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
