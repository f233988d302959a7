// The uplink and the video it allows (issue 19). The system check uploads
// throwaway bytes to the server (`POST /api/v1/uplink-probe`), which times
// them; from the measured uplink this module chooses what the camera
// publishes (simulcast layers, frame rate), so that a slow link gets a
// smaller video from the first second instead of a stalled one. No student
// is turned away: every uplink has a plan, and an unmeasured one gets the
// full plan, which the browser's own bandwidth estimation then trims.
//
// Pure: the probe's requests are injected (uplink-probe.ts makes them).

import type { ErrorBody, UplinkProbe } from "@proto";

/** A simulcast layer: its rid, its scale, its bitrate cap (bit/s). The publisher has always sent these three. */
export const LAYERS = {
  q: { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 100_000 },
  h: { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 300_000 },
  f: { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 900_000 },
} as const;
export type Rid = keyof typeof LAYERS;

/**
 * Share of the measured uplink the video may use. The rest is for what must
 * not queue behind it: evidence frames and sound clips (up to 512 KiB each,
 * uploaded as incidents happen), Socket.IO (incidents, heartbeats, signals)
 * and RTCP; and a measurement taken in a few seconds is not the link's
 * worst minute.
 */
export const VIDEO_SHARE = 0.7;

/** What the microphone's Opus stream takes, when the exam uses it (Chrome's default for voice, with packet overhead). */
export const AUDIO_BPS = 40_000;

export type PlanLevel = "full" | "reduced" | "low" | "minimal";

export interface VideoPlan {
  level: PlanLevel;
  /** The layers sent; the others are not (`active: false`). */
  layers: readonly Rid[];
  /** The frame rate cap of every layer sent; null: the camera's own (15 a second). */
  maxFramerate: number | null;
  /** The quarter layer's bitrate cap: lower at a lower frame rate. */
  quarterBitrate: number;
  /** Bit/s the plan's video sends at most: the sum of its layers' caps. */
  bps: number;
}

function plan(level: PlanLevel, layers: readonly Rid[], maxFramerate: number | null, quarterBitrate: number = LAYERS.q.maxBitrate): VideoPlan {
  const bps = layers.reduce((sum, rid) => sum + (rid === "q" ? quarterBitrate : LAYERS[rid].maxBitrate), 0);
  return { level, layers, maxFramerate, quarterBitrate, bps };
}

/**
 * The plans, richest first. Each is chosen when its video (plus the
 * microphone, when on) fits in {@link VIDEO_SHARE} of the uplink, so the
 * thresholds are, without the microphone:
 *
 * - full: q + h + f at the camera's rate, 1.3 Mbit/s: from about 1.86 Mbit/s.
 *   A proctor who opens the student sees 640×480.
 * - reduced: the full layer dropped, q + h, 0.4 Mbit/s: from about 0.57
 *   Mbit/s. The proctor's large view is 320×240, still enough to see a
 *   face, a phone, a second person.
 * - low: the quarter layer only, at 10 frames a second, 0.1 Mbit/s: from
 *   about 0.14 Mbit/s. 160×120: the tile a proctor watches anyway. Fewer
 *   frames leave each one more bits, so the picture stays readable.
 * - minimal: the quarter layer at 5 frames a second, capped at 50 kbit/s,
 *   below that. Under about 72 kbit/s even this does not fit; it is sent
 *   anyway, as the least a proctor needs, and the page says the link is
 *   very slow. Incidents and evidence still go through on their own.
 *
 * The quarter layer is in every plan: it is the one proctors' tiles ask for
 * and the SFU falls back to it for a large view when nothing bigger comes.
 */
export const PLANS: readonly VideoPlan[] = [
  plan("full", ["q", "h", "f"], null),
  plan("reduced", ["q", "h"], null),
  plan("low", ["q"], 10),
  plan("minimal", ["q"], 5, 50_000),
];

const FULL = PLANS[0]!;
const LEAST = PLANS[PLANS.length - 1]!;

/** The uplink (bit/s) a plan needs: its video and the microphone within {@link VIDEO_SHARE}. */
export function needs(p: VideoPlan, audio: boolean): number {
  return Math.ceil((p.bps + (audio ? AUDIO_BPS : 0)) / VIDEO_SHARE);
}

/** The richest plan the uplink carries; the full plan when it is unknown (the browser adapts from there). */
export function planFor(uplinkBps: number | null, audio = false): VideoPlan {
  if (uplinkBps === null || !Number.isFinite(uplinkBps)) return FULL;
  return PLANS.find((p) => needs(p, audio) <= uplinkBps) ?? LEAST;
}

/** The publisher's `sendEncodings` for a plan: every layer, those not in the plan inactive, so the SFU's view of a publication has one shape. */
export function sendEncodings(p: VideoPlan): RTCRtpEncodingParameters[] {
  return (Object.keys(LAYERS) as Rid[]).map((rid) => {
    const layer = LAYERS[rid];
    const e: RTCRtpEncodingParameters = {
      rid,
      scaleResolutionDownBy: layer.scaleResolutionDownBy,
      maxBitrate: rid === "q" ? p.quarterBitrate : layer.maxBitrate,
      active: p.layers.includes(rid),
    };
    if (p.maxFramerate !== null) e.maxFramerate = p.maxFramerate;
    return e;
  });
}

/** `2.4 Mbit/s`, `0.45 Mbit/s`, `120 Mbit/s`. */
export function mbit(bps: number): string {
  const m = bps / 1e6;
  if (m >= 100) return `${m.toFixed(0)} Mbit/s`;
  if (m >= 0.1) return `${m.toFixed(1)} Mbit/s`;
  return `${m.toFixed(2)} Mbit/s`;
}

/** What a plan means for the student, in words. */
export function planWords(p: VideoPlan): string {
  switch (p.level) {
    case "full":
      return "enough for full video";
    case "reduced":
      return "your video will be sent at medium resolution; the exam works normally";
    case "low":
      return `your video will be sent at low resolution, ${p.maxFramerate} frames a second; the exam works normally`;
    case "minimal":
      return `a very slow link: your video will be sent at low resolution, ${p.maxFramerate} frames a second; the exam works normally`;
  }
}

/** The status line's words for a plan that reduces the video; null for the full plan. */
export function reducedWords(p: VideoPlan): string | null {
  switch (p.level) {
    case "full":
      return null;
    case "reduced":
      return "video at medium resolution for your connection";
    case "low":
    case "minimal":
      return `video at low resolution, ${p.maxFramerate}/s, for your connection`;
  }
}

// ------------------------------------------------------------- measuring

/** The first probe: small enough to finish in 4 s at 0.14 Mbit/s, the lowest plan boundary but one. */
export const FIRST_PROBE_BYTES = 64 * 1024;
/** The server's limits (docs/PROTOCOL.md, uplink probe). */
export const MIN_PROBE_BYTES = 16 * 1024;
export const MAX_PROBE_BYTES = 512 * 1024;
/** A probe that took less than this is timed mostly by the round trip and TCP's first windows: a bigger one follows. */
export const SHORT_PROBE_MS = 1_000;
/** The bigger probe is sized to take about this long at the first one's rate. */
export const SECOND_PROBE_TARGET_MS = 1_500;
/** The page gives up on a probe after this (the server's own deadline is 20 s). */
export const PROBE_TIMEOUT_MS = 15_000;
/** A refusal for a busy server is retried when it asks to wait no longer than this, at most {@link BUSY_RETRIES} times. */
export const BUSY_WAIT_MAX_MS = 3_000;
export const BUSY_RETRIES = 2;
/**
 * The page's own timing (request sent → answer) includes a round trip, so
 * it never overstates the uplink; the server's excludes it, but a proxy in
 * front of the server that buffers whole bodies makes it look instant. The
 * server's figure is taken up to this multiple of the page's: a round trip
 * of up to ~300 ms over a probe of ≥ 1 s keeps the page's within 25% of the
 * truth, so an honest figure passes and a buffered one is held near it.
 */
export const CLIENT_SLACK = 1.25;

/** What one probe request came to. */
export type ProbeAnswer =
  | { kind: "answer"; status: number; body: unknown; ms: number }
  /** The page gave up after `ms`. */
  | { kind: "timeout"; ms: number }
  /** No answer: the network failed, or the request could not be made. */
  | { kind: "error"; message: string };

export interface ProbeDeps {
  /** Uploads `bytes` random bytes to the probe endpoint, giving up after `timeoutMs`. */
  send(bytes: number, timeoutMs: number): Promise<ProbeAnswer>;
  wait(ms: number): Promise<void>;
}

/** The measured uplink: a rate, an upper bound (a probe that could not finish), or nothing. */
export type Uplink =
  | { kind: "measured"; bps: number }
  /** The probe of `bytes` did not arrive within `ms`: the uplink is slower than this. */
  | { kind: "below"; bps: number }
  | { kind: "unknown"; why: string };

/** The uplink a successful probe says: the server's figure, held to {@link CLIENT_SLACK} × the page's. */
export function probeRate(probe: UplinkProbe, clientMs: number): number {
  const client = clientMs > 0 ? (probe.bytes * 8) / (clientMs / 1000) : Infinity;
  return Math.min(probe.bps, client * CLIENT_SLACK);
}

/** The size of the second probe after a first of `firstMs` at `bps`; null when the first was long enough to trust. */
export function secondProbeBytes(bps: number, firstMs: number): number | null {
  if (firstMs >= SHORT_PROBE_MS) return null;
  const bytes = Math.round((bps / 8) * (SECOND_PROBE_TARGET_MS / 1000));
  return Math.min(MAX_PROBE_BYTES, Math.max(2 * FIRST_PROBE_BYTES, bytes));
}

function isProbe(body: unknown): body is UplinkProbe {
  const b = body as Partial<UplinkProbe> | null;
  return !!b && typeof b.bytes === "number" && typeof b.bps === "number" && typeof b.elapsed_ms === "number";
}

function refusal(body: unknown): ErrorBody["error"] | null {
  const e = (body as Partial<ErrorBody> | null)?.error;
  return e && typeof e.reason === "string" ? e : null;
}

/** One probe, with the retries a busy server asks for; and how long the page waited for its answer. */
async function probeOnce(deps: ProbeDeps, bytes: number): Promise<{ uplink: Uplink; ms: number }> {
  for (let attempt = 0; ; attempt++) {
    const a = await deps.send(bytes, PROBE_TIMEOUT_MS);
    if (a.kind === "error") return { uplink: { kind: "unknown", why: a.message }, ms: 0 };
    // Not done in time: slower than this probe over the time it was given.
    const below = { uplink: { kind: "below", bps: (bytes * 8) / (Math.max(a.ms, 1) / 1000) }, ms: a.ms } as const;
    if (a.kind === "timeout") return below;
    if (a.status === 200 && isProbe(a.body)) return { uplink: { kind: "measured", bps: probeRate(a.body, a.ms) }, ms: a.ms };
    const r = refusal(a.body);
    if (r?.reason === "too_slow") return below;
    const wait = r?.retry_after_ms;
    if (r?.reason === "rate_limited" && wait !== undefined && wait <= BUSY_WAIT_MAX_MS && attempt < BUSY_RETRIES) {
      await deps.wait(wait);
      continue;
    }
    return { uplink: { kind: "unknown", why: r ? r.message : `the server answered ${a.status}` }, ms: a.ms };
  }
}

/**
 * Measures the uplink: a small probe first, so that a slow link is measured
 * within seconds; when that one was quick (and so timed mostly by the round
 * trip), one bigger probe sized to take about 1.5 s. Both can only
 * understate a link (TCP starts slow), so the larger figure counts.
 */
export async function measureUplink(deps: ProbeDeps): Promise<Uplink> {
  const { uplink: first, ms } = await probeOnce(deps, FIRST_PROBE_BYTES);
  if (first.kind !== "measured") return first;
  const bytes = secondProbeBytes(first.bps, ms);
  if (bytes === null) return first;
  const { uplink: second } = await probeOnce(deps, bytes);
  return second.kind === "measured" && second.bps > first.bps ? second : first;
}

/** The plan for a measurement (an upper bound plans for the bound; unknown plans full). */
export function planForUplink(u: Uplink, audio: boolean): VideoPlan {
  return planFor(u.kind === "unknown" ? null : u.bps, audio);
}

/** The system check's row: the measurement and what it allows. */
export function uplinkWords(u: Uplink, p: VideoPlan): string {
  switch (u.kind) {
    case "measured":
      return `${mbit(u.bps)} — ${planWords(p)}`;
    case "below":
      return `below ${mbit(u.bps)} — ${planWords(p)}`;
    case "unknown":
      return `could not be measured (${u.why}); your video will adapt to your connection as it goes, and the exam works normally`;
  }
}
