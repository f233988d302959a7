import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { Aborted, DEFAULT_RETRY_MS, Limiter, retryRateLimited } from "./retry";

const limited = (ms?: number) => new ApiError(429, "rate_limited", "slow down", ms);

describe("asking again after rate_limited", () => {
  it("waits the server's retry_after_ms and asks again", async () => {
    const waits: number[] = [];
    const told: number[] = [];
    let calls = 0;
    const out = await retryRateLimited(
      () => {
        calls++;
        return calls < 3 ? Promise.reject(limited(calls === 1 ? 700 : undefined)) : Promise.resolve("ok");
      },
      { sleep: (ms) => (waits.push(ms), Promise.resolve()), onWait: (ms) => told.push(ms) },
    );
    expect(out).toBe("ok");
    expect(calls).toBe(3);
    expect(waits).toEqual([700, DEFAULT_RETRY_MS]);
    expect(told).toEqual(waits);
  });

  it("gives up after its attempts with the server's refusal", async () => {
    let calls = 0;
    const err = await retryRateLimited(() => (calls++, Promise.reject(limited(10))), { attempts: 3, sleep: () => Promise.resolve() }).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(err).toMatchObject({ reason: "rate_limited", status: 429 });
  });

  it("does not retry other refusals or failures", async () => {
    for (const e of [new ApiError(409, "stale_transition", "someone decided"), new ApiError(503, "unavailable", "x"), new TypeError("network")]) {
      let calls = 0;
      const got = await retryRateLimited(() => (calls++, Promise.reject(e)), { sleep: () => Promise.resolve() }).catch((x: unknown) => x);
      expect(got).toBe(e);
      expect(calls).toBe(1);
    }
  });

  it("stops when aborted while waiting", async () => {
    const ctrl = new AbortController();
    let calls = 0;
    const got = await retryRateLimited(() => (calls++, Promise.reject(limited(5))), {
      signal: ctrl.signal,
      sleep: () => (ctrl.abort(), Promise.resolve()),
    }).catch((x: unknown) => x);
    expect(got).toBeInstanceOf(Aborted);
    expect(calls).toBe(1);
  });
});

describe("the limiter", () => {
  it("runs at most `max` at once, the rest in order, never one too many", async () => {
    const lim = new Limiter(2);
    const started: number[] = [];
    const release: (() => void)[] = [];
    let running = 0;
    let most = 0;
    const task = (i: number) =>
      lim.run(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await new Promise<void>((r) => release.push(r));
        running--;
        return i;
      });
    const all = [0, 1, 2, 3].map(task);
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(lim.load).toEqual({ running: 2, waiting: 2 });
    release.shift()!();
    // A task arriving as one finishes waits behind those already waiting.
    const late = task(4);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    while (release.length || started.length < 5) {
      release.shift()?.();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(await Promise.all([...all, late])).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(lim.load).toEqual({ running: 0, waiting: 0 });
  });

  it("frees the place of a task that fails", async () => {
    const lim = new Limiter(1);
    await expect(lim.run(() => Promise.reject(new Error("no")))).rejects.toThrow("no");
    expect(await lim.run(() => Promise.resolve(5))).toBe(5);
  });
});
