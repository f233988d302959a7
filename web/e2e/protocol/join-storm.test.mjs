// The join-storm benchmark's tool, run small against the real server and
// the production student build: 30 students arriving within 5 s each load
// the page's real assets, measure their uplink, connect, publish and are seen live
// by a proctor (crates/vigil-load/src/storm.rs). Counts and ratios only: every student
// live; the first visit took the compressed copies; the revisit asked for
// almost nothing (the hashed assets and models came from the cache).
// Needs target/debug/vigil-load (cargo build --workspace) and the
// production builds, which scripts/test makes before this suite.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { repoRoot, vigilBin } from '../lib/server.mjs';

const loadBin = process.env.VIGIL_LOAD_BIN ?? join(repoRoot, 'target/debug/vigil-load');
const STUDENTS = 30;

/** Bytes of a directory's files, recursively, skipping the precompressed copies. */
function decodedBytes(dir) {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) total += decodedBytes(p);
    else if (!name.endsWith('.br') && !name.endsWith('.gz')) total += st.size;
  }
  return total;
}

test('a small join storm: every student loads the page, connects, publishes and is seen live', { timeout: 300_000 }, async () => {
  assert.ok(existsSync(loadBin), `${loadBin} is not built: cargo build -p vigil-load`);
  assert.ok(existsSync(join(repoRoot, 'web/student/dist/index.html')), 'web/student/dist is not built: cd web/student && npm run build');
  const out = mkdtempSync(join(tmpdir(), 'vigil-storm-'));
  const json = join(out, 'storm.json');
  await promisify(execFile)(
    loadBin,
    ['--join-storm', '--students', String(STUDENTS), '--window', '5s', '--grace', '120s', '--proctors', '2',
      '--web-dir', join(repoRoot, 'web'), '--vigil-bin', vigilBin, '--out', json, '--svg', join(out, 'storm.svg')],
    { maxBuffer: 16 << 20, timeout: 280_000 },
  );
  const [storm] = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(storm.students, STUDENTS);
  assert.deepEqual(storm.failures, {}, 'no student failed');
  assert.equal(storm.live, STUDENTS, 'every student seen live by a proctor');
  for (const q of ['page_ms', 'welcome_ms', 'join_to_live_ms']) {
    assert.ok(storm[q].p50 <= storm[q].p95 && storm[q].p95 <= storm[q].max, `${q} quantiles in order`);
  }
  assert.ok(storm.join_to_live_ms.p50 >= storm.welcome_ms.p50, 'live comes after the welcome');
  // Each page measured its uplink as the system check does, unrefused.
  assert.ok(storm.uplink_probe_bytes.min >= 64 * 1024, `uplink probes: ${JSON.stringify(storm.uplink_probe_bytes)}`);
  assert.deepEqual(Object.keys(storm.errors).filter((e) => e.startsWith('uplink probe')), [], JSON.stringify(storm.errors));

  // The first visit took the page and models compressed: fewer bytes than
  // the files it fetched weigh decoded (all of dist is an upper bound on
  // them, the models' WASM alone is 13 MB decoded), yet megabytes.
  const first = storm.first_visit_bytes;
  assert.equal(first.min, first.max, 'every student fetched the same page');
  assert.ok(first.mean > 2e6, `first visit: ${first.mean} bytes`);
  assert.ok(first.mean < decodedBytes(join(repoRoot, 'web/student/dist')) / 2, `first visit: ${first.mean} bytes`);
  // The revisit: only the entry point and the manifest are asked about
  // (a 304 each); every hashed script and model comes from the cache.
  assert.ok(storm.revisit_requests.max <= 2, `revisit requests: ${JSON.stringify(storm.revisit_requests)}`);
  assert.ok(storm.revisit_bytes.max < 5_000, `revisit bytes: ${JSON.stringify(storm.revisit_bytes)}`);
  assert.equal(storm.revisit_not_modified, storm.revisit_requests.mean, 'each revisit request answered 304');
  assert.ok(storm.revisit_from_cache >= storm.first_visit_requests.mean - 2, 'the rest from the cache');
  assert.ok(storm.timeline.length >= 1 && storm.timeline.at(-1).live === STUDENTS);
  assert.ok(statSync(join(out, 'storm.svg')).size > 1000, 'the chart is written');
});
