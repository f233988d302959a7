// The built student app in headless Chromium against the real vigil server:
// the system check downloads the models with a progress bar (bytes, then
// "downloaded"), the workers then load them from the browser's cache rather
// than fetch them again, and a revisit in the same browser fetches almost
// nothing: every model is revalidated (a 304), none sent again.

import test from 'node:test';
import assert from 'node:assert/strict';

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

/** Opens the join link and waits for the system check to let the student go on; the download row's text and bar. */
async function systemCheck(page, server, token) {
  await page.goto(`${server.url}/student/#token=${token}`);
  await passedSystemCheck(page);
  return page.evaluate(() => {
    const bar = document.querySelector('progress[aria-label="Download of the proctoring models"]');
    return { text: bar?.closest('li')?.querySelector('.ok, .pending, .fail')?.textContent ?? '', value: bar?.value, cls: bar?.closest('li')?.querySelector('span:not(.what)')?.className };
  });
}

test('the models download with progress at the system check, once, and a revisit takes them from the cache', { timeout: 240_000 }, async (t) => {
  requireBuilt();
  const { file } = oneFaceVideo();
  const server = await StudentTestServer.start();
  t.after(() => server.stop());
  const settings = await examSettings(server, { disabled_detectors: ['window_blur', 'second_screen'] });
  const { tokens } = await server.exam({ id: 'dl', students: ['s1'], proctors: ['p1'], settings });
  const browser = await launchWithCamera(file);
  t.after(() => browser.close());
  const context = browser.context;

  let row;
  const first = await modelBytes(context, async () => {
    const page = await context.newPage();
    row = await systemCheck(page, server, tokens.student.s1);
    await page.close();
  });
  t.diagnostic(`first visit: ${JSON.stringify(row)}; model bodies ${[...first.values()].reduce((a, b) => a + b, 0)} bytes in ${first.size} files`);
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

  // A revisit in the same browser: every model is revalidated, none sent again.
  const again = await modelBytes(context, async () => {
    const page = await context.newPage();
    row = await systemCheck(page, server, tokens.student.s1);
    await page.close();
  });
  const revisit = [...again.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(`revisit: ${JSON.stringify(row)}; model bodies ${revisit} bytes in ${again.size} files`);
  assert.ok(again.size >= 4, `the models were asked for again (revalidated): ${[...again.keys()].join(', ')}`);
  assert.ok(revisit < 100_000, `a revisit fetched ${revisit} bytes of models`);
  assert.match(row.text, /^downloaded \(/);
});
