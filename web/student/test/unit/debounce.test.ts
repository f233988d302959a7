import { describe, expect, it } from "vitest";
import { Debouncer, DEFAULT_CONFIG, applyThresholds, type Action, type Observation } from "../../src/debounce.ts";

function make(disabled: string[] = []) {
  let n = 0;
  return new Debouncer(() => `id${++n}`, disabled);
}

/** Feeds frames every `step` ms from `from` to `to` (exclusive) with the given fields. */
function frames(d: Debouncer, from: number, to: number, o: Omit<Observation, "at">, step = 100): Action[] {
  const out: Action[] = [];
  for (let t = from; t < to; t += step) out.push(...d.observe({ at: t, brightness: 0.5, ...o }));
  return out;
}

describe("vision conditions", () => {
  it("no face: raised after 2 s with started_at at the first faceless frame, ended when a face returns", () => {
    const d = make();
    expect(frames(d, 0, 1000, { faces: 1, yawDeg: 0 })).toEqual([]);
    const during = frames(d, 1000, 5000, { faces: 0 });
    expect(during).toEqual([{ type: "raise", id: "id1", kind: "no_face", started_at: 1000, raised_at: 3000 }]);
    const after = frames(d, 5000, 6000, { faces: 1, yawDeg: 0 });
    expect(after).toEqual([{ type: "end", id: "id1", kind: "no_face", ended_at: 5000 }]);
  });

  it("no face shorter than 2 s raises nothing", () => {
    const d = make();
    expect(frames(d, 0, 1900, { faces: 0 })).toEqual([]);
    expect(frames(d, 1900, 5000, { faces: 1 })).toEqual([]);
  });

  it("one noisy frame neither splits nor resets an episode", () => {
    const d = make();
    const a = [...frames(d, 0, 1500, { faces: 0 }), ...frames(d, 1500, 1600, { faces: 1 }), ...frames(d, 1600, 2500, { faces: 0 })];
    expect(a).toEqual([{ type: "raise", id: "id1", kind: "no_face", started_at: 0, raised_at: 2000 }]);
  });

  it("two faces for 1 s", () => {
    const d = make();
    const a = frames(d, 0, 1500, { faces: 2, confidence: 0.9 });
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ type: "raise", kind: "multiple_faces", started_at: 0, raised_at: 1000, detail: "2 faces" });
    expect(frames(d, 1500, 2500, { faces: 1 })).toEqual([{ type: "end", id: "id1", kind: "multiple_faces", ended_at: 1500 }]);
  });

  it("looking away: |yaw| > 25° or |pitch| > 20° for 2 s; frontal-ish poses never", () => {
    const d = make();
    expect(frames(d, 0, 10_000, { faces: 1, yawDeg: 24, pitchDeg: -19 })).toEqual([]);
    const a = frames(d, 10_000, 15_000, { faces: 1, yawDeg: -30, pitchDeg: 0 });
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ kind: "looking_away", started_at: 10_000, raised_at: 12_000 });
    const d2 = make();
    expect(frames(d2, 0, 4100, { faces: 1, yawDeg: 0, pitchDeg: 25 })[0]).toMatchObject({ kind: "looking_away", raised_at: 2000 });
  });

  it("darkness is a quality signal, never an incident, and ends open episodes", () => {
    const d = make();
    expect(frames(d, 0, 10_000, { faces: 0, brightness: 0.02 })).toEqual([]);
    expect(d.quality()).toBe("low_light");
    const raised = frames(d, 10_000, 14_000, { faces: 0 });
    expect(raised).toHaveLength(1);
    const ended = frames(d, 14_000, 15_000, { faces: 0, brightness: 0.01 });
    expect(ended).toEqual([{ type: "end", id: "id1", kind: "no_face", ended_at: 14_000 }]);
  });

  it("low confidence is reported as quality", () => {
    const d = make();
    d.observe({ at: 0, faces: 1, confidence: 0.3, brightness: 0.5 });
    expect(d.quality()).toBe("low_confidence");
  });

  it("frames that stop arriving make vision conditions unknown (episode ends)", () => {
    const d = make();
    frames(d, 0, 4000, { faces: 0 });
    expect(d.tick(5000)).toEqual([]);
    expect(d.tick(6500)).toEqual([{ type: "end", id: "id1", kind: "no_face", ended_at: 3900 }]);
  });

  it("disabled detectors stay silent, and disabling closes what is open", () => {
    const d = make(["no_face"]);
    expect(frames(d, 0, 10_000, { faces: 0 })).toEqual([]);
    const e = make();
    frames(e, 0, 4000, { faces: 0 });
    expect(e.setDisabled(["no_face"], 4500)).toEqual([{ type: "end", id: "id1", kind: "no_face", ended_at: 4500 }]);
    expect(frames(e, 4500, 9000, { faces: 0 })).toEqual([]);
  });
});

describe("page conditions", () => {
  it("tab hidden is raised at once and ends when visible", () => {
    const d = make();
    expect(d.state("tab_hidden", true, 100)).toEqual([{ type: "raise", id: "id1", kind: "tab_hidden", started_at: 100, raised_at: 100 }]);
    expect(d.state("tab_hidden", true, 300)).toEqual([]);
    expect(d.state("tab_hidden", false, 900)).toEqual([{ type: "end", id: "id1", kind: "tab_hidden", ended_at: 900 }]);
  });

  it("window blur needs 2 s, raised from tick; a short blur is nothing", () => {
    const d = make();
    expect(d.state("window_blur", true, 0)).toEqual([]);
    expect(d.tick(1000)).toEqual([]);
    expect(d.state("window_blur", false, 1500)).toEqual([]);
    expect(d.state("window_blur", true, 3000)).toEqual([]);
    expect(d.tick(4900)).toEqual([]);
    expect(d.tick(5000)).toEqual([{ type: "raise", id: "id1", kind: "window_blur", started_at: 3000, raised_at: 5000 }]);
    expect(d.tick(6000)).toEqual([]);
    expect(d.state("window_blur", false, 7000)).toEqual([{ type: "end", id: "id1", kind: "window_blur", ended_at: 7000 }]);
  });

  it("fullscreen exit, second screen and camera ended are immediate", () => {
    const d = make();
    for (const k of ["fullscreen_exit", "second_screen", "camera_ended"] as const) {
      expect(d.state(k, true, 50)[0]).toMatchObject({ type: "raise", kind: k, started_at: 50 });
    }
    expect(Object.keys(d.openIncidents()).sort()).toEqual(["camera_ended", "fullscreen_exit", "second_screen"]);
    expect(d.endAll(80).map((a) => a.type)).toEqual(["end", "end", "end"]);
  });

  it("copy/paste is a closed incident; a burst folds into one", () => {
    const d = make();
    expect(d.instant("copy_paste", 1000, "paste")).toEqual([
      { type: "raise", id: "id1", kind: "copy_paste", started_at: 1000, raised_at: 1000, ended_at: 1000, detail: "paste" },
    ]);
    expect(d.instant("copy_paste", 2000)).toEqual([]);
    expect(d.instant("copy_paste", 2000 + DEFAULT_CONFIG.copyPasteQuietMs)).toHaveLength(1);
  });

  it("ids are unique per episode", () => {
    const d = make();
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push((d.state("tab_hidden", true, i * 1000)[0] as { id: string }).id);
      d.state("tab_hidden", false, i * 1000 + 500);
    }
    expect(new Set(ids).size).toBe(5);
  });
});

describe("thresholds from the exam's settings", () => {
  it("map onto the no-face and looking-away debounces and the yaw limit, field by field", () => {
    const c = applyThresholds(DEFAULT_CONFIG, { no_face_after_ms: 8000, yaw_limit_deg: 40 });
    expect(c.debounce.no_face).toBe(8000);
    expect(c.debounce.looking_away).toBe(DEFAULT_CONFIG.debounce.looking_away);
    expect(c.yawLimitDeg).toBe(40);
    expect(c.pitchLimitDeg).toBe(DEFAULT_CONFIG.pitchLimitDeg);
    expect(applyThresholds(DEFAULT_CONFIG, { looking_away_after_ms: 1500 }).debounce.looking_away).toBe(1500);
    // None: the defaults, and the base is never changed in place.
    expect(applyThresholds(DEFAULT_CONFIG, undefined)).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG.debounce.no_face).toBe(2000);
    // Nonsense keeps the base (the server validates the real ranges).
    expect(applyThresholds(DEFAULT_CONFIG, { no_face_after_ms: -1, yaw_limit_deg: Number.NaN }).debounce.no_face).toBe(2000);
  });

  it("change when incidents are raised", () => {
    let n = 0;
    const d = new Debouncer(() => `id${++n}`, [], applyThresholds(DEFAULT_CONFIG, { no_face_after_ms: 6000 }));
    expect(frames(d, 0, 5900, { faces: 0 })).toEqual([]);
    expect(frames(d, 5900, 6100, { faces: 0 })).toEqual([{ type: "raise", id: "id1", kind: "no_face", started_at: 0, raised_at: 6000 }]);
    // A wider yaw limit: 30° is no longer looking away.
    const wide = new Debouncer(() => "w", [], applyThresholds(DEFAULT_CONFIG, { yaw_limit_deg: 35 }));
    expect(frames(wide, 0, 10_000, { faces: 1, yawDeg: 30 })).toEqual([]);
  });

  it("apply live: an episode under way is judged by the new debounce", () => {
    let n = 0;
    const d = new Debouncer(() => `id${++n}`);
    expect(frames(d, 0, 2000, { faces: 0 })).toEqual([]);
    d.setConfig(applyThresholds(DEFAULT_CONFIG, { no_face_after_ms: 1000 }));
    expect(frames(d, 2000, 2100, { faces: 0 })).toEqual([{ type: "raise", id: "id1", kind: "no_face", started_at: 0, raised_at: 2000 }]);
  });
});

describe("gaze: head and eyes against the calibrated screen", () => {
  const calibrated = (screen: { yawDeg: number; pitchDeg: number } | null, t = {}) =>
    new Debouncer(() => "g", [], { ...applyThresholds(DEFAULT_CONFIG, t), screen });

  it("eyes turned back to the screen cancel a head turn", () => {
    // Head 30° right, eyes 28° left: looking at the screen.
    const d = calibrated({ yawDeg: 0, pitchDeg: 0 });
    expect(frames(d, 0, 10_000, { faces: 1, yawDeg: 30, pitchDeg: 0, eyeYawDeg: -28, eyePitchDeg: 0 })).toEqual([]);
  });

  it("eyes alone can look away, and the detail says how far", () => {
    const d = calibrated({ yawDeg: 0, pitchDeg: 0 });
    const a = frames(d, 0, 2500, { faces: 1, yawDeg: 10, pitchDeg: 0, eyeYawDeg: 20, eyePitchDeg: 0 });
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ kind: "looking_away", started_at: 0, raised_at: 2000 });
    expect((a[0] as { detail: string }).detail).toBe("gaze 30° sideways, 0° down (head 10°/0°, eyes 20°/0°)");
  });

  it("angles count from where the student looked while calibrating", () => {
    // A camera off to the side: the screen is 20° to the left of it.
    const d = calibrated({ yawDeg: -20, pitchDeg: 5 });
    expect(frames(d, 0, 5000, { faces: 1, yawDeg: -18, pitchDeg: 3, eyeYawDeg: -2, eyePitchDeg: 2 })).toEqual([]);
    // Straight at the camera is now 20° away from the screen: inside 25°.
    expect(frames(d, 5000, 8000, { faces: 1, yawDeg: 0, pitchDeg: 5, eyeYawDeg: 0, eyePitchDeg: 0 })).toEqual([]);
    // 30° away from the screen is looking away.
    expect(frames(d, 8000, 10_500, { faces: 1, yawDeg: 10, pitchDeg: 5, eyeYawDeg: 0, eyePitchDeg: 0 })).toHaveLength(1);
  });

  it("without a calibration, or without the eyes, the head alone decides", () => {
    const none = calibrated(null);
    expect(frames(none, 0, 5000, { faces: 1, yawDeg: 10, pitchDeg: 0, eyeYawDeg: 30, eyePitchDeg: 0 })).toEqual([]);
    const noEyes = calibrated({ yawDeg: -20, pitchDeg: 0 });
    expect(frames(noEyes, 0, 5000, { faces: 1, yawDeg: 10, pitchDeg: 0 })).toEqual([]);
  });

  it("the pitch limit comes from the exam's thresholds", () => {
    const strict = calibrated({ yawDeg: 0, pitchDeg: 0 }, { pitch_limit_deg: 12 });
    expect(frames(strict, 0, 2500, { faces: 1, yawDeg: 0, pitchDeg: 8, eyeYawDeg: 0, eyePitchDeg: 7 })).toHaveLength(1);
    const loose = calibrated({ yawDeg: 0, pitchDeg: 0 }, { pitch_limit_deg: 40 });
    expect(frames(loose, 0, 5000, { faces: 1, yawDeg: 0, pitchDeg: 20, eyeYawDeg: 0, eyePitchDeg: 15 })).toEqual([]);
  });
});

describe("a phone in view", () => {
  it("raised after 1 s of detections, kept through a missed detection, ended 1.5 s after the last", () => {
    const d = make();
    // Camera frames 10 a second; the object detector reports twice a second.
    const out: Action[] = [];
    for (let t = 0; t < 6000; t += 100) {
      out.push(...d.observe({ at: t, faces: 1, yawDeg: 0, brightness: 0.5 }));
      if (t % 500 === 0) {
        const phone = t < 3000 && t !== 1500; // one missed detection at 1.5 s
        out.push(...d.objects(t, phone ? 0.8 : 0.1));
      }
    }
    expect(out).toEqual([
      { type: "raise", id: "id1", kind: "phone_visible", started_at: 0, raised_at: 1000, confidence: 0.8, detail: "phone, score 0.80" },
      { type: "end", id: "id1", kind: "phone_visible", ended_at: 3000 },
    ]);
  });

  it("a low score is no phone, and a dark picture says nothing", () => {
    const d = make();
    for (let t = 0; t < 5000; t += 500) expect(d.objects(t, 0.2)).toEqual([]);
    d.observe({ at: 5000, faces: 0, brightness: 0.01 });
    for (let t = 5000; t < 9000; t += 500) expect(d.objects(t, 0.9)).toEqual([]);
  });

  it("ends with the camera's frames: no fresh frames, no phone", () => {
    const d = make();
    for (let t = 0; t <= 1500; t += 500) {
      d.observe({ at: t, faces: 1, brightness: 0.5 });
      d.objects(t, 0.9);
    }
    expect(d.openIncidents().phone_visible).toBe("id1");
    expect(d.tick(4000)).toEqual([{ type: "end", id: "id1", kind: "phone_visible", ended_at: 1500 }]);
  });
});

describe("a voice heard", () => {
  it("raised after 1 s of speech, through the pauses between words, ended 1.5 s after the last", () => {
    const d = make();
    const out: Action[] = [];
    // Results every 100 ms: speech for 3 s with a 400 ms pause at 1.2 s, then silence.
    for (let t = 0; t < 7000; t += 100) {
      const speaking = t < 3000 && !(t >= 1200 && t < 1600);
      out.push(...d.voice(t, speaking ? 0.93 : 0.04));
    }
    expect(out).toEqual([
      { type: "raise", id: "id1", kind: "voice_detected", started_at: 0, raised_at: 1000, confidence: 0.93, detail: "speech heard" },
      { type: "end", id: "id1", kind: "voice_detected", ended_at: 3000 },
    ]);
  });

  it("a cough (a short burst) or a low probability is nothing", () => {
    const d = make();
    for (let t = 0; t < 3000; t += 100) expect(d.voice(t, t >= 500 && t < 900 ? 0.9 : 0.45)).toEqual([]);
  });

  it("ends where the audio stopped when results stop coming", () => {
    const d = make();
    for (let t = 0; t <= 1500; t += 100) d.voice(t, 0.9);
    expect(d.openIncidents().voice_detected).toBe("id1");
    expect(d.tick(3000)).toEqual([]);
    expect(d.tick(4000)).toEqual([{ type: "end", id: "id1", kind: "voice_detected", ended_at: 1500 }]);
  });
});

describe("weak signals", () => {
  it("a suspect camera is raised at once; developer tools after 2 s open", () => {
    const d = make();
    expect(d.state("camera_suspect", true, 100, "virtual camera: OBS Virtual Camera")).toEqual([
      { type: "raise", id: "id1", kind: "camera_suspect", started_at: 100, raised_at: 100, detail: "virtual camera: OBS Virtual Camera" },
    ]);
    expect(d.state("devtools_open", true, 1000)).toEqual([]);
    expect(d.tick(2500)).toEqual([]);
    expect(d.tick(3000)).toEqual([{ type: "raise", id: "id2", kind: "devtools_open", started_at: 1000, raised_at: 3000 }]);
    expect(d.state("devtools_open", false, 4000)).toEqual([{ type: "end", id: "id2", kind: "devtools_open", ended_at: 4000 }]);
  });
});
