// Where the models are. The build puts each group of model files in a
// directory named by its content's hash (scripts/hash-models.mjs), so the
// server can have them cached for a year; models/manifest.json, at a fixed
// URL and revalidated on every visit, says which directory each group is in
// now. The page reads it once and hands the workers the directories they
// load from. Reading and checking it is pure; `ModelsSource` is the I/O.

/**
 * The manifest's shape this page reads: scripts/prepare-models.mjs's
 * MODELS_LAYOUT when the two were built together (a unit test checks).
 */
export const MODELS_LAYOUT = 6;

/** The groups of model files, each loaded from one directory. */
export const MODEL_GROUPS = ["face", "wasm", "objects", "tfjs", "voice", "ort"] as const;
export type ModelGroup = (typeof MODEL_GROUPS)[number];

/** What prepare-models.mjs writes (and hash-models.mjs rewrites), as far as the page reads it. */
export interface ModelsManifest {
  layout: number;
  /** Group → its directory under models/. */
  groups: Record<string, string>;
  /** "group/file" → its size once decoded. */
  files: Record<string, { bytes: number }>;
}

/** Each group's directory as an absolute URL ending in "/". */
export type ModelDirs = Record<ModelGroup, string>;

export class ModelsError extends Error {
  override name = "ModelsError";
}

/** A directory name the manifest may give: one path segment, nothing that climbs out of models/. */
const DIR = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Checks a manifest as fetched; throws ModelsError saying what is wrong. */
export function parseManifest(json: unknown): ModelsManifest {
  const m = json as Partial<ModelsManifest> | null;
  if (!m || typeof m !== "object") throw new ModelsError("models/manifest.json is not an object");
  if (m.layout !== MODELS_LAYOUT) {
    throw new ModelsError(`models/manifest.json has layout ${String(m.layout)}, this page reads layout ${MODELS_LAYOUT}: the page and its models are from different builds (reload the page)`);
  }
  if (!m.groups || typeof m.groups !== "object" || !m.files || typeof m.files !== "object") throw new ModelsError("models/manifest.json has no groups or files");
  for (const g of MODEL_GROUPS) {
    const dir = m.groups[g];
    if (typeof dir !== "string" || !DIR.test(dir) || dir.includes("..")) throw new ModelsError(`models/manifest.json gives group ${g} no usable directory (${JSON.stringify(dir)})`);
  }
  return m as ModelsManifest;
}

/** Each group's directory under `base` (the models' URL, ending in "/"). */
export function modelDirs(manifest: ModelsManifest, base: string): ModelDirs {
  const root = base.endsWith("/") ? base : `${base}/`;
  return Object.fromEntries(MODEL_GROUPS.map((g) => [g, `${root}${manifest.groups[g]}/`])) as ModelDirs;
}

/** The URL of a manifest file key ("group/file"), or null for a key outside the known groups. */
export function modelUrl(dirs: ModelDirs, key: string): string | null {
  const slash = key.indexOf("/");
  const group = key.slice(0, slash) as ModelGroup;
  if (slash <= 0 || !MODEL_GROUPS.includes(group)) return null;
  return `${dirs[group]}${key.slice(slash + 1)}`;
}

export interface Models {
  manifest: ModelsManifest;
  dirs: ModelDirs;
}

/**
 * The manifest, fetched once for the page's life and shared by the download
 * and the workers: the directories must not change under a running page
 * (its workers restart with the same URLs, which the browser has cached). A
 * fetch that fails is not kept, so the next caller (a worker's restart)
 * tries again.
 */
export class ModelsSource {
  private pending: Promise<Models> | null = null;

  constructor(
    /** The models' URL, e.g. `${origin}/student/models/`. */
    private readonly base: string,
    private readonly fetchFn: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  load(): Promise<Models> {
    this.pending ??= this.fetch().catch((e: unknown) => {
      this.pending = null;
      throw e;
    });
    return this.pending;
  }

  private async fetch(): Promise<Models> {
    const res = await this.fetchFn(`${this.base}manifest.json`);
    if (!res.ok) throw new ModelsError(`models/manifest.json: HTTP ${res.status}`);
    const manifest = parseManifest(await res.json());
    return { manifest, dirs: modelDirs(manifest, this.base) };
  }
}
