// The built web apps as a browser gets them from vigil: the brotli copy made
// at build time (web/tools/precompress.mjs) when the browser accepts it,
// with Vary; Vite's content-hashed assets cached for a year, the entry point
// and the models revalidated, and a revisit answered 304 with no body.
// Needs the production builds (web/student/dist, web/dashboard/dist), which
// scripts/test makes before this suite.

import assert from 'node:assert/strict';
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

  // The MediaPipe WASM the page loads: a quarter of its size on the wire.
  const wasmPath = '/student/models/wasm/vision_wasm_internal.wasm';
  const wasm = await get(wasmPath, { 'accept-encoding': 'gzip, br' });
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-encoding'), 'br');
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(wasm.headers.get('cache-control'), 'no-cache');
  const wasmWire = Number(wasm.headers.get('content-length'));
  const wasmBytes = (await wasm.arrayBuffer()).byteLength;
  assert.ok(wasmWire < wasmBytes * 0.3, `the WASM: ${wasmWire} bytes sent for ${wasmBytes}`);
  const lastModified = wasm.headers.get('last-modified');
  assert.ok(lastModified);

  // A revisit: the browser's copy is still good.
  const again = await get(wasmPath, { 'accept-encoding': 'gzip, br', 'if-modified-since': lastModified });
  assert.equal(again.status, 304);
  assert.equal((await again.arrayBuffer()).byteLength, 0);

  // A client without brotli gets gzip.
  const gz = await fetch(`${server.url}${path}`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  await gz.arrayBuffer();
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
