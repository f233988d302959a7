// The built student app in headless Chromium against the real vigil server:
// the system check downloads the models with a progress bar (bytes, then
// "downloaded"), the workers then load them from the browser's cache rather
// than fetch them again, and a revisit in the same browser asks the network
// for no model at all: they are at content-hashed URLs the server lets the
// browser keep for a year (scripts/hash-models.mjs), and only the models'
// manifest, at its fixed URL, is asked again. Requests are counted by a
// proxy between the browser and the server (helpers/counting-proxy.mjs).

import test from 'node:test';
import assert from 'node:assert/strict';

import { CountingProxy } from './helpers/counting-proxy.mjs';
import { StudentTestServer, requireBuilt } from './helpers/vigil-server.mjs';
import { launchWithCamera, examSettings, passedSystemCheck } from './helpers/student-page.mjs';
import { oneFaceVideo } from './helpers/media.mjs';

/** Bytes of response bodies under /models/ (the workers' fetches included), counted while `during` runs. */
async function modelBytes(context, during) {
  const bodies = new Map();
  const pending = [];
  const onFinished = (req) => {
    if (!new URL(req.url()).pathname.includes('/models/')) return;
    pending.push(req.sizes().then((s) => bodies.set(req.url(), (bodies.get(req.url()) ?? 0) + s.responseBodySize), () => undefined));
  };
  context.on('requestfinished', onFinished);
  try {
    await during();
  } finally {
    context.off('requestfinished', onFinished);
  }
  await Promise.all(pending);
  return bodies;
}

/** A model file's path: in a group directory named by its content's hash. */
const MODEL = /^\/student\/models\/[a-z0-9_]+-[0-9a-f]{16}\/[^/]+$/;
const MANIFEST = '/student/models/manifest.json';

/** Requests for the models that reached the server while `during` ran: [model file requests, manifest requests]. */
async function modelRequests(proxy, during) {
  const from = proxy.requests.length;
  await during();
  const seen = proxy.requests.slice(from).filter((r) => r.path.startsWith('/student/models/'));
  const strays = seen.filter((r) => r.path !== MANIFEST && !MODEL.test(r.path));
  assert.deepEqual(strays, [], 'every model is loaded from a content-hashed directory');
  return [seen.filter((r) => MODEL.test(r.path)), seen.filter((r) => r.path === MANIFEST)];
}

/** Opens the join link and waits for the system check to let the student go on; the download row's text and bar. */
async function systemCheck(page, origin, token) {
  await page.goto(`${origin}/student/#token=${token}`);
  await passedSystemCheck(page);
  return page.evaluate(() => {
    const bar = document.querySelector('progress[aria-label="Download of the proctoring models"]');
    return { text: bar?.closest('li')?.querySelector('.ok, .pending, .fail')?.textContent ?? '', value: bar?.value, cls: bar?.closest('li')?.querySelector('span:not(.what)')?.className };
  });
}

test('the models download with progress at the system check, once, and a revisit takes them from the cache without a request', { timeout: 240_000 }, async (t) => {
  requireBuilt();
  const { file } = oneFaceVideo();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const proxy = await CountingProxy.start(server.url);
  t.after(() => proxy.stop());
  const settings = await examSettings(server, { disabled_detectors: ['window_blur', 'second_screen'] });
  const { tokens } = await server.exam({ id: 'dl', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(file);
  t.after(() => browser.close());
  const context = browser.context;

  let row;
  let first;
  const [firstModels, firstManifest] = await modelRequests(proxy, async () => {
    first = await modelBytes(context, async () => {
      const page = await context.newPage();
      row = await systemCheck(page, proxy.url, tokens.student.s1);
      await page.close();
    });
  });
  t.diagnostic(`first visit: ${JSON.stringify(row)}; model bodies ${[...first.values()].reduce((a, b) => a + b, 0)} bytes in ${first.size} files; ${firstModels.length} model requests`);
  // The face models, MediaPipe's WASM and the phone detector: about 21 MB of model data.
  const mb = Number(row.text.match(/^downloaded \((\d+\.\d) MB\)$/)?.[1]);
  assert.ok(mb > 15 && mb < 30, `the download row: ${JSON.stringify(row)}`);
  assert.equal(row.value, 1);
  assert.equal(row.cls, 'ok');
  // Each model crossed the network once: the workers' loads came from the cache.
  const wasm = [...first.entries()].filter(([url]) => url.endsWith('.wasm') && url.includes('vision_wasm'));
  assert.equal(wasm.length, 1, `one MediaPipe WASM: ${JSON.stringify(wasm)}`);
  const total = [...first.values()].reduce((a, b) => a + b, 0);
  assert.ok(total >= mb * 1e6 * 0.95 && total <= mb * 1e6 * 1.05, `model bodies ${total} bytes for a ${mb} MB download: fetched twice?`);
  const paths = firstModels.map((r) => r.path);
  assert.ok(paths.length >= 6, `the face models, MediaPipe's WASM and the phone detector: ${paths.join(', ')}`);
  assert.deepEqual(paths.filter((p, i) => paths.indexOf(p) !== i), [], `a model asked for twice: ${paths.join(', ')}`);
  assert.ok(firstModels.every((r) => r.status === 200), JSON.stringify(firstModels));
  assert.ok(firstManifest.length >= 1, 'the page read the models\' manifest');

  // A revisit in the same browser: no model is asked for, not even
  // revalidated; only the manifest is (it may have moved them).
  const [againModels, againManifest] = await modelRequests(proxy, async () => {
    const page = await context.newPage();
    row = await systemCheck(page, proxy.url, tokens.student.s1);
    await page.close();
  });
  t.diagnostic(`revisit: ${JSON.stringify(row)}; ${againModels.length} model requests, manifest ${JSON.stringify(againManifest)}`);
  assert.deepEqual(againModels, [], 'a revisit asked the network for models');
  assert.ok(againManifest.length >= 1 && againManifest.every((r) => r.status === 304 || r.status === 200), `the manifest is asked again: ${JSON.stringify(againManifest)}`);
  assert.match(row.text, /^downloaded \(/);
});
