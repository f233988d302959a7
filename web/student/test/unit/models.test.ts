import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MODELS_LAYOUT, ModelsError, ModelsSource, modelDirs, modelUrl, parseManifest } from "../../src/models.ts";
import { groupHash, hashModels } from "../../scripts/hash-models.mjs";
import { MODELS_LAYOUT as PREPARED_LAYOUT } from "../../scripts/prepare-models.mjs";

const sha256 = (b: string | Uint8Array) => crypto.createHash("sha256").update(b).digest("hex");

/** A models directory as prepare-models.mjs writes it: group directories at their plain names. */
function prepared(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-models-"));
  const groups: Record<string, string> = {};
  for (const [key, text] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(key)), { recursive: true });
    fs.writeFileSync(path.join(dir, key), text);
    groups[key.split("/")[0]!] = key.split("/")[0]!;
  }
  const manifest = { layout: MODELS_LAYOUT, groups, files: Object.fromEntries(Object.entries(files).map(([k, t]) => [k, { bytes: t.length, sha256: sha256(t) }])) };
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest));
  return dir;
}

const GROUPS = { face: "face-aaaaaaaaaaaaaaaa", wasm: "wasm-bbbbbbbbbbbbbbbb", objects: "objects", tfjs: "tfjs", voice: "voice", ort: "ort" };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("the models' manifest", () => {
  it("has the layout prepare-models.mjs writes", () => {
    expect(MODELS_LAYOUT).toBe(PREPARED_LAYOUT);
  });

  it("gives each group's directory under the models' URL", () => {
    const m = parseManifest({ layout: MODELS_LAYOUT, groups: GROUPS, files: {} });
    const d = modelDirs(m, "https://x.test/student/models/");
    expect(d.face).toBe("https://x.test/student/models/face-aaaaaaaaaaaaaaaa/");
    expect(d.ort).toBe("https://x.test/student/models/ort/");
    expect(modelUrl(d, "wasm/vision_wasm_module_internal.wasm")).toBe("https://x.test/student/models/wasm-bbbbbbbbbbbbbbbb/vision_wasm_module_internal.wasm");
    expect(modelUrl(d, "nogroup")).toBeNull();
    expect(modelUrl(d, "other/x")).toBeNull();
  });

  it("refuses another layout, a missing group, and a directory outside models/", () => {
    expect(() => parseManifest({ layout: 5, files: {}, wasm: [] })).toThrow(/layout 5/);
    expect(() => parseManifest({ layout: MODELS_LAYOUT, groups: { ...GROUPS, ort: undefined }, files: {} })).toThrow(/group ort/);
    expect(() => parseManifest({ layout: MODELS_LAYOUT, groups: { ...GROUPS, voice: "../../api" }, files: {} })).toThrow(ModelsError);
    expect(() => parseManifest({ layout: MODELS_LAYOUT, groups: { ...GROUPS, voice: "a/b" }, files: {} })).toThrow(ModelsError);
    expect(() => parseManifest(null)).toThrow(ModelsError);
  });

  it("is fetched once for the page, and again after a failure", async () => {
    let calls = 0;
    const fake = (() => {
      calls += 1;
      if (calls === 1) return Promise.resolve(new Response("down", { status: 503 }));
      return Promise.resolve(Response.json({ layout: MODELS_LAYOUT, groups: GROUPS, files: {} }));
    }) as unknown as typeof fetch;
    const source = new ModelsSource("/m/", fake);
    await expect(source.load()).rejects.toThrow(/HTTP 503/);
    const [a, b] = await Promise.all([source.load(), source.load()]);
    expect(a.dirs.face).toBe("/m/face-aaaaaaaaaaaaaaaa/");
    expect(b).toBe(a);
    expect(calls).toBe(2);
  });
});

describe("hash-models.mjs", () => {
  it("names each group directory by its files' content and points the manifest there", () => {
    const dir = prepared({ "face/a.task": "model A", "face/b.tflite": "model B", "wasm/x.wasm": "wasm X", "wasm/x.js": "glue" });
    dirs.push(dir);
    // A precompressed copy beside a file (precompress.mjs) is not part of the group's content.
    fs.writeFileSync(path.join(dir, "wasm/x.wasm.br"), "compressed");
    const groups = hashModels(dir);
    const faceHash = sha256(`${sha256("model A")} a.task\n${sha256("model B")} b.tflite\n`).slice(0, 16);
    expect(groups.face).toBe(`face-${faceHash}`);
    expect(groups.face).toBe(`face-${groupHash([{ name: "b.tflite", sha256: sha256("model B") }, { name: "a.task", sha256: sha256("model A") }])}`);
    expect(groups.wasm).toMatch(/^wasm-[0-9a-f]{16}$/);
    expect(fs.readFileSync(path.join(dir, groups.face!, "a.task"), "utf8")).toBe("model A");
    expect(fs.existsSync(path.join(dir, "face"))).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as { groups: Record<string, string> };
    expect(manifest.groups).toEqual(groups);
    // Again: nothing changes.
    expect(hashModels(dir)).toEqual(groups);
  });

  it("gives a group whose model changed a new directory, and the others the same", () => {
    const one = prepared({ "face/a.task": "model A", "wasm/x.wasm": "wasm X" });
    const two = prepared({ "face/a.task": "model A, retrained", "wasm/x.wasm": "wasm X" });
    dirs.push(one, two);
    const [g1, g2] = [hashModels(one), hashModels(two)];
    expect(g2.face).not.toBe(g1.face);
    expect(g2.wasm).toBe(g1.wasm);
  });

  it("fails the build when the directory is not what the manifest says", () => {
    const stranger = prepared({ "face/a.task": "model A" });
    fs.writeFileSync(path.join(stranger, "face_detector.tflite"), "left from layout 5");
    const unlisted = prepared({ "face/a.task": "model A" });
    fs.writeFileSync(path.join(unlisted, "face/extra.bin"), "not in the manifest");
    const changed = prepared({ "face/a.task": "model A" });
    fs.writeFileSync(path.join(changed, "face/a.task"), "not the bytes the manifest describes");
    dirs.push(stranger, unlisted, changed);
    expect(() => hashModels(stranger)).toThrow(/face_detector.tflite/);
    expect(() => hashModels(unlisted)).toThrow(/extra.bin/);
    expect(() => hashModels(changed)).toThrow(/not the file its manifest describes/);
  });
});
