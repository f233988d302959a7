// Starts the real `vigil` binary on loopback with a temporary data dir, and
// speaks to it with the same client libraries a browser uses.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');
export const vigilBin = process.env.VIGIL_BIN ?? join(repoRoot, 'target/debug/vigil');
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';

/** A running server. `stop()` ends it gracefully, `kill9()` crashes it. */
export class VigilServer {
  /**
   * `webDir` is served as `--web-dir` (none by default); `listen` is the HTTP
   * address, `127.0.0.1:0` by default and pinned to the chosen port after the
   * first start, so a restart comes back where pages expect it;
   * `extraArgs` go after the others on `vigil serve`'s command line.
   */
  constructor(dataDir, ownsDir, { webDir, listen, extraArgs = [] } = {}) {
    this.dataDir = dataDir;
    this.ownsDir = ownsDir;
    this.extraArgs = extraArgs;
    this.webDir = webDir ?? join(dataDir, 'no-web');
    this.listen = listen ?? '127.0.0.1:0';
    this.proc = null;
    this.url = null;
    this.stderr = '';
  }

  static async start({ dataDir, ...opts } = {}) {
    const owns = !dataDir;
    const server = new this(dataDir ?? mkdtempSync(join(tmpdir(), 'vigil-e2e-')), owns, opts);
    await server.launch();
    return server;
  }

  async launch() {
    const args = [
      'serve',
      '--data-dir', this.dataDir,
      '--http', this.listen,
      '--admin-token', ADMIN_TOKEN,
      '--web-dir', this.webDir,
      ...this.extraArgs,
    ];
    const proc = spawn(vigilBin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    this.proc = proc;
    proc.stderr.on('data', (d) => { this.stderr += d; });
    this.url = await new Promise((resolveUrl, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`vigil did not start in 30 s:\n${this.stderr}`)), 30_000);
      proc.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/vigil listening on (http:\/\/[0-9.:]+)/);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`vigil exited with ${code}:\n${this.stderr}`));
      });
    });
    this.listen = new URL(this.url).host;
  }

  exited() {
    return new Promise((r) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) r();
      else this.proc.once('exit', () => r());
    });
  }

  async kill9() {
    this.proc.kill('SIGKILL');
    await this.exited();
  }

  /** Starts again on the same data dir and port (which may linger briefly after kill -9). */
  async restart() {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.launch();
        return;
      } catch (e) {
        if (attempt >= 20) throw e;
        await sleep(250);
      }
    }
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      await this.exited();
    }
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The server's signing key, for forging tokens the server would accept. */
  signingKey() {
    return readFileSync(join(this.dataDir, 'server.key'));
  }

  async api(method, path, { token = ADMIN_TOKEN, body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (token) init.headers.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      if (body instanceof Uint8Array) {
        init.body = body;
      } else {
        init.body = JSON.stringify(body);
        init.headers['content-type'] = 'application/json';
      }
    }
    const res = await fetch(`${this.url}/api/v1${path}`, init);
    const type = res.headers.get('content-type') ?? '';
    const data = type.includes('json') ? await res.json() : new Uint8Array(await res.arrayBuffer());
    return { status: res.status, data };
  }

  /** The server's default settings, with a window open from an hour ago. */
  async defaultSettings(patch = {}) {
    const probeId = `defaults-${Math.random().toString(36).slice(2, 10)}`;
    const probe = await this.api('POST', '/exams', { body: { id: probeId, title: 'defaults probe' } });
    const now = Date.now();
    // Long stall timeout: test students send no heartbeats unless a test is about stalls.
    return { ...probe.data.settings, stall_after_s: 600, window: { opens_at: now - 3_600_000, closes_at: now + 3_600_000 }, ...patch };
  }

  /** Creates an exam with `students` and `proctors` and returns their tokens. */
  async exam({ id, students = ['s1'], proctors = ['p1'], settings } = {}) {
    settings ??= await this.defaultSettings();
    const created = await this.api('POST', '/exams', { body: { id, title: `exam ${id}`, settings } });
    if (created.status !== 201) throw new Error(`create exam: ${JSON.stringify(created.data)}`);
    const exam = created.data;
    const tokens = { student: {}, proctor: {} };
    for (const [role, ids] of [['students', students], ['proctors', proctors]]) {
      for (const pid of ids) {
        const added = await this.api('POST', `/exams/${exam.id}/${role}`, { body: { id: pid, name: `Name ${pid}` } });
        if (added.status !== 201) throw new Error(`add ${pid}: ${JSON.stringify(added.data)}`);
        const r = role === 'students' ? 'student' : 'proctor';
        const link = await this.api('POST', `/exams/${exam.id}/links`, { body: { role: r, subject: pid } });
        tokens[r][pid] = link.data.token;
      }
    }
    return { exam, tokens };
  }
}

/** An HS256 JWT, as the server would make with `key`. */
export function signToken(key, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${b64({ typ: 'JWT', alg: 'HS256' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}

/** Connects to a namespace; resolves once connected, rejects with the connect_error. */
export function connect(server, ns, token, opts = {}) {
  const socket = io(`${server.url}${ns}`, {
    auth: token === undefined ? undefined : { token },
    transports: ['websocket'],
    reconnection: false,
    ...opts,
  });
  // Students are greeted as soon as they connect: keep the greeting.
  socket.welcome = new Promise((r) => socket.once('welcome', r));
  return new Promise((resolveSock, reject) => {
    socket.once('connect', () => resolveSock(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** Collects every event of `name` on `socket`. */
export function collect(socket, name) {
  const items = [];
  const waiters = [];
  socket.on(name, (data) => {
    items.push(data);
    for (const w of [...waiters]) {
      if (w.pred(items)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(items);
      }
    }
  });
  return {
    items,
    /** Resolves when `pred(items)` holds; rejects after `ms`. */
    until(pred, ms = 10_000) {
      if (pred(items)) return Promise.resolve(items);
      return new Promise((resolveItems, reject) => {
        const w = { pred, resolve: resolveItems };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`timed out waiting for ${name}; got ${JSON.stringify(items).slice(0, 500)}`));
          }
        }, ms);
      });
    },
  };
}

/** Emits with an ack, bounded in time. */
export function request(socket, event, payload, ms = 30_000) {
  return socket.timeout(ms).emitWithAck(event, payload);
}

let seqCounter = 0;
/** A fresh incident report starting `agoMs` before now. */
export function incident(overrides = {}) {
  seqCounter += 1;
  return {
    id: `inc-${process.pid}-${seqCounter}-${Math.random().toString(36).slice(2, 8)}`,
    seq: seqCounter,
    kind: 'no_face',
    started_at: Date.now() - 500,
    ...overrides,
  };
}

/**
 * Waits for `fn()` to return a truthy value (≤ `ms`, asking every `every`
 * ms); returns it, or fails naming `what` (a string, or a function called
 * at the failure for the latest context) and the last value.
 */
export async function until(what, fn, ms = 30_000, every = 250) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) {
      const name = typeof what === 'function' ? what() : what;
      throw new Error(`timed out (${ms} ms) waiting for ${name}; last: ${JSON.stringify(last)}`);
    }
    await sleep(every);
  }
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
