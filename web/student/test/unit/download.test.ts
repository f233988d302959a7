import { describe as suite, expect, it } from "vitest";
import { DownloadMeter, STALL_MS, describe, download, modelFiles } from "../../src/download.ts";
import { modelDirs, type ModelsManifest } from "../../src/models.ts";

const manifest: ModelsManifest = {
  layout: 6,
  groups: { face: "face-0123456789abcdef", wasm: "wasm-1111111111111111", objects: "objects-2222222222222222", tfjs: "tfjs-3333333333333333", voice: "voice-4444444444444444", ort: "ort-5555555555555555" },
  files: {
    "face/face_landmarker.task": { bytes: 2_762_927 },
    "face/face_detector.tflite": { bytes: 230_232 },
    "objects/centernet.json": { bytes: 201_673 },
    "objects/centernet.bin": { bytes: 4_030_290 },
    "tfjs/tfjs-backend-wasm.wasm": { bytes: 311_123 },
    "tfjs/tfjs-backend-wasm-simd.wasm": { bytes: 424_594 },
    "tfjs/tfjs-backend-wasm-threaded-simd.wasm": { bytes: 435_643 },
    "voice/silero_vad_v5.onnx": { bytes: 2_327_524 },
    "ort/ort-wasm-simd-threaded.wasm": { bytes: 11_210_254 },
    "ort/ort-wasm-simd-threaded.mjs": { bytes: 20_000 },
    "wasm/vision_wasm_module_internal.wasm": { bytes: 12_997_272 },
    "wasm/vision_wasm_module_internal.js": { bytes: 335_431 },
    "wasm/vision_wasm_nosimd_internal.wasm": { bytes: 12_168_316 },
    "wasm/vision_wasm_nosimd_internal.js": { bytes: 335_196 },
  },
};

suite("the models' download", () => {
  it("fetches what the exam's detectors load, and only that", () => {
    const paths = (want: Parameters<typeof modelFiles>[1]) => modelFiles(manifest, want).map((f) => f.path);
    expect(paths({ phone: true, voice: false, simd: true, threads: false })).toEqual([
      "wasm/vision_wasm_module_internal.wasm",
      "wasm/vision_wasm_module_internal.js",
      "face/face_landmarker.task",
      "objects/centernet.json",
      "objects/centernet.bin",
      "tfjs/tfjs-backend-wasm-simd.wasm",
    ]);
    expect(paths({ phone: false, voice: true, simd: true, threads: false })).toEqual([
      "wasm/vision_wasm_module_internal.wasm",
      "wasm/vision_wasm_module_internal.js",
      "face/face_landmarker.task",
      "voice/silero_vad_v5.onnx",
      "ort/ort-wasm-simd-threaded.wasm",
      "ort/ort-wasm-simd-threaded.mjs",
    ]);
    // Without SIMD the other builds; with threads tfjs's threaded one.
    expect(paths({ phone: true, voice: false, simd: false, threads: false })).toContain("wasm/vision_wasm_nosimd_internal.wasm");
    expect(paths({ phone: true, voice: false, simd: false, threads: false })).toContain("tfjs/tfjs-backend-wasm.wasm");
    expect(paths({ phone: true, voice: false, simd: true, threads: true })).toContain("tfjs/tfjs-backend-wasm-threaded-simd.wasm");
    // A file the manifest does not list is left out; the rest still counts.
    const withoutJs = Object.fromEntries(Object.entries(manifest.files).filter(([k]) => k !== "wasm/vision_wasm_module_internal.js"));
    expect(modelFiles({ ...manifest, files: withoutJs }, { phone: false, voice: false, simd: true, threads: false }).map((f) => f.path)).toEqual([
      "wasm/vision_wasm_module_internal.wasm",
      "face/face_landmarker.task",
    ]);
  });

  it("tells bytes, speed and time left, and a stall while nothing arrives", () => {
    const m = new DownloadMeter(6_000_000, 0);
    expect(m.view(500)).toMatchObject({ done: 0, rate: null, secondsLeft: null, stalled: false });
    m.received(1_000_000, 1_000);
    m.received(1_000_000, 2_000);
    const v = m.view(2_000);
    expect(v.rate).toBeCloseTo(1_000_000, -3);
    expect(v.secondsLeft).toBeCloseTo(4, 1);
    expect(describe(v)).toBe("2.0 of 6.0 MB, 1.0 MB/s, about 4 s left");
    // Nothing for 10 s: stalled, and the student is told what to do.
    const stalled = m.view(2_000 + STALL_MS);
    expect(stalled.stalled).toBe(true);
    expect(describe(stalled)).toMatch(/stalled: nothing has arrived for 10 s/);
    // The speed is the recent one: bytes again, the stall ends.
    m.received(500_000, 12_500);
    expect(m.view(12_500).stalled).toBe(false);
    m.finish();
    expect(describe(m.view(13_000))).toBe("downloaded (6.0 MB)");
    expect(m.view(60_000).stalled).toBe(false);
  });

  it("reads every file to its end from its hashed directory, and goes on past one that fails", async () => {
    const got: string[] = [];
    let bytes = 0;
    const fake = ((url: string) => {
      got.push(url);
      if (url.endsWith("b")) return Promise.reject(new Error("network"));
      return Promise.resolve(new Response(new Uint8Array(url.endsWith("a") ? 1000 : 250)));
    }) as unknown as typeof fetch;
    const dirs = modelDirs(manifest, "/m/");
    const files = [
      { path: "face/a", bytes: 1000 },
      { path: "wasm/b", bytes: 10 },
      // Outside every group: not a URL the page could name, skipped.
      { path: "elsewhere/x", bytes: 5 },
      { path: "objects/c", bytes: 250 },
    ];
    await download(dirs, files, (n) => (bytes += n), fake);
    expect(got).toEqual(["/m/face-0123456789abcdef/a", "/m/wasm-1111111111111111/b", "/m/objects-2222222222222222/c"]);
    expect(bytes).toBe(1250);
  });
});
