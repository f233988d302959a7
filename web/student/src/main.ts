// The student page: join → system check → consent → camera preview → exam.
// Inference runs in a worker; this thread only routes messages, so it stays
// responsive. Incidents go through the persistent outbox.

import type { IncidentKind, ProctorAction, Signals, StudentWelcome } from "@proto";
import { DEFAULT_CONFIG, Debouncer, type Action, type DebounceConfig, type StateKind } from "./debounce.ts";
import { IdbStorage } from "./idb-storage.ts";
import { MemoryStorage, Outbox, type OutboxItem, type OutboxStorage } from "./outbox.ts";
import { checkWebRtc, Publisher } from "./rtc.ts";
import { Session, tokenClaims, tokenFromHash } from "./session.ts";
import { Vision } from "./vision.ts";
import type { FrameResult, ModelChoice } from "./worker-protocol.ts";

type Phase = "join" | "connecting" | "check" | "consent" | "preview" | "exam" | "ended" | "refused";

const params = new URLSearchParams(location.search);
const BASE = import.meta.env.BASE_URL; // "/student/"

// ------------------------------------------------------------------ state

const S = {
  phase: "connecting" as Phase,
  token: null as string | null,
  session: null as Session | null,
  welcome: null as StudentWelcome | null,
  connected: false,
  outbox: null as Outbox | null,
  debouncer: null as Debouncer | null,
  stream: null as MediaStream | null,
  vision: null as Vision | null,
  publisher: null as Publisher | null,
  latest: null as FrameResult | null,
  monitoring: false,
  paused: false,
  evidence: true,
  cameraStartedAt: 0,
  storageKey: "",
};

/** Measurements and a test surface; nothing in the app reads it. */
const metrics = {
  raiseToAck: [] as Array<{ id: string; kind: string; ms: number; duplicate: boolean }>,
  frames: [] as Array<{ model: string; inferMs: number; at: number }>,
  longTasks: [] as Array<{ start: number; duration: number; phase: string }>,
  longFrames: [] as Array<{ start: number; duration: number; blocking: number; scripts: Array<{ ms: number; what: string }>; phase: string }>,
  raised: [] as Array<{ id: string; kind: string; started_at: number; raised_at: number }>,
  ended: [] as Array<{ id: string; kind: string; ended_at: number }>,
  evidence: [] as Array<{ id: string; outcome: string; bytes: number }>,
  dropped: [] as Array<{ type: string; id: string; reason: string }>,
};
const raisedAtPerf = new Map<string, number>();
Object.assign(window, {
  __vigil: {
    S,
    metrics,
    phase: () => S.phase,
    crashWorker: () => S.vision?.crash(),
    pending: () => S.outbox?.pending().length ?? -1,
  },
});

try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) metrics.longTasks.push({ start: e.startTime, duration: e.duration, phase: S.phase });
  }).observe({ type: "longtask", buffered: true });
} catch {
  /* no long-task timing here */
}
// Long animation frames name the scripts that ran in them: the share of a
// long frame that is our code, as opposed to the browser's own work.
try {
  type Loaf = PerformanceEntry & { blockingDuration: number; scripts: Array<{ duration: number; sourceURL: string; invoker: string }> };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries() as Loaf[]) {
      const scripts = e.scripts.map((x) => ({ ms: x.duration, what: `${x.invoker} ${x.sourceURL.split("/").pop() ?? ""}` }));
      metrics.longFrames.push({ start: e.startTime, duration: e.duration, blocking: e.blockingDuration, scripts, phase: S.phase });
    }
  }).observe({ type: "long-animation-frame", buffered: true });
} catch {
  /* no long-animation-frame timing here */
}

// ------------------------------------------------------------------ DOM helpers

type Child = Node | string | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | ((e: Event) => void)> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

const main = document.getElementById("main")!;
const statusEl = document.getElementById("status")!;
const notices = document.getElementById("notices")!;

/** Replaces the screen and moves focus to its heading (for screen readers and keyboards). */
function screen(phase: Phase, title: string, ...children: Child[]): void {
  S.phase = phase;
  const h1 = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(h1, ...children.filter((c): c is Node | string => !!c));
  document.title = `${title} · vigil`;
  h1.focus();
}

function updateStatus(): void {
  const parts = [S.connected ? "Connected" : "Reconnecting…"];
  if (S.vision) {
    parts.push(S.vision.healthy ? `Camera check ${S.vision.fps.toFixed(0)}/s` : "Camera check starting…");
  }
  const pending = S.outbox?.pending().length ?? 0;
  if (pending) parts.push(`${pending} to send`);
  if (S.publisher?.state === "connected") {
    const up = S.publisher.uplinkBps;
    parts.push(up ? `Video live (upload about ${(up / 1e6).toFixed(1)} Mbit/s)` : "Video live");
  }
  statusEl.textContent = parts.join(" · ");
}
setInterval(updateStatus, 1000);

// ------------------------------------------------------------------ boot

function boot(): void {
  S.token = tokenFromHash(location.hash);
  if (!S.token) return joinScreen();
  const claims = tokenClaims(S.token);
  S.storageKey = `vigil:${claims.exam ?? "?"}:${claims.sub ?? "?"}`;
  screen("connecting", "Connecting to your exam…", h("p", {}, "This takes a moment."));
  S.session = new Session(location.origin, S.token, {
    welcome: (w) => void onWelcome(w),
    connected: (up) => {
      S.connected = up;
      updateStatus();
      if (up) {
        S.outbox?.kick();
        S.publisher?.reconnected();
      }
    },
    refused: (reason, text) => refusedScreen(reason, text),
    action: (a) => onAction(a),
  });
}

function joinScreen(): void {
  const input = h("input", { id: "link", type: "text", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h(
    "form",
    {
      onsubmit: (e: Event) => {
        e.preventDefault();
        const v = input.value.trim();
        const hash = v.includes("#") ? v.slice(v.indexOf("#")) : `#token=${v}`;
        location.hash = hash;
        location.reload();
      },
    },
    h("label", { for: "link" }, "Your join link (or its token)"),
    input,
    h("p", {}, h("button", { type: "submit" }, "Join")),
  );
  screen("join", "Join your exam", h("p", {}, "Open the join link you were sent, or paste it here."), form);
}

const REFUSALS: Record<string, string> = {
  expired_token: "Your join link has expired. Ask your proctor for a new one.",
  invalid_token: "This join link is not valid. Check that you copied all of it.",
  missing_token: "This join link is incomplete.",
  wrong_scope: "This link is not a student link for this exam.",
  unknown_exam: "This exam does not exist (any more).",
  unknown_student: "You are not on this exam's list of students.",
  unavailable: "The exam server is busy. Reload the page in a minute.",
};

function refusedScreen(reason: string, text: string): void {
  screen(
    "refused",
    "You cannot join right now",
    h("p", {}, REFUSALS[reason] ?? "The server refused the connection."),
    h("p", { class: "error" }, `Reason: ${reason}: ${text}`),
    h("p", {}, h("button", { type: "button", onclick: () => location.reload() }, "Try again")),
  );
}

async function openOutbox(w: StudentWelcome): Promise<Outbox> {
  let storage: OutboxStorage;
  try {
    storage = await IdbStorage.open(`vigil-outbox:${w.exam_id}:${w.student.id}`);
  } catch {
    storage = new MemoryStorage(); // private mode without IndexedDB: still works, just not across reloads
  }
  return Outbox.open(storage, {
    events: {
      settled: (item, outcome) => onSettled(item, outcome),
      evidenceRefused: () => {
        S.evidence = false;
      },
    },
  });
}

function onSettled(item: OutboxItem, outcome: { result: string; duplicate?: boolean; reason?: string }): void {
  if (outcome.result === "dropped") {
    metrics.dropped.push({ type: item.type, id: item.id, reason: outcome.reason ?? "" });
  }
  if (item.type === "incident") {
    const t0 = raisedAtPerf.get(item.id);
    if (t0 !== undefined && outcome.result === "delivered") {
      metrics.raiseToAck.push({ id: item.id, kind: item.payload.kind, ms: performance.now() - t0, duplicate: !!outcome.duplicate });
      raisedAtPerf.delete(item.id);
    }
  }
  if (item.type === "evidence") metrics.evidence.push({ id: item.id, outcome: outcome.result === "delivered" ? "stored" : outcome.reason ?? "", bytes: item.jpeg.byteLength });
  updateStatus();
}

async function onWelcome(w: StudentWelcome): Promise<void> {
  const first = !S.welcome;
  S.welcome = w;
  document.getElementById("exam-title")!.textContent = w.exam_title;
  S.evidence = w.settings.privacy !== "events_only";
  if (!S.outbox) {
    S.outbox = await openOutbox(w);
    // Incidents left open by an earlier page life end now.
    for (const o of S.outbox.openIncidents()) {
      await S.outbox.end(o.id, Math.max(o.started_at, S.session!.now()));
    }
    S.outbox.attach(S.session!);
  }
  await S.outbox.serverNextSeq(w.next_seq);
  S.outbox.kick();
  if (S.debouncer) for (const a of S.debouncer.setDisabled(w.settings.disabled_detectors, S.session!.now())) void act(a);
  if (!first) return;
  setInterval(heartbeat, 2500);
  setInterval(sendSignals, 1000);
  setInterval(() => {
    if (S.monitoring && S.debouncer) for (const a of S.debouncer.tick(S.session!.now())) void act(a);
  }, 250);
  const saved = sessionStorage.getItem(S.storageKey);
  if (saved === "ended") return endedScreen("Your exam has ended.");
  if (saved === "exam") return void resume();
  void checkScreen();
}

// ------------------------------------------------------------------ camera + worker

async function startCamera(): Promise<MediaStream> {
  if (S.stream) return S.stream;
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 30 } },
    audio: false,
  });
  S.stream = stream;
  S.cameraStartedAt = Date.now();
  const track = stream.getVideoTracks()[0]!;
  track.addEventListener("ended", () => pageState("camera_ended", true, "the camera stopped"));
  return stream;
}

function videoEl(): HTMLVideoElement {
  const v = h("video", { autoplay: true, muted: true, playsinline: true, "aria-label": "Your camera" });
  v.muted = true;
  v.srcObject = S.stream;
  void v.play().catch(() => {});
  return v;
}

let hiddenVideo: HTMLVideoElement | null = null;
async function startVision(): Promise<Vision> {
  if (S.vision) return S.vision;
  const stream = await startCamera();
  hiddenVideo ??= videoEl();
  const model = (params.get("model") as ModelChoice | null) ?? "auto";
  const v = new Vision(stream.getVideoTracks()[0]!, hiddenVideo, {
    modelsBase: `${location.origin}${BASE}models/`,
    model,
    targetFps: Number(params.get("fps") ?? 15),
  });
  v.onResult = onResult;
  v.onStatus = updateStatus;
  S.vision = v;
  await v.start();
  return v;
}

function onResult(r: FrameResult): void {
  S.latest = r;
  // Timers of a hidden tab are throttled (down to once a minute); worker
  // messages are not, so results also keep heartbeats and signals going.
  const now = performance.now();
  if (S.welcome && now - lastHeartbeat > 2600) heartbeat();
  if (S.welcome && now - lastSignals > 1100) sendSignals();
  if (metrics.frames.length < 20_000) metrics.frames.push({ model: r.model, inferMs: r.inferMs, at: r.at });
  if (S.phase === "preview") previewStatus();
  if (!S.monitoring || !S.debouncer || !S.session) return;
  const obs: Parameters<Debouncer["observe"]>[0] = { at: r.at + S.session.offsetMs, faces: r.faces, brightness: r.brightness };
  if (r.yawDeg !== undefined) obs.yawDeg = r.yawDeg;
  if (r.pitchDeg !== undefined) obs.pitchDeg = r.pitchDeg;
  if (r.confidence !== undefined) obs.confidence = r.confidence;
  for (const a of S.debouncer.observe(obs)) void act(a);
}

// ------------------------------------------------------------------ incidents

async function act(a: Action): Promise<void> {
  const ob = S.outbox;
  if (!ob) return;
  if (a.type === "end") {
    metrics.ended.push({ id: a.id, kind: a.kind, ended_at: a.ended_at });
    await ob.end(a.id, a.ended_at);
    return;
  }
  raisedAtPerf.set(a.id, performance.now());
  metrics.raised.push({ id: a.id, kind: a.kind, started_at: a.started_at, raised_at: a.raised_at });
  const report: Parameters<Outbox["incident"]>[0] = { id: a.id, kind: a.kind as IncidentKind, started_at: a.started_at };
  if (a.ended_at !== undefined) report.ended_at = a.ended_at;
  if (a.confidence !== undefined) report.confidence = a.confidence;
  if (a.detail !== undefined) report.detail = a.detail;
  const queued = ob.incident(report);
  if (S.evidence && S.vision) {
    try {
      const ev = await S.vision.capture(a.id);
      await queued;
      await ob.evidence(a.id, ev.jpeg, ev.capturedAt + (S.session?.offsetMs ?? 0));
    } catch {
      /* no frame to show (camera gone): the incident stands without one */
    }
  }
  await queued;
}

function pageState(kind: StateKind, active: boolean, detail?: string): void {
  if (!S.monitoring || !S.debouncer || !S.session) return;
  for (const a of S.debouncer.state(kind, active, S.session.now(), detail)) void act(a);
}

document.addEventListener("visibilitychange", () => pageState("tab_hidden", document.hidden, "the exam tab was hidden"));
window.addEventListener("blur", () => pageState("window_blur", true, "another window had focus"));
window.addEventListener("focus", () => pageState("window_blur", false));
/** The exam is taken in full screen wherever the browser allows it. */
function checkFullscreen(): void {
  pageState("fullscreen_exit", document.fullscreenEnabled && !document.fullscreenElement, "not in full screen");
}
document.addEventListener("fullscreenchange", () => {
  checkFullscreen();
  if (S.phase === "exam") renderFullscreenBanner();
});
for (const ev of ["copy", "cut", "paste"] as const) {
  document.addEventListener(ev, () => {
    if (!S.monitoring || !S.debouncer || !S.session) return;
    for (const a of S.debouncer.instant("copy_paste", S.session.now(), `${ev} in the exam page`)) void act(a);
  });
}
type ScreenExt = Screen & { isExtended?: boolean; addEventListener?: (t: string, f: () => void) => void };
function checkScreens(): void {
  const ext = (screen_ as ScreenExt).isExtended;
  if (ext !== undefined) pageState("second_screen", ext, "a second screen is connected");
}
const screen_ = window.screen as ScreenExt;
screen_.addEventListener?.("change", checkScreens);
setInterval(checkScreens, 2000);

let lastHeartbeat = 0;
let lastSignals = 0;
function heartbeat(): void {
  const s = S.session;
  if (!s) return;
  lastHeartbeat = performance.now();
  const v = S.vision;
  const track = S.stream?.getVideoTracks()[0];
  s.heartbeat({
    at: s.now(),
    inference_fps: v?.healthy ? Math.round(v.fps * 10) / 10 : 0,
    worker_ok: v ? v.healthy : false,
    worker_restarts: v?.restarts ?? 0,
    camera_live: !!track && track.readyState === "live" && !track.muted,
  });
}

function sendSignals(): void {
  const s = S.session;
  if (!s || !S.vision) return;
  lastSignals = performance.now();
  const r = S.latest;
  const sig: Signals = { at: s.now(), tab_visible: !document.hidden, fullscreen: !!document.fullscreenElement };
  if (r && Date.now() - r.at < 2000) {
    sig.faces = r.faces;
    sig.brightness = Math.round(r.brightness * 1000) / 1000;
    if (r.yawDeg !== undefined) sig.yaw_deg = Math.round(r.yawDeg * 10) / 10;
    if (r.pitchDeg !== undefined) sig.pitch_deg = Math.round(r.pitchDeg * 10) / 10;
    if (r.confidence !== undefined) sig.confidence = Math.round(r.confidence * 1000) / 1000;
  }
  s.signals(sig);
}

// ------------------------------------------------------------------ screens

function checkRow(what: string): { li: HTMLLIElement; set: (cls: string, text: string) => void } {
  const res = h("span", { class: "pending" }, "checking…");
  const li = h("li", {}, h("span", { class: "what" }, what), res);
  return {
    li,
    set: (cls, text) => {
      res.className = cls;
      res.textContent = text;
    },
  };
}

async function checkScreen(): Promise<void> {
  const cam = checkRow("Camera");
  const mic = checkRow("Microphone");
  const rtc = checkRow("Video link (WebRTC)");
  const gl = checkRow("Face check (WebGL in a worker)");
  const up = checkRow("Upload speed");
  const next = h("button", { type: "button", disabled: true, onclick: () => consentScreen() }, "Continue");
  const retry = h("button", { type: "button", class: "secondary", onclick: () => location.reload() }, "Check again");
  screen(
    "check",
    "System check",
    h("p", {}, "We check that your computer can run the exam. Your browser may ask to use the camera: please allow it."),
    h("ul", { class: "checks" }, cam.li, mic.li, rtc.li, gl.li, up.li),
    h("p", {}, next, " ", retry),
  );
  mic.set("ok", "not needed for this exam");
  up.set("unknown", "unknown until the video link is up (measured from the connection, no test upload)");
  let camOk = false;
  try {
    const s = await startCamera();
    const st = s.getVideoTracks()[0]!.getSettings();
    cam.set("ok", `working (${st.width ?? "?"}×${st.height ?? "?"})`);
    camOk = true;
  } catch (e) {
    cam.set("fail", `not available: ${(e as Error).message}. Allow the camera and check again.`);
  }
  const r = await checkWebRtc(S.stream?.getVideoTracks()[0] ?? null);
  rtc.set(r.ok ? "ok" : "fail", r.detail);
  let visionOk = false;
  if (camOk) {
    try {
      const v = await startVision();
      gl.set(v.webgl ? "ok" : "fail", v.webgl ? `working (${v.webgl}; ${v.model})` : "no WebGL in workers");
      visionOk = !!v.webgl;
    } catch (e) {
      gl.set("fail", `could not start: ${(e as Error).message}`);
    }
  } else {
    gl.set("fail", "needs the camera");
  }
  next.disabled = !(camOk && visionOk);
  if (!next.disabled) next.focus();
}

function consentScreen(): void {
  const w = S.welcome!;
  const box = h("input", { type: "checkbox", id: "agree" });
  const go = h("button", { type: "button", disabled: true, onclick: () => previewScreen() }, "I agree, continue");
  box.addEventListener("change", () => {
    go.disabled = !box.checked;
  });
  const frames =
    w.settings.privacy === "events_only"
      ? h("li", {}, "No pictures of you are saved. Only events (for example “no face visible for 3 seconds”) are recorded.")
      : h(
          "li",
          {},
          `When something is flagged (for example “no face visible”), one still picture from your camera at that moment is saved with it. These pictures are deleted after ${w.settings.evidence_retention_days} days.`,
        );
  screen(
    "consent",
    "How you are watched",
    h(
      "div",
      { class: "consent" },
      h(
        "ul",
        {},
        h("li", {}, "Your camera picture is checked on your own computer: is there one face, is it facing the screen. The checking software does not send your picture anywhere."),
        h("li", {}, "Your proctor can watch your camera live during the exam. The live video is not recorded."),
        frames,
        h("li", {}, "Leaving the exam tab or full screen, switching windows, copying or pasting and a second screen are noted for the proctor."),
        h("li", {}, "Your proctor decides what happens; nothing is decided automatically."),
      ),
      h("p", {}, box, " ", h("label", { for: "agree", style: "display:inline" }, "I have read this and agree")),
      h("p", {}, go),
    ),
  );
}

function previewStatus(): void {
  const el = document.getElementById("preview-status");
  const r = S.latest;
  if (!el || !r) return;
  const dark = r.brightness < 0.08;
  const text = dark
    ? "It is too dark: turn on a light."
    : r.faces === 0
      ? "We cannot see your face. Sit in front of the camera."
      : r.faces > 1
        ? "We see more than one face."
        : "Your face is visible. You are ready.";
  if (el.textContent !== text) el.textContent = text;
}

function previewScreen(): void {
  const start = h("button", { type: "button", onclick: () => startExam(true) }, "Start the exam (full screen)");
  screen(
    "preview",
    "Check your camera",
    h("p", {}, "Sit so your face is in the middle of the picture, with light in front of you."),
    videoEl(),
    h("p", { id: "preview-status", role: "status", "aria-live": "polite" }, "Looking for your face…"),
    h("p", {}, start),
  );
  // A task of its own: creating the peer connection is not cheap, and the
  // new screen should paint first.
  setTimeout(startPublishing, 50);
}

function startPublishing(): void {
  if (!S.stream || !S.session || S.phase === "ended") return;
  S.publisher ??= new Publisher(S.session.socket, S.stream.getVideoTracks()[0]!);
  S.publisher.onChange = updateStatus;
  S.publisher.start();
}

/**
 * Head-pose limits may be tuned per deployment (camera placement) with
 * ?yaw_limit=&pitch_limit= in the join URL. The client is untrusted anyway:
 * the server never takes its word for anything it can check.
 */
function debounceConfig(): DebounceConfig {
  const num = (k: string, d: number) => {
    const v = Number(params.get(k));
    return Number.isFinite(v) && v > 0 ? v : d;
  };
  return { ...DEFAULT_CONFIG, yawLimitDeg: num("yaw_limit", DEFAULT_CONFIG.yawLimitDeg), pitchLimitDeg: num("pitch_limit", DEFAULT_CONFIG.pitchLimitDeg) };
}

function startExam(fullscreen: boolean): void {
  sessionStorage.setItem(S.storageKey, "exam");
  S.debouncer ??= new Debouncer(() => crypto.randomUUID(), S.welcome?.settings.disabled_detectors ?? [], debounceConfig());
  S.monitoring = true;
  if (document.hidden) pageState("tab_hidden", true);
  // Judged once the request settles (entering full screen is asynchronous);
  // a reloaded page is not in full screen until the student goes back.
  if (fullscreen && document.documentElement.requestFullscreen) {
    document.documentElement.requestFullscreen().then(checkFullscreen, checkFullscreen);
  } else {
    checkFullscreen();
  }
  examScreen();
}

async function resume(): Promise<void> {
  screen("connecting", "Resuming your exam…", h("p", {}, "Starting the camera check again."));
  try {
    await startVision();
  } catch (e) {
    return void checkScreen().then(() => console.warn(e));
  }
  startExam(false);
  setTimeout(startPublishing, 50);
}

const fsBanner = h("div", { class: "banner", id: "fs-banner" });
function renderFullscreenBanner(): void {
  if (document.fullscreenElement || !document.documentElement.requestFullscreen) {
    fsBanner.replaceChildren();
    fsBanner.hidden = true;
    return;
  }
  fsBanner.hidden = false;
  fsBanner.replaceChildren(
    h("span", {}, "The exam should be taken in full screen."),
    h("button", { type: "button", onclick: () => void document.documentElement.requestFullscreen().catch(() => {}) }, "Go full screen"),
  );
}

const QUESTIONS = [
  { q: "Which planet is closest to the Sun?", a: ["Venus", "Mercury", "Mars", "Earth"] },
  { q: "What is 7 × 8?", a: ["54", "56", "58", "64"] },
  { q: "Which gas do plants take in for photosynthesis?", a: ["Oxygen", "Nitrogen", "Carbon dioxide", "Helium"] },
];

function examScreen(): void {
  const form = h("form", {
    id: "exam",
    onsubmit: (e: Event) => {
      e.preventDefault();
      finish("You handed in your answers. Thank you: you can close this page.");
    },
  });
  QUESTIONS.forEach((item, i) => {
    const fs = h("fieldset", {}, h("legend", {}, `Question ${i + 1}. ${item.q}`));
    item.a.forEach((ans, j) => {
      const id = `q${i}a${j}`;
      fs.append(h("label", { for: id }, h("input", { type: "radio", name: `q${i}`, id, value: ans }), ` ${ans}`));
    });
    form.append(fs);
  });
  form.append(
    h(
      "fieldset",
      {},
      h("legend", {}, "Question 4. In two or three sentences, why is the sky blue?"),
      h("label", { for: "q3" }, "Your answer"),
      h("textarea", { id: "q3", name: "q3" }),
    ),
    h("p", {}, h("button", { type: "submit" }, "Hand in")),
  );
  const mini = h("div", { class: "mini" }, videoEl());
  screen("exam", S.welcome?.exam_title ?? "Exam", fsBanner, form, mini);
  renderFullscreenBanner();
}

function notice(text: string, warn: boolean): void {
  const n = h("div", { class: `notice${warn ? " warn" : ""}`, role: warn ? "alert" : "status" });
  const close = h("button", { type: "button", class: "secondary", onclick: () => n.remove() }, "Dismiss");
  n.append(h("strong", {}, warn ? "Warning from your proctor: " : "Message from your proctor: "), text, " ", close);
  notices.append(n);
}

let pauseOverlay: HTMLElement | null = null;
function onAction(a: ProctorAction): void {
  switch (a.kind) {
    case "warn":
      notice(a.text ?? "Please follow the exam rules.", true);
      break;
    case "message":
      notice(a.text ?? "", false);
      break;
    case "pause": {
      if (pauseOverlay || S.phase === "ended") break;
      S.paused = true;
      document.getElementById("exam")?.setAttribute("inert", "");
      const ok = h("p", {}, "Please wait. You cannot answer until the proctor resumes the exam.");
      pauseOverlay = h(
        "div",
        { class: "overlay", id: "paused" },
        h(
          "div",
          { role: "alertdialog", "aria-modal": "true", "aria-labelledby": "paused-title", tabindex: "-1" },
          h("h2", { id: "paused-title" }, "Your exam is paused"),
          a.text ? h("p", {}, a.text) : null,
          ok,
        ),
      );
      document.body.append(pauseOverlay);
      (pauseOverlay.firstElementChild as HTMLElement).focus();
      break;
    }
    case "resume":
      S.paused = false;
      pauseOverlay?.remove();
      pauseOverlay = null;
      document.getElementById("exam")?.removeAttribute("inert");
      notice(a.text ?? "Your exam has been resumed.", false);
      break;
    case "terminate":
      finish(a.text ? `Your proctor ended your exam: ${a.text}` : "Your proctor ended your exam.");
      break;
    case "flag_for_review":
      break; // for the proctors' records; nothing changes for the student
  }
}

function finish(message: string): void {
  sessionStorage.setItem(S.storageKey, "ended");
  if (S.debouncer && S.session) for (const a of S.debouncer.endAll(S.session.now())) void act(a);
  S.monitoring = false;
  pauseOverlay?.remove();
  pauseOverlay = null;
  S.publisher?.stop();
  S.vision?.stop();
  for (const t of S.stream?.getTracks() ?? []) t.stop();
  if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
  endedScreen(message);
}

function endedScreen(message: string): void {
  screen("ended", "Exam over", h("p", {}, message), h("p", { id: "flush", role: "status" }, "Sending what is left…"));
  void S.outbox?.drained().then(() => {
    const f = document.getElementById("flush");
    if (f) f.textContent = "Everything has been sent.";
  });
}

boot();
