import { describe, expect, it } from "vitest";
import {
  AUDIO_BPS,
  BUSY_RETRIES,
  FIRST_PROBE_BYTES,
  MAX_PROBE_BYTES,
  PLANS,
  PROBE_TIMEOUT_MS,
  VIDEO_SHARE,
  mbit,
  measureUplink,
  needs,
  planFor,
  planForUplink,
  probeRate,
  reducedWords,
  secondProbeBytes,
  sendEncodings,
  uplinkWords,
  type ProbeAnswer,
  type ProbeDeps,
} from "../../src/uplink.ts";
import type { UplinkProbe } from "@proto";

const levelAt = (bps: number | null, audio = false) => planFor(bps, audio).level;

describe("the video plan for an uplink", () => {
  it("sends all three layers from about 1.9 Mbit/s, fewer below, and something always", () => {
    expect(levelAt(10_000_000)).toBe("full");
    expect(levelAt(1_900_000)).toBe("full");
    expect(levelAt(1_800_000)).toBe("reduced");
    expect(levelAt(600_000)).toBe("reduced");
    expect(levelAt(550_000)).toBe("low");
    expect(levelAt(150_000)).toBe("low");
    expect(levelAt(140_000)).toBe("minimal");
    expect(levelAt(20_000)).toBe("minimal");
    expect(levelAt(0)).toBe("minimal");
  });

  it("plans full when the uplink is unknown: the browser's own estimate trims it", () => {
    expect(levelAt(null)).toBe("full");
    expect(levelAt(Number.NaN)).toBe("full");
  });

  it("keeps what it sends within 70% of the uplink, the microphone included, wherever the least plan fits", () => {
    for (const audio of [false, true]) {
      for (let bps = needs(PLANS[PLANS.length - 1]!, audio); bps <= 5_000_000; bps += 10_000) {
        const p = planFor(bps, audio);
        expect(p.bps + (audio ? AUDIO_BPS : 0), `${bps} bit/s, audio ${audio}: ${p.level}`).toBeLessThanOrEqual(bps * VIDEO_SHARE);
      }
    }
  });

  it("chooses the richest plan that fits, so a faster link never gets less", () => {
    let rank = PLANS.length - 1;
    for (let bps = 0; bps <= 4_000_000; bps += 5_000) {
      const now = PLANS.indexOf(planFor(bps));
      expect(now, `${bps} bit/s`).toBeLessThanOrEqual(rank);
      rank = now;
      // Richest: the plan one better would not fit.
      if (now > 0) expect(needs(PLANS[now - 1]!, false)).toBeGreaterThan(bps);
    }
  });

  it("the microphone moves every threshold up by its share", () => {
    expect(levelAt(1_880_000)).toBe("full");
    expect(levelAt(1_880_000, true)).toBe("reduced");
    expect(needs(PLANS[0]!, true) - needs(PLANS[0]!, false)).toBe(Math.ceil(AUDIO_BPS / VIDEO_SHARE));
  });

  it("lowers the frame rate only with the quarter layer alone, and keeps the quarter layer in every plan", () => {
    for (const p of PLANS) expect(p.layers).toContain("q");
    expect(planFor(3_000_000).maxFramerate).toBeNull();
    expect(planFor(800_000).maxFramerate).toBeNull();
    expect(planFor(300_000)).toMatchObject({ layers: ["q"], maxFramerate: 10 });
    expect(planFor(60_000)).toMatchObject({ layers: ["q"], maxFramerate: 5, quarterBitrate: 50_000 });
  });
});

describe("the publisher's encodings for a plan", () => {
  it("full: the three layers as the publisher always sent them", () => {
    expect(sendEncodings(planFor(null))).toEqual([
      { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 100_000, active: true },
      { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 300_000, active: true },
      { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 900_000, active: true },
    ]);
  });

  it("reduced plans switch layers off and cap the frame rate", () => {
    const active = (bps: number) => sendEncodings(planFor(bps)).map((e) => [e.rid, e.active]);
    expect(active(1_000_000)).toEqual([["q", true], ["h", true], ["f", false]]);
    expect(active(300_000)).toEqual([["q", true], ["h", false], ["f", false]]);
    const minimal = sendEncodings(planFor(50_000));
    expect(minimal[0]).toEqual({ rid: "q", scaleResolutionDownBy: 4, maxBitrate: 50_000, active: true, maxFramerate: 5 });
  });
});

describe("the words for a measurement", () => {
  it("says the rate and what it allows", () => {
    expect(uplinkWords({ kind: "measured", bps: 2_400_000 }, planFor(2_400_000))).toBe("2.4 Mbit/s — enough for full video");
    expect(uplinkWords({ kind: "measured", bps: 400_000 }, planFor(400_000))).toBe(
      "0.4 Mbit/s — your video will be sent at low resolution, 10 frames a second; the exam works normally",
    );
    expect(uplinkWords({ kind: "below", bps: 35_000 }, planFor(35_000))).toMatch(/^below 0\.04 Mbit\/s — a very slow link: .*5 frames a second; the exam works normally$/);
    expect(uplinkWords({ kind: "unknown", why: "the server is busy" }, planFor(null))).toMatch(/^could not be measured \(the server is busy\); .*the exam works normally$/);
  });

  it("formats rates for people", () => {
    expect(mbit(250_000_000)).toBe("250 Mbit/s");
    expect(mbit(1_850_000)).toBe("1.9 Mbit/s");
    expect(mbit(48_000)).toBe("0.05 Mbit/s");
  });

  it("the status line names a reduced video and says nothing of a full one", () => {
    expect(reducedWords(planFor(5_000_000))).toBeNull();
    expect(reducedWords(planFor(800_000))).toMatch(/medium resolution/);
    expect(reducedWords(planFor(200_000))).toMatch(/low resolution, 10\/s/);
  });
});

describe("a probe's rate", () => {
  it("is the server's figure, unless the page's own timing says it cannot be", () => {
    // 256 KiB: the server timed 1.0 s, the page 1.1 s (a round trip more): the server's figure.
    expect(probeRate({ bytes: 262_144, elapsed_ms: 1000, bps: 2_097_152 }, 1100)).toBe(2_097_152);
    // A proxy that buffers whole bodies: the server saw it in 2 ms; the page waited 1.1 s.
    const buffered = probeRate({ bytes: 262_144, elapsed_ms: 2, bps: 1_048_576_000 }, 1100);
    expect(buffered).toBeCloseTo(((262_144 * 8) / 1.1) * 1.25, 0);
  });

  it("a quick first probe is followed by one sized to take about 1.5 s, within the server's limit", () => {
    expect(secondProbeBytes(2_000_000, 1_500)).toBeNull();
    expect(secondProbeBytes(2_000_000, 300)).toBe(375_000);
    expect(secondProbeBytes(100_000_000, 20)).toBe(MAX_PROBE_BYTES);
    expect(secondProbeBytes(500_000, 900)).toBe(2 * FIRST_PROBE_BYTES);
  });
});

/** A scripted server: each send gets the next answer; what was sent is kept. */
function scripted(answers: ProbeAnswer[]): ProbeDeps & { sent: number[]; waited: number[] } {
  const sent: number[] = [];
  const waited: number[] = [];
  return {
    sent,
    waited,
    send: (bytes) => {
      sent.push(bytes);
      const a = answers.shift();
      if (!a) throw new Error("no more answers scripted");
      return Promise.resolve(a);
    },
    wait: (ms) => {
      waited.push(ms);
      return Promise.resolve();
    },
  };
}

/** The server's answer to a probe of `bytes` that the page saw answered after `ms` (the server timed 95% of it). */
const serverSaw = (bytes: number, ms: number): UplinkProbe => ({ bytes, elapsed_ms: ms * 0.95, bps: Math.round((bytes * 8) / ((ms * 0.95) / 1000)) });
const measured = (bytes: number, ms: number): ProbeAnswer => ({ kind: "answer", status: 200, body: serverSaw(bytes, ms), ms });
const refused = (status: number, reason: string, retry_after_ms?: number): ProbeAnswer => ({
  kind: "answer",
  status,
  body: { error: { reason, message: `refused: ${reason}`, ...(retry_after_ms !== undefined ? { retry_after_ms } : {}) } },
  ms: 5,
});

describe("measuring the uplink", () => {
  it("a slow link is measured by the first, small probe alone", async () => {
    const deps = scripted([measured(FIRST_PROBE_BYTES, 3_000)]);
    const u = await measureUplink(deps);
    expect(deps.sent).toEqual([FIRST_PROBE_BYTES]);
    expect(u.kind).toBe("measured");
    expect(u).toEqual({ kind: "measured", bps: probeRate(serverSaw(FIRST_PROBE_BYTES, 3_000), 3_000) });
    expect(planForUplink(u, false).level).toBe("low");
  });

  it("a quick first probe is followed by a bigger one, and the larger figure counts", async () => {
    // 64 KiB in 100 ms (5 Mbit/s, the round trip included), then 512 KiB in 0.5 s (8 Mbit/s).
    const deps = scripted([measured(FIRST_PROBE_BYTES, 100), measured(MAX_PROBE_BYTES, 500)]);
    const u = await measureUplink(deps);
    expect(deps.sent).toEqual([FIRST_PROBE_BYTES, MAX_PROBE_BYTES]);
    expect(u.kind === "measured" && u.bps).toBeGreaterThan(8_000_000);
    // A second probe that fails leaves the first figure, a lower bound.
    const failing = scripted([measured(FIRST_PROBE_BYTES, 200), { kind: "error", message: "network down" }]);
    const v = await measureUplink(failing);
    expect(v).toEqual({ kind: "measured", bps: probeRate(serverSaw(FIRST_PROBE_BYTES, 200), 200) });
  });

  it("a probe that cannot finish in time bounds the uplink from above and plans for the bound", async () => {
    const deps = scripted([{ kind: "timeout", ms: PROBE_TIMEOUT_MS }]);
    const u = await measureUplink(deps);
    expect(u).toEqual({ kind: "below", bps: (FIRST_PROBE_BYTES * 8) / (PROBE_TIMEOUT_MS / 1000) });
    expect(planForUplink(u, false).level).toBe("minimal");
    const slow = await measureUplink(scripted([{ kind: "answer", status: 408, body: { error: { reason: "too_slow", message: "nothing arrived for 5 s" } }, ms: 6_000 }]));
    expect(slow.kind).toBe("below");
  });

  it("a busy server is asked again after the wait it names, a few times at most", async () => {
    const deps = scripted([refused(429, "rate_limited", 1_000), measured(FIRST_PROBE_BYTES, 2_000)]);
    expect((await measureUplink(deps)).kind).toBe("measured");
    expect(deps.waited).toEqual([1_000]);
    const busy = scripted(Array.from({ length: BUSY_RETRIES + 1 }, () => refused(429, "rate_limited", 1_000)));
    const u = await measureUplink(busy);
    expect(u).toEqual({ kind: "unknown", why: "refused: rate_limited" });
    expect(busy.sent.length).toBe(BUSY_RETRIES + 1);
    // A long wait (the student's own budget) is not waited for.
    const spent = scripted([refused(429, "rate_limited", 20_000)]);
    expect((await measureUplink(spent)).kind).toBe("unknown");
    expect(spent.waited).toEqual([]);
  });

  it("refusals and failures are 'could not be measured', and plan full video", async () => {
    for (const a of [refused(401, "expired_token"), refused(503, "unavailable", 1_000), { kind: "error", message: "Failed to fetch" } as const, { kind: "answer", status: 200, body: "<html>", ms: 3 } as const]) {
      const u = await measureUplink(scripted([a, a, a]));
      expect(u.kind, JSON.stringify(a)).toBe("unknown");
      expect(planForUplink(u, true).level).toBe("full");
    }
  });
});
