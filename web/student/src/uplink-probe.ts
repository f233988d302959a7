// The uplink probe's requests (uplink.ts decides what to send and what the
// answers mean): random bytes, so that nothing on the way can compress them,
// POSTed with the student's token; and the measurement kept for this tab, so
// that a reload mid-exam (which skips the system check) publishes the same plan.

import { measureUplink, type ProbeAnswer, type Uplink } from "./uplink.ts";

/** `bytes` random bytes (getRandomValues fills at most 64 KiB at a time). */
function randomBytes(bytes: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65_536) crypto.getRandomValues(out.subarray(i, Math.min(bytes, i + 65_536)));
  return out;
}

/** One probe of `bytes`, timed from the request to its answer. */
async function send(origin: string, token: string, bytes: number, timeoutMs: number): Promise<ProbeAnswer> {
  const body = randomBytes(bytes);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const t0 = performance.now();
  try {
    const res = await fetch(`${origin}/api/v1/uplink-probe`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body,
      signal: abort.signal,
      cache: "no-store",
    });
    // The answer's head is what ends the upload's time; its small body is read after.
    const ms = performance.now() - t0;
    return { kind: "answer", status: res.status, body: await res.json().catch(() => null), ms };
  } catch (e) {
    if (abort.signal.aborted) return { kind: "timeout", ms: performance.now() - t0 };
    return { kind: "error", message: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** Measures this page's uplink against the server at `origin`. */
export function probeUplink(origin: string, token: string): Promise<Uplink> {
  return measureUplink({
    send: (bytes, timeoutMs) => send(origin, token, bytes, timeoutMs),
    wait: (ms) => new Promise((r) => setTimeout(r, ms)),
  });
}

/** Keeps a measurement for this tab under `key`. */
export function rememberUplink(key: string, u: Uplink): void {
  try {
    sessionStorage.setItem(key, JSON.stringify(u));
  } catch {
    /* storage full or disabled: a reload then publishes the full plan, which the browser trims */
  }
}

/** A measurement kept for this tab, if any (and well-formed). */
export function recallUplink(key: string): Uplink | null {
  try {
    const u = JSON.parse(sessionStorage.getItem(key) ?? "null") as Partial<Uplink> | null;
    if (u && (u.kind === "measured" || u.kind === "below") && typeof u.bps === "number" && Number.isFinite(u.bps)) return { kind: u.kind, bps: u.bps };
    return null;
  } catch {
    return null;
  }
}
