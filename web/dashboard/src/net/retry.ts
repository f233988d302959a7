/**
 * Asking the HTTP API again when it says `rate_limited`, and not asking
 * too much at once. The review reads and writes share one budget per
 * proctor (a burst of 60, then 10 a second), and a student's page may want
 * dozens of evidence frames: those wait their turn in a `Limiter`, and a
 * refusal for rate waits the server's `retry_after_ms` and asks again.
 */
import { ApiError } from "./api";

export interface RetryOptions {
  /** Tries in all (the first included); then the last refusal is thrown. */
  readonly attempts?: number;
  /** Told before each wait (to say so on screen). */
  readonly onWait?: (ms: number) => void;
  /** Given up when aborted (the page that asked has gone). */
  readonly signal?: AbortSignal;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Used when a `rate_limited` refusal names no delay. */
export const DEFAULT_RETRY_MS = 1000;

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Aborted extends Error {
  constructor() {
    super("aborted");
  }
}

/**
 * `fn()`, asked again after each `rate_limited` refusal once its
 * `retry_after_ms` has passed (up to `attempts` tries). Any other failure
 * is thrown at once: the server's other answers do not change by waiting.
 */
export async function retryRateLimited<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const sleep = opts.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw new Aborted();
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ApiError) || e.reason !== "rate_limited" || attempt >= attempts) throw e;
      const ms = Math.max(0, e.retryAfterMs ?? DEFAULT_RETRY_MS);
      opts.onWait?.(ms);
      await sleep(ms);
    }
  }
}

/** Runs at most `max` tasks at a time, the others in the order they came. */
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its place straight to the next waiting one, so
    // a task arriving meanwhile cannot slip in and make one too many.
    if (this.running >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Tasks running and waiting. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}

/** What to say of a failed request: the server's reason and message, or the error's own. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
