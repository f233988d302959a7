import { describe, expect, it } from "vitest";
import { Downsampler, VOICE_FRAME, VOICE_RATE } from "../../src/resample.ts";

const tone = (rate: number, hz: number, seconds: number, from = 0) =>
  Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.sin((2 * Math.PI * hz * (from + i)) / rate));

describe("downsampling to 16 kHz frames", () => {
  it("turns a second of 48 kHz into 31 frames of 512, keeping a low tone", () => {
    const d = new Downsampler(48_000);
    const frames = d.push(tone(48_000, 300, 1));
    expect(frames).toHaveLength(Math.floor(VOICE_RATE / VOICE_FRAME));
    for (const f of frames) expect(f).toHaveLength(VOICE_FRAME);
    // 300 Hz survives the box filter almost whole: compare with the tone sampled at 16 kHz.
    const want = tone(VOICE_RATE, 300, 1);
    const got = frames.flatMap((f) => [...f]);
    let err = 0;
    for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]! * 0.9945));
    expect(err).toBeLessThan(0.05);
  });

  it("gives the same samples however the input is cut into chunks, at 44.1 kHz too", () => {
    const input = tone(44_100, 440, 0.5);
    const whole = new Downsampler(44_100).push(input).flatMap((f) => [...f]);
    const d = new Downsampler(44_100);
    const pieces: number[] = [];
    for (let i = 0; i < input.length; i += 128) pieces.push(...d.push(input.subarray(i, i + 128)).flatMap((f) => [...f]));
    expect(pieces).toEqual(whole);
    expect(whole.length).toBe(Math.floor((0.5 * VOICE_RATE) / VOICE_FRAME) * VOICE_FRAME);
  });

  it("keeps a constant level exactly", () => {
    const frames = new Downsampler(44_100).push(new Float32Array(44_100).fill(0.25));
    expect(frames.every((f) => f.every((v) => Math.abs(v - 0.25) < 1e-6))).toBe(true);
  });

  it("refuses rates below 16 kHz and nonsense", () => {
    expect(() => new Downsampler(8_000)).toThrow(RangeError);
    expect(() => new Downsampler(Number.NaN)).toThrow(RangeError);
  });
});
