// The models' download, shown to the student: at the system check the page
// fetches the files its detectors will load (the sizes come from
// models/manifest.json), so the student sees bytes, speed and time left,
// and is told when the download stalls, instead of a check that just takes
// a while on a slow line. The workers then load the same URLs and get them
// from the browser's cache without a request: the build names each model
// directory by its content's hash and the server lets browsers keep them for
// a year (models.ts). Which files, and the arithmetic of progress, are pure;
// `download` is the I/O.

import { modelUrl, type ModelDirs, type Models, type ModelsManifest } from "./models.ts";

/** What the exam runs, which decides what the page downloads. */
export interface DetectorsWanted {
  phone: boolean;
  voice: boolean;
  /** WebAssembly SIMD in this browser (all current ones; without it MediaPipe and tfjs load other builds). */
  simd: boolean;
  /** Worker threads in WebAssembly (a cross-origin-isolated page); tfjs picks its threaded build then. */
  threads: boolean;
}

export interface ModelFile {
  /** Its key in the manifest, "group/file". */
  path: string;
  /** Its size once decoded (what `fetch` reads, whatever the encoding on the wire). */
  bytes: number;
}

/**
 * The files the workers will load, as they name them: MediaPipe's WASM
 * (FilesetResolver's choice for a module worker) and the face models; the
 * phone detector's graph, weights and tfjs WASM; the voice model and
 * onnxruntime's WASM. A file the manifest does not list is left out (its
 * worker still loads it, without progress).
 */
export function modelFiles(manifest: ModelsManifest, want: DetectorsWanted): ModelFile[] {
  const vision = want.simd ? "vision_wasm_module_internal" : "vision_wasm_nosimd_internal";
  const tfjs = want.simd ? (want.threads ? "tfjs-backend-wasm-threaded-simd.wasm" : "tfjs-backend-wasm-simd.wasm") : "tfjs-backend-wasm.wasm";
  const paths = [
    `wasm/${vision}.wasm`,
    `wasm/${vision}.js`,
    // The fallback face detector is read out of this bundle (face-task.ts).
    "face/face_landmarker.task",
    ...(want.phone ? ["objects/centernet.json", "objects/centernet.bin", `tfjs/${tfjs}`] : []),
    ...(want.voice ? ["voice/silero_vad_v5.onnx", "ort/ort-wasm-simd-threaded.wasm", "ort/ort-wasm-simd-threaded.mjs"] : []),
  ];
  return paths.flatMap((path) => {
    const bytes = manifest.files[path]?.bytes;
    return bytes && bytes > 0 ? [{ path, bytes }] : [];
  });
}

/** No bytes for this long, and the download counts as stalled. */
export const STALL_MS = 10_000;
/** Speed is measured over this much of the recent past. */
const RATE_WINDOW_MS = 5_000;

export interface DownloadView {
  done: number;
  total: number;
  /** Bytes a second over the last few seconds; null before there is a second's worth. */
  rate: number | null;
  /** Seconds left at that rate; null while unknown. */
  secondsLeft: number | null;
  stalled: boolean;
  complete: boolean;
}

/** Progress, speed and time left of a download, from bytes and times fed to it (pure). */
export class DownloadMeter {
  private done = 0;
  private readonly samples: Array<{ at: number; done: number }> = [];
  private lastBytesAt: number;
  private finished = false;

  constructor(
    private readonly total: number,
    startedAt: number,
  ) {
    this.lastBytesAt = startedAt;
    this.samples.push({ at: startedAt, done: 0 });
  }

  received(bytes: number, at: number): void {
    if (bytes <= 0) return;
    this.done += bytes;
    this.lastBytesAt = at;
    this.samples.push({ at, done: this.done });
    while (this.samples.length > 2 && this.samples[1]!.at <= at - RATE_WINDOW_MS) this.samples.shift();
  }

  finish(): void {
    this.finished = true;
  }

  view(at: number): DownloadView {
    const first = this.samples[0]!;
    const span = at - first.at;
    const rate = span >= 1_000 ? ((this.done - first.done) * 1000) / span : null;
    const left = Math.max(0, this.total - this.done);
    return {
      done: this.done,
      total: this.total,
      rate,
      secondsLeft: rate && rate > 0 ? left / rate : null,
      stalled: !this.finished && at - this.lastBytesAt >= STALL_MS,
      complete: this.finished,
    };
  }
}

/** "3.2 of 5.8 MB, 1.1 MB/s, about 3 s left", as the check screen shows it. */
export function describe(v: DownloadView): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  if (v.complete) return `downloaded (${mb(v.total)} MB)`;
  const parts = [`${mb(v.done)} of ${mb(v.total)} MB`];
  if (v.rate !== null) parts.push(`${(v.rate / 1e6).toFixed(v.rate < 1e6 ? 2 : 1)} MB/s`);
  if (v.secondsLeft !== null) parts.push(`about ${Math.max(1, Math.ceil(v.secondsLeft))} s left`);
  const text = parts.join(", ");
  return v.stalled ? `${text}. The download has stalled: nothing has arrived for ${STALL_MS / 1000} s. Check your connection; it goes on by itself when the connection is back.` : text;
}

/**
 * Fetches `files` from their group directories one at a time, reading each
 * to its end so the browser caches it, and calls `onBytes` as bytes arrive.
 * A file that fails is skipped: its worker fetches it again and reports a
 * real failure.
 */
export async function download(dirs: ModelDirs, files: ModelFile[], onBytes: (n: number) => void, fetchFn: typeof fetch = fetch): Promise<void> {
  for (const f of files) {
    const url = modelUrl(dirs, f.path);
    if (!url) continue;
    try {
      const res = await fetchFn(url);
      if (!res.ok || !res.body) continue;
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        onBytes(value.byteLength);
      }
    } catch {
      /* the worker will try again, and say what failed */
    }
  }
}

/**
 * A module that uses one SIMD instruction: it validates only where
 * WebAssembly SIMD is supported (the probe wasm-feature-detect and
 * MediaPipe's loader use; 26 bytes, not worth a dependency).
 */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

export function simdSupported(): boolean {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * Downloads what the exam's detectors will load, reporting progress every
 * quarter second (so a stall shows while nothing arrives). Resolves when
 * every file was read or failed; without a manifest, at once (the workers
 * then say what is wrong).
 */
export async function downloadModels(models: () => Promise<Models>, want: Omit<DetectorsWanted, "simd" | "threads">, onView: (v: DownloadView) => void): Promise<void> {
  let found: Models;
  try {
    found = await models();
  } catch {
    return;
  }
  const files = modelFiles(found.manifest, { ...want, simd: simdSupported(), threads: globalThis.crossOriginIsolated === true });
  const meter = new DownloadMeter(
    files.reduce((n, f) => n + f.bytes, 0),
    Date.now(),
  );
  const show = () => onView(meter.view(Date.now()));
  const timer = setInterval(show, 250);
  try {
    await download(found.dirs, files, (n) => meter.received(n, Date.now()));
  } finally {
    clearInterval(timer);
    meter.finish();
    show();
  }
}
