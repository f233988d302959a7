import { describe, expect, it } from "vitest";
import { ClipRecorder, encodeWav } from "../../src/clip.ts";

const RATE = 16_000;
const FRAME = 512;
const FRAME_MS = (FRAME * 1000) / RATE;

/** Frame n holds the value n / 1000 in every sample, so a clip shows which frames it took. */
const frame = (n: number) => new Float32Array(FRAME).fill(n / 1000);

function feed(r: ClipRecorder, from: number, to: number, t0 = 1_000_000) {
  const clips = [];
  for (let n = from; n < to; n++) clips.push(...r.push(frame(n), t0 + (n + 1) * FRAME_MS));
  return clips;
}

/** The frame numbers a clip's samples came from (one per frame). */
function framesOf(wav: Uint8Array): number[] {
  const view = new DataView(wav.buffer, wav.byteOffset);
  const samples = view.getUint32(40, true) / 2;
  const out: number[] = [];
  for (let i = 0; i < samples; i += FRAME) out.push(Math.round((view.getInt16(44 + 2 * i, true) / 0x7fff) * 1000));
  return out;
}

describe("sound clips", () => {
  it("write a WAV header any reader takes: PCM 16-bit mono at the rate", () => {
    const wav = encodeWav(Float32Array.from([0, 1, -1, 2]), RATE);
    const view = new DataView(wav.buffer);
    const text = (at: number, n: number) => String.fromCharCode(...wav.subarray(at, at + n));
    expect([text(0, 4), text(8, 8), text(36, 4)]).toEqual(["RIFF", "WAVEfmt ", "data"]);
    expect(view.getUint32(4, true)).toBe(wav.length - 8);
    expect([view.getUint16(20, true), view.getUint16(22, true), view.getUint32(24, true), view.getUint16(34, true)]).toEqual([1, 1, RATE, 16]);
    expect(view.getUint32(40, true)).toBe(8);
    // Clipped to full scale, never wrapped round.
    expect([1, 2, 3, 4].map((i) => view.getInt16(44 + 2 * (i - 1), true))).toEqual([0, 32767, -32768, 32767]);
  });

  it("hold the 2 s before the request and the 3 s after, timed from the first sample", () => {
    const r = new ClipRecorder(RATE);
    expect(feed(r, 0, 200)).toEqual([]);
    expect(r.request("v1")).toBe(true);
    const before = Math.ceil(2_000 / FRAME_MS);
    const after = Math.ceil(3_000 / FRAME_MS);
    expect(feed(r, 200, 200 + after - 1)).toEqual([]);
    const [clip, ...rest] = feed(r, 200 + after - 1, 200 + after + 10);
    expect(rest).toEqual([]);
    expect(clip!.id).toBe("v1");
    const frames = framesOf(clip!.wav);
    expect(frames[0]).toBe(200 - before);
    expect(frames.at(-1)).toBe(200 + after - 1);
    expect(frames).toHaveLength(before + after);
    expect(clip!.startedAt).toBeCloseTo(1_000_000 + (200 - before) * FRAME_MS, 6);
    expect(clip!.durationMs).toBeCloseTo((before + after) * FRAME_MS, 6);
  });

  it("start with what there is when the microphone has only just started", () => {
    const r = new ClipRecorder(RATE);
    feed(r, 0, 10);
    r.request("early");
    const clips = feed(r, 10, 200);
    expect(clips).toHaveLength(1);
    expect(framesOf(clips[0]!.wav)[0]).toBe(0);
  });

  it("serve overlapping requests each in full, and refuse a flood and repeats", () => {
    const r = new ClipRecorder(RATE);
    feed(r, 0, 100);
    expect(r.request("a")).toBe(true);
    expect(r.request("a")).toBe(false);
    feed(r, 100, 120);
    for (const id of ["b", "c", "d"]) expect(r.request(id)).toBe(true);
    expect(r.request("e")).toBe(false);
    const clips = feed(r, 120, 300);
    expect(clips.map((c) => c.id)).toEqual(["a", "b", "c", "d"]);
    expect(framesOf(clips[1]!.wav)[0]).toBe(framesOf(clips[0]!.wav)[0]! + 20);
    expect(r.request("e")).toBe(true);
  });
});
