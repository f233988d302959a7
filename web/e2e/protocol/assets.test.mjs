// The built web apps as a browser gets them from vigil: the brotli copy made
// at build time (web/tools/precompress.mjs) when the browser accepts it,
// with Vary; Vite's content-hashed assets and the models' content-hashed
// directories (web/student/scripts/hash-models.mjs) cached for a year; the
// entry point and the models' manifest revalidated, a revisit answered 304
// with no body.
// Needs the production builds (web/student/dist, web/dashboard/dist), which
// scripts/test makes before this suite.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { VigilServer, repoRoot } from '../lib/server.mjs';

const webDir = join(repoRoot, 'web');
let server;

before(async () => {
  for (const app of ['student', 'dashboard']) {
    assert.ok(existsSync(join(webDir, app, 'dist/index.html')), `web/${app}/dist is not built: cd web/${app} && npm run build`);
  }
  server = await VigilServer.start({ webDir });
});
after(async () => { await server?.stop(); });

const get = (path, headers = {}) => fetch(`${server.url}${path}`, { headers });
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const YEAR = 'public, max-age=31536000, immutable';

/**
 * A model group's hash, from its files as served: SHA-256 over the lines
 * "<sha256 of file> <name>\n" sorted by name, its first 16 hex digits
 * (the scheme hash-models.mjs documents, written again here so that the
 * test checks the build rather than repeats it).
 */
const groupHash = (files) => sha256([...files].sort((a, b) => (a.name < b.name ? -1 : 1)).map((f) => `${f.sha256} ${f.name}\n`).join('')).slice(0, 16);

test('the student page and its models come compressed, cached by content hash, and revalidated', async () => {
  const html = await get('/student/', { 'accept-encoding': 'br, gzip' });
  assert.equal(html.status, 200);
  assert.equal(html.headers.get('cache-control'), 'no-cache');
  const page = await html.text();
  const script = page.match(/src="(\/student\/assets\/[^"]+\.js)"/)?.[1] ?? page.match(/src="\.?\/?(assets\/[^"]+\.js)"/)?.[1];
  assert.ok(script, `a script in the page: ${page.slice(0, 400)}`);
  const path = script.startsWith('/') ? script : `/student/${script}`;

  const plain = Buffer.from(await (await get(path, { 'accept-encoding': 'identity' })).arrayBuffer());
  const br = await get(path, { 'accept-encoding': 'gzip, deflate, br, zstd' });
  assert.equal(br.headers.get('content-encoding'), 'br');
  assert.match(br.headers.get('content-type'), /javascript/);
  assert.equal(br.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.match(br.headers.get('vary') ?? '', /accept-encoding/i);
  // fetch decodes; the bytes on the wire are the content-length.
  const wire = Number(br.headers.get('content-length'));
  assert.deepEqual(Buffer.from(await br.arrayBuffer()), plain, 'the brotli copy is the same file');
  assert.ok(wire < plain.length * 0.5, `the script: ${wire} bytes sent for ${plain.length}`);

  // The models' manifest, at its fixed URL: revalidated on every visit (a
  // 304 when unchanged), it says where each model group is now.
  const manifestRes = await get('/student/models/manifest.json', { 'accept-encoding': 'br' });
  assert.equal(manifestRes.status, 200);
  assert.equal(manifestRes.headers.get('cache-control'), 'no-cache');
  const lastModified = manifestRes.headers.get('last-modified');
  const manifest = await manifestRes.json();
  assert.equal(manifest.layout, 6);
  const again = await get('/student/models/manifest.json', { 'accept-encoding': 'br', 'if-modified-since': lastModified });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get('cache-control'), 'no-cache');
  assert.equal((await again.arrayBuffer()).byteLength, 0);

  // The MediaPipe WASM the page loads: in its hashed directory, kept for a
  // year, a quarter of its size on the wire.
  assert.match(manifest.groups.wasm, /^wasm-[0-9a-f]{16}$/);
  const wasmPath = `/student/models/${manifest.groups.wasm}/vision_wasm_internal.wasm`;
  const wasm = await get(wasmPath, { 'accept-encoding': 'gzip, br' });
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-encoding'), 'br');
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(wasm.headers.get('cache-control'), YEAR);
  const wasmWire = Number(wasm.headers.get('content-length'));
  const wasmBytes = (await wasm.arrayBuffer()).byteLength;
  assert.ok(wasmWire < wasmBytes * 0.3, `the WASM: ${wasmWire} bytes sent for ${wasmBytes}`);
  // Where it was before the directories were hashed, it is no more.
  assert.equal((await get('/student/models/wasm/vision_wasm_internal.wasm')).status, 404);

  // A client without brotli gets gzip.
  const gz = await fetch(`${server.url}${path}`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  await gz.arrayBuffer();
});

test('every model is at a URL named by the hash of its group as served, kept for a year', async () => {
  const manifest = await (await get('/student/models/manifest.json')).json();
  const groups = Object.entries(manifest.groups);
  assert.deepEqual(groups.map(([g]) => g).sort(), ['face', 'objects', 'ort', 'tfjs', 'voice', 'wasm']);
  for (const [group, dir] of groups) {
    const names = Object.keys(manifest.files).filter((k) => k.startsWith(`${group}/`)).map((k) => k.slice(group.length + 1));
    assert.ok(names.length > 0, `group ${group} lists no files`);
    const served = [];
    for (const name of names) {
      const res = await get(`/student/models/${dir}/${name}`, { 'accept-encoding': 'identity' });
      assert.equal(res.status, 200, `${dir}/${name}`);
      assert.equal(res.headers.get('cache-control'), YEAR, `${dir}/${name}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      served.push({ name, sha256: sha256(bytes) });
      assert.equal(bytes.length, manifest.files[`${group}/${name}`].bytes, `${dir}/${name}: the size the download counts`);
    }
    // A changed byte in any of them would have given the group another directory.
    assert.equal(dir, `${group}-${groupHash(served)}`, `group ${group}: its directory is not the hash of what is served in it`);
  }
});

test('the dashboard is served the same way', async () => {
  const html = await get('/dashboard/', { 'accept-encoding': 'br' });
  assert.equal(html.headers.get('cache-control'), 'no-cache');
  const page = await html.text();
  const script = page.match(/src="([^"]*assets\/[^"]+\.js)"/)?.[1];
  assert.ok(script, 'a script in the dashboard');
  const path = script.startsWith('/') ? script : `/dashboard/${script.replace(/^\.\//, '')}`;
  const br = await get(path, { 'accept-encoding': 'br' });
  assert.equal(br.status, 200);
  assert.equal(br.headers.get('content-encoding'), 'br');
  assert.equal(br.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  await br.arrayBuffer();
});
