#!/usr/bin/env node
// Gives the built models content-addressed URLs, so that the server can let
// browsers (and a cache in front) keep them for a year without asking again
// (crates/vigil-server/src/transport/http.rs, `static_cache_control`), and a
// new build's changed model is fetched at a new URL rather than served stale.
//
// prepare-models.mjs writes the models in group directories, one file deep
// (models/face/, wasm/, objects/, tfjs/, voice/, ort/), with a manifest that
// maps each group to its directory. After `vite build` has copied them into
// the build, this renames each group directory to
//
//   <group>-<first 16 hex digits of SHA-256 over the group's files>
//
// and rewrites the build's manifest.json (which stays at its fixed URL and is
// revalidated on every visit) to point there. Whole directories, not single
// files, carry the hash: MediaPipe's FilesetResolver loads its .js and .wasm
// from one base directory, tfjs's model.json names its weight shards
// relatively, and onnxruntime loads its glue module from beside its WASM, so
// files that refer to each other must keep their names and neighbours.
//
// The group's hash is SHA-256 over the lines "<sha256 of file> <name>\n",
// one per file, sorted by name: a change to any byte of any file of the
// group, or a file added, removed or renamed, gives the group a new URL.
// The files' own SHA-256 are computed here from the bytes, and must equal the
// manifest's, so a manifest that does not describe the directory fails the
// build instead of shipping.
//
// Run by the Vite plugin in vite.config.ts after every build (dist/ and
// dist-test/). Usage alone: node scripts/hash-models.mjs DIST_DIR

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Hex digits of the group hash in a directory name (64 bits: no collision among a few builds' groups). */
export const GROUP_HASH_HEX = 16;

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

/** The group's hash from its files' names and SHA-256 (see the header). */
export function groupHash(files) {
  const lines = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((f) => `${f.sha256} ${f.name}\n`);
  return sha256(lines.join('')).slice(0, GROUP_HASH_HEX);
}

export class HashModelsError extends Error {
  constructor(message) {
    super(`hash-models: ${message}`);
    this.name = 'HashModelsError';
  }
}

/**
 * Renames the group directories of `modelsDir` (a build's models/) to their
 * content-hashed names and rewrites its manifest.json to match. A directory
 * already hashed (the manifest maps it elsewhere than its group's name) is
 * left as it is, so running twice changes nothing. Returns the manifest's
 * new `groups`.
 */
export function hashModels(modelsDir) {
  const manifestPath = path.join(modelsDir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  if (!manifest.groups || !manifest.files) throw new HashModelsError(`${manifestPath} has no groups or files (layout ${manifest.layout}; run npm run prepare-models)`);
  // The server caches for a year only paths of this exact shape (http.rs, content_hashed).
  const badGroup = Object.keys(manifest.groups).find((g) => !/^[a-z0-9_]+$/.test(g));
  if (badGroup !== undefined) throw new HashModelsError(`group name ${JSON.stringify(badGroup)}: the server takes only [a-z0-9_]+ before the hash`);
  const byGroup = new Map(Object.keys(manifest.groups).map((g) => [g, []]));
  for (const [key, meta] of Object.entries(manifest.files)) {
    const [group, name, ...rest] = key.split('/');
    if (!byGroup.has(group) || !name || rest.length) throw new HashModelsError(`manifest file ${key} is not one file in one of its groups`);
    byGroup.get(group).push({ name, sha256: meta.sha256 });
  }
  const expected = new Set(['manifest.json', ...Object.values(manifest.groups)]);
  const strangers = fs.readdirSync(modelsDir).filter((e) => !expected.has(e));
  if (strangers.length) throw new HashModelsError(`${modelsDir} holds what its manifest does not list: ${strangers.join(', ')}`);

  const groups = {};
  for (const [group, listed] of byGroup) {
    const dir = manifest.groups[group];
    const from = path.join(modelsDir, dir);
    // What the directory holds, precompressed copies aside (they are derived from the files).
    const present = fs.readdirSync(from).filter((f) => !/\.(br|gz)$/.test(f)).sort();
    const names = listed.map((f) => f.name).sort();
    if (present.join('\n') !== names.join('\n')) throw new HashModelsError(`${from} holds ${present.join(', ')}; its manifest lists ${names.join(', ')}`);
    const actual = present.map((name) => ({ name, sha256: sha256(fs.readFileSync(path.join(from, name))) }));
    for (const f of actual) {
      if (f.sha256 !== listed.find((l) => l.name === f.name).sha256) throw new HashModelsError(`${dir}/${f.name} is not the file its manifest describes`);
    }
    const hashed = `${group}-${groupHash(actual)}`;
    if (dir !== group && dir !== hashed) throw new HashModelsError(`${dir} should be ${hashed}`);
    if (dir === group) fs.renameSync(from, path.join(modelsDir, hashed));
    groups[group] = hashed;
  }
  manifest.groups = groups;
  fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return groups;
}

/** Vite plugin: hashes `models/` of every build's output directory once it is written. */
export function hashModelsPlugin() {
  let outDir = '';
  return {
    name: 'vigil-hash-models',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      if (!fs.existsSync(path.join(outDir, 'models', 'manifest.json'))) return;
      const groups = hashModels(path.join(outDir, 'models'));
      console.log(`hash-models: ${Object.values(groups).join(', ')}`);
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dist = process.argv[2];
  if (!dist) {
    console.error('usage: hash-models.mjs DIST_DIR');
    process.exit(2);
  }
  console.log(`hash-models: ${Object.values(hashModels(path.join(path.resolve(dist), 'models'))).join(', ')}`);
}
