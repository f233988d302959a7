// Signals → incidents. Pure: fed observations, page events and time, it
// returns what to report. No DOM, no clocks, no I/O; ids come from `newId`.
//
// Every detector is a condition with a debounce: the incident's started_at is
// when the condition first held, it is raised once the condition has held
// for `debounce` ms, and it ends at the first moment the condition stopped
// holding for longer than `release` ms (a short grace so one noisy frame
// does not split or reset an episode).

import type { DetectorThresholds, IncidentKind } from "@proto";
import { combine, type Direction } from "./gaze.ts";

export type ClientKind = Extract<
  IncidentKind,
  | "no_face"
  | "multiple_faces"
  | "looking_away"
  | "tab_hidden"
  | "window_blur"
  | "fullscreen_exit"
  | "copy_paste"
  | "second_screen"
  | "camera_ended"
  | "phone_visible"
  | "voice_detected"
  | "camera_suspect"
  | "devtools_open"
>;

/** Page-state conditions reported by the page as on/off. */
export type StateKind =
  | "tab_hidden"
  | "window_blur"
  | "fullscreen_exit"
  | "second_screen"
  | "camera_ended"
  | "camera_suspect"
  | "devtools_open";

/** One analysed camera frame. */
export interface Observation {
  at: number;
  faces: number;
  /** Head pose (FaceLandmarker's transform, or the detector's coarse yaw). */
  yawDeg?: number;
  pitchDeg?: number;
  /** The eyes' direction in the head (gaze.ts), where the iris landmarks were read. */
  eyeYawDeg?: number;
  eyePitchDeg?: number;
  /** Detector confidence of the (first) face, 0..1. */
  confidence?: number;
  /** Mean luma 0..1. */
  brightness?: number;
}

export type Action =
  | {
      type: "raise";
      id: string;
      kind: ClientKind;
      started_at: number;
      /** When the debounce condition was met (the moment of decision). */
      raised_at: number;
      ended_at?: number;
      confidence?: number;
      detail?: string;
    }
  | { type: "end"; id: string; kind: ClientKind; ended_at: number };

export interface DebounceConfig {
  /** ms the condition must hold before the incident is raised. */
  debounce: Record<ClientKind, number>;
  /** ms the condition must be absent before an open episode ends. */
  release: Record<ClientKind, number>;
  /** Head and eyes together, from `screen`, beyond which the student looks away. */
  yawLimitDeg: number;
  pitchLimitDeg: number;
  /**
   * Where the student looked while calibrating (head and eyes, gaze.ts);
   * null: not calibrated, and straight at the camera counts as the screen.
   */
  screen: Direction | null;
  /**
   * A phone scored at least this by the object detector is in view. COCO's
   * "cell phone" and "remote" both count: the detector calls a phone held in
   * a hand a remote more often than not (test/objects-model.test.mjs). Not
   * lower: the mission patch on the test video's astronaut scores up to 0.25
   * as a phone, and a phone held in a hand 0.28–0.36 (docs/DETECTION.md).
   */
  minPhoneScore: number;
  /** Speech probability (Silero VAD) at or above which someone is speaking. */
  minSpeech: number;
  /** Below this mean luma the frame says nothing about faces (quality, not incident). */
  darkBelow: number;
  /** Faces with detection confidence below this are not counted. */
  minFaceConfidence: number;
  /** Observations older than this (no fresh frames) make vision conditions unknown. */
  staleAfterMs: number;
  /** Copy/paste events closer than this fold into one incident. */
  copyPasteQuietMs: number;
}

export const DEFAULT_CONFIG: DebounceConfig = {
  debounce: {
    // The design's budget is an alert within 2-3 s of the behaviour
    // starting; these leave ~0.3 s for the frame, inference and delivery
    // (measured: docs/BENCHMARKS.md, "Alert time").
    no_face: 2000,
    multiple_faces: 1000,
    looking_away: 2000,
    tab_hidden: 0,
    window_blur: 2000,
    fullscreen_exit: 0,
    copy_paste: 0,
    second_screen: 0,
    camera_ended: 0,
    // Two or three detections in a row: one misread frame is not a phone.
    phone_visible: 1000,
    // A second of speech: a cough or a chair is shorter.
    voice_detected: 1000,
    camera_suspect: 0,
    // Docked developer tools resize the page: a window being resized is not that.
    devtools_open: 2000,
  },
  release: {
    no_face: 600,
    multiple_faces: 600,
    looking_away: 600,
    tab_hidden: 0,
    window_blur: 0,
    fullscreen_exit: 0,
    copy_paste: 0,
    second_screen: 0,
    camera_ended: 0,
    // The detector looks twice a second and misses a frame now and then.
    phone_visible: 1500,
    // The pauses between words and sentences belong to one conversation.
    voice_detected: 1500,
    camera_suspect: 0,
    devtools_open: 0,
  },
  yawLimitDeg: 25,
  pitchLimitDeg: 20,
  screen: null,
  minPhoneScore: 0.3,
  minSpeech: 0.5,
  darkBelow: 0.08,
  minFaceConfidence: 0.5,
  staleAfterMs: 2000,
  copyPasteQuietMs: 5000,
};

/**
 * `base` with the exam's (or the student's accommodated) thresholds over
 * it, field by field: `no_face_after_ms` is the no-face debounce,
 * `looking_away_after_ms` the looking-away one, `yaw_limit_deg` and
 * `pitch_limit_deg` the angles (head and eyes, from the calibrated screen)
 * beyond which the student looks away. A field that is absent, or not
 * a positive number (the server validates ranges; the page only refuses
 * what would break its timing), keeps `base`'s value.
 */
export function applyThresholds(base: DebounceConfig, t: DetectorThresholds | undefined): DebounceConfig {
  const pick = (v: number | undefined, d: number) => (v !== undefined && Number.isFinite(v) && v > 0 ? v : d);
  return {
    ...base,
    debounce: {
      ...base.debounce,
      no_face: pick(t?.no_face_after_ms, base.debounce.no_face),
      looking_away: pick(t?.looking_away_after_ms, base.debounce.looking_away),
    },
    yawLimitDeg: pick(t?.yaw_limit_deg, base.yawLimitDeg),
    pitchLimitDeg: pick(t?.pitch_limit_deg, base.pitchLimitDeg),
  };
}

function describeGaze(o: Observation, g: Direction): string {
  const r = Math.round;
  const eyes = o.eyeYawDeg !== undefined ? `, eyes ${r(o.eyeYawDeg)}°/${r(o.eyePitchDeg ?? 0)}°` : "";
  return `gaze ${r(g.yawDeg)}° sideways, ${r(g.pitchDeg)}° down (head ${r(o.yawDeg ?? 0)}°/${r(o.pitchDeg ?? 0)}°${eyes})`;
}

export type Quality = "good" | "low_light" | "low_confidence" | "unknown";

interface Track {
  /** When the condition started holding (episode start), or null. */
  since: number | null;
  /** When the condition last stopped holding while an episode is alive. */
  clearedAt: number | null;
  /** Open incident id once raised. */
  open: string | null;
  detail?: string;
  confidence?: number;
}

const VISION: ClientKind[] = ["no_face", "multiple_faces", "looking_away", "phone_visible"];

/** Where the student looks relative to the screen, or null without a head pose. */
export function gazeFromScreen(o: Observation, screen: Direction | null): Direction | null {
  if (o.yawDeg === undefined) return null;
  const head = { yawDeg: o.yawDeg, pitchDeg: o.pitchDeg ?? 0 };
  const eyes = o.eyeYawDeg !== undefined && o.eyePitchDeg !== undefined ? { yawDeg: o.eyeYawDeg, pitchDeg: o.eyePitchDeg } : null;
  // The eyes' rest position differs from one face to the next by several
  // degrees (where the iris sits between the lids and corners), so they only
  // count against a calibration; without one, or on a frame where they were
  // not read, the head alone decides, as it did before gaze.
  if (!screen || !eyes) return head;
  const g = combine(head, eyes);
  return { yawDeg: g.yawDeg - screen.yawDeg, pitchDeg: g.pitchDeg - screen.pitchDeg };
}

export class Debouncer {
  private tracks = new Map<ClientKind, Track>();
  private disabled: Set<ClientKind>;
  private lastObs: Observation | null = null;
  /** The end of the last audio the voice detector judged. */
  private lastVoiceAt: number | null = null;
  private lastCopyPaste = -Infinity;

  constructor(
    private newId: () => string,
    disabled: Iterable<string> = [],
    private cfg: DebounceConfig = DEFAULT_CONFIG,
  ) {
    this.disabled = new Set(disabled as Iterable<ClientKind>);
  }

  /**
   * New thresholds (the exam's settings changed). An episode under way is
   * judged by the new ones from its next observation on; its start stays.
   */
  setConfig(cfg: DebounceConfig): void {
    this.cfg = cfg;
  }

  /** Switches detectors off (accommodations); closes what they had open at `at`. */
  setDisabled(disabled: Iterable<string>, at: number): Action[] {
    this.disabled = new Set(disabled as Iterable<ClientKind>);
    const out: Action[] = [];
    for (const kind of this.disabled) {
      const t = this.tracks.get(kind);
      if (t?.open) out.push({ type: "end", id: t.open, kind, ended_at: Math.max(at, t.since ?? at) });
      this.tracks.delete(kind);
    }
    return out;
  }

  /** Quality of the last observation: a signal for the proctor, never an incident. */
  quality(): Quality {
    const o = this.lastObs;
    if (!o) return "unknown";
    if (o.brightness !== undefined && o.brightness < this.cfg.darkBelow) return "low_light";
    if (o.faces > 0 && o.confidence !== undefined && o.confidence < this.cfg.minFaceConfidence) return "low_confidence";
    return "good";
  }

  /** An analysed frame. */
  observe(o: Observation): Action[] {
    this.lastObs = o;
    const out: Action[] = [];
    const dark = o.brightness !== undefined && o.brightness < this.cfg.darkBelow;
    // In the dark the count of faces means nothing: every vision condition is
    // "not known to hold", which also ends open episodes.
    const faces = dark ? -1 : o.faces;
    const gaze = faces === 1 ? gazeFromScreen(o, this.cfg.screen) : null;
    const away = gaze !== null && (Math.abs(gaze.yawDeg) > this.cfg.yawLimitDeg || Math.abs(gaze.pitchDeg) > this.cfg.pitchLimitDeg);
    const conf = o.confidence !== undefined ? Math.min(1, Math.max(0, o.confidence)) : undefined;
    this.step("no_face", faces === 0, o.at, out);
    this.step("multiple_faces", faces >= 2, o.at, out, { detail: `${faces} faces`, confidence: conf });
    this.step("looking_away", away, o.at, out, { detail: gaze ? describeGaze(o, gaze) : undefined, confidence: conf });
    return out;
  }

  /**
   * The object detector looked at the frame captured at `at` (it runs a
   * few times a second, apart from the face models): `phoneScore` is its
   * best score for a phone, 0..1. Frames the camera analysis found too dark
   * say nothing.
   */
  objects(at: number, phoneScore: number): Action[] {
    const out: Action[] = [];
    const dark = this.lastObs?.brightness !== undefined && this.lastObs.brightness < this.cfg.darkBelow;
    if (dark || !Number.isFinite(phoneScore)) return out;
    const phone = phoneScore >= this.cfg.minPhoneScore;
    this.step("phone_visible", phone, at, out, {
      detail: phone ? `phone, score ${phoneScore.toFixed(2)}` : undefined,
      confidence: phone ? Math.min(1, Math.max(0, phoneScore)) : undefined,
    });
    return out;
  }

  /**
   * The voice detector judged the audio up to `at`: `speech` is its highest
   * speech probability over that stretch (about 100 ms), 0..1.
   */
  voice(at: number, speech: number): Action[] {
    const out: Action[] = [];
    if (!Number.isFinite(speech)) return out;
    this.lastVoiceAt = at;
    const speaking = speech >= this.cfg.minSpeech;
    this.step("voice_detected", speaking, at, out, {
      detail: speaking ? "speech heard" : undefined,
      confidence: speaking ? Math.min(1, Math.max(0, speech)) : undefined,
    });
    return out;
  }

  /** A page-state condition turned on or off at `at`. */
  state(kind: StateKind, active: boolean, at: number, detail?: string): Action[] {
    const out: Action[] = [];
    this.step(kind, active, at, out, { detail });
    return out;
  }

  /** A one-off event (copy, cut, paste). */
  instant(kind: "copy_paste", at: number, detail?: string): Action[] {
    if (this.disabled.has(kind)) return [];
    const quiet = at - this.lastCopyPaste < this.cfg.copyPasteQuietMs;
    this.lastCopyPaste = at;
    if (quiet) return [];
    return [{ type: "raise", id: this.newId(), kind, started_at: at, raised_at: at, ended_at: at, detail }];
  }

  /**
   * Time passes without new input: raises time-based conditions (window
   * blur), and makes vision conditions unknown when frames stop arriving.
   */
  tick(now: number): Action[] {
    const out: Action[] = [];
    for (const [kind, t] of this.tracks) {
      if (VISION.includes(kind) || kind === "voice_detected") continue;
      if (t.since !== null && t.clearedAt === null) this.step(kind, true, now, out, { detail: t.detail });
    }
    if (this.lastObs && now - this.lastObs.at > this.cfg.staleAfterMs) {
      // Known to hold only until the last frame: end there.
      const last = this.lastObs.at;
      for (const kind of VISION) {
        const t = this.tracks.get(kind);
        if (!t) continue;
        if (t.open) out.push({ type: "end", id: t.open, kind, ended_at: Math.max(t.since ?? last, t.clearedAt ?? last) });
        this.tracks.delete(kind);
      }
    }
    this.tickVoice(now, out);
    return out;
  }

  /** Audio results that stop arriving (the microphone or its worker stopped) end a voice episode where they stopped. */
  private tickVoice(now: number, out: Action[]): void {
    if (this.lastVoiceAt === null || now - this.lastVoiceAt <= this.cfg.staleAfterMs) return;
    const t = this.tracks.get("voice_detected");
    if (t?.open) out.push({ type: "end", id: t.open, kind: "voice_detected", ended_at: Math.max(t.since ?? this.lastVoiceAt, t.clearedAt ?? this.lastVoiceAt) });
    this.tracks.delete("voice_detected");
    this.lastVoiceAt = null;
  }

  /** Ends every open episode (exam over, page closing). */
  endAll(at: number): Action[] {
    const out: Action[] = [];
    for (const [kind, t] of this.tracks) {
      if (t.open) out.push({ type: "end", id: t.open, kind, ended_at: Math.max(at, t.since ?? at) });
    }
    this.tracks.clear();
    return out;
  }

  /** Open incident ids, by kind (for tests and the status view). */
  openIncidents(): Partial<Record<ClientKind, string>> {
    const r: Partial<Record<ClientKind, string>> = {};
    for (const [k, t] of this.tracks) if (t.open) r[k] = t.open;
    return r;
  }

  private step(
    kind: ClientKind,
    holds: boolean,
    at: number,
    out: Action[],
    extra: { detail?: string | undefined; confidence?: number | undefined } = {},
  ): void {
    if (this.disabled.has(kind)) return;
    let t = this.tracks.get(kind);
    if (holds) {
      if (!t) {
        t = { since: at, clearedAt: null, open: null };
        this.tracks.set(kind, t);
      }
      if (t.since === null) t.since = at;
      t.clearedAt = null;
      if (extra.detail !== undefined) t.detail = extra.detail;
      if (extra.confidence !== undefined) t.confidence = extra.confidence;
      if (!t.open && at - t.since >= this.cfg.debounce[kind]) {
        t.open = this.newId();
        const a: Action = { type: "raise", id: t.open, kind, started_at: t.since, raised_at: at };
        if (t.confidence !== undefined) a.confidence = t.confidence;
        if (t.detail !== undefined) a.detail = t.detail.slice(0, 200);
        out.push(a);
      }
      return;
    }
    if (!t || t.since === null) return;
    if (t.clearedAt === null) t.clearedAt = at;
    if (at - t.clearedAt >= this.cfg.release[kind]) {
      if (t.open) out.push({ type: "end", id: t.open, kind, ended_at: Math.max(t.clearedAt, t.since) });
      this.tracks.delete(kind);
    }
  }
}
