// The student page: join → system check → consent → identity check (when
// the exam has one) → camera preview → exam, with breaks, and the chat with
// the proctors alongside. phase.ts decides which phase the page is in; this
// module renders each phase's screen (screens/*) and runs what entering it
// implies: camera, publishing, monitoring, full screen. Inference runs in a
// worker; this thread only routes messages, so it stays responsive.
// Incidents and chat messages go through the persistent outbox (monitor.ts).

import type { ChatMessage, ExamSettings, ProctorAction, SessionView, StudentWelcome } from "@proto";
import { EVENTS } from "@proto";
import { Camera } from "./camera.ts";
import { ChatLog, syncChat } from "./chat.ts";
import { DEFAULT_CONFIG, type DebounceConfig } from "./debounce.ts";
import { byId } from "./dom.ts";
import { GazeCalibration, combine, type Direction } from "./gaze.ts";
import { Monitor, type Probe } from "./monitor.ts";
import { initialState, transition, type PageEvent, type PageState, type Phase } from "./phase.ts";
import { Publisher } from "./rtc.ts";
import { planForUplink, type Uplink } from "./uplink.ts";
import { probeUplink, recallUplink, rememberUplink } from "./uplink-probe.ts";
import { checkScreen } from "./screens/check.ts";
import { downloadModels, type DownloadView } from "./download.ts";
import { ModelsSource } from "./models.ts";
import { connectingScreen, resumingScreen } from "./screens/connecting.ts";
import { consentScreen } from "./screens/consent.ts";
import { endedScreen } from "./screens/ended.ts";
import { ASSESSMENT_FRAME, accessCode, handBack, postToFrame } from "./assessment.ts";
import { identityKinds, uploadPhoto } from "./identity.ts";
import { ChatPanel } from "./screens/chat.ts";
import { assessmentScreen, canFullscreen, examScreen, renderBreakBar, renderFullscreenBanner } from "./screens/exam.ts";
import { identityAwaitingScreen, identityCaptureScreen } from "./screens/identity.ts";
import { joinScreen } from "./screens/join.ts";
import { previewScreen, showCalibration, showPreviewResult } from "./screens/preview.ts";
import { hideBreak, hidePause, notice, showBreak, showPause, updateBreak } from "./screens/proctor.ts";
import { refusedScreen } from "./screens/refused.ts";
import { Session, tokenClaims, tokenFromHash } from "./session.ts";
import { cameraSuspicion, devtoolsLikelyOpen } from "./signals.ts";
import { recordScreen } from "./screens/record.ts";
import { statusLine } from "./status.ts";
import { Telemetry } from "./telemetry.ts";
import { installTestHooks } from "./test-hooks.ts";
import { breakCountdownText, breakLeftMs, breakOffer, examTimeLeftMs } from "./timing.ts";
import type { Vision } from "./vision.ts";
import { Voice } from "./voice.ts";
import type { FrameResult, ModelChoice, ObjectsResult, VoiceResult } from "./worker-protocol.ts";

const params = new URLSearchParams(location.search);

/** Debounce deadlines are checked this often even without new camera frames. */
const DEBOUNCE_TICK_MS = 250;

/**
 * Head-pose limits may be tuned per deployment (camera placement) with
 * ?yaw_limit=&pitch_limit= in the join URL. The exam's thresholds (its
 * settings, the student's accommodations) go over these: they are the
 * instructor's word for this exam. The client is untrusted anyway: the
 * server never takes its word for anything it can check.
 */
function debounceConfig(): DebounceConfig {
  const num = (k: string, d: number) => {
    const v = Number(params.get(k));
    return Number.isFinite(v) && v > 0 ? v : d;
  };
  return { ...DEFAULT_CONFIG, yawLimitDeg: num("yaw_limit", DEFAULT_CONFIG.yawLimitDeg), pitchLimitDeg: num("pitch_limit", DEFAULT_CONFIG.pitchLimitDeg) };
}

class StudentPage {
  private state: PageState = initialState(true);
  private connected = false;
  private welcome: StudentWelcome | null = null;
  private publisher: Publisher | null = null;
  /** The system check's uplink measurement (or this tab's earlier one), once known: the video plan follows it. */
  private uplink: Uplink | null = null;
  private readonly session: Session;
  private readonly camera: Camera;
  private readonly monitor: Monitor;
  private readonly telemetry: Telemetry;
  /** sessionStorage key remembering, across reloads of this tab, that the exam started or ended. */
  private readonly progressKey: string;
  private readonly recordFrame: ((r: FrameResult) => void) | undefined;
  private readonly recordObjects: ((r: ObjectsResult) => void) | undefined;
  private readonly recordVoice: ((r: VoiceResult) => void) | undefined;
  /** The voice detector, in exams with the microphone on. */
  private voice: Voice | null = null;
  /** models/manifest.json, read once: where the content-hashed model directories are (models.ts). */
  private readonly models = new ModelsSource(`${location.origin}${import.meta.env.BASE_URL}models/`);
  private readonly modelDirs = () => this.models.load().then((m) => m.dirs);
  /** Shows the exam's access code, or hides it while the camera is not proctored; set once the code is known. */
  private showAccessCode: (() => void) | undefined;
  /** The server's latest word on the session. */
  private sessionView: SessionView | null = null;
  /** Where the screen is for this student's eyes: calibrated on the preview screen, kept across reloads of the tab. */
  private readonly calibration = new GazeCalibration();
  private readonly gazeKey: string;
  /** devicePixelRatio at load: its change since is the browser's zoom. */
  private readonly loadDpr = window.devicePixelRatio || 1;
  /** The status line of the exam's own assessment, while it is shown. */
  private linkedStatus: ((text: string) => void) | undefined;
  /** Counts access code asks: an older one's answer is dropped. */
  private codeAsks = 0;
  /** The conversation with the proctors, and its panel. */
  private readonly chat: ChatLog;
  private readonly chatPanel: ChatPanel;
  /** localStorage key of the highest chat seq the student has seen (kept across reloads and tabs). */
  private readonly chatReadKey: string;
  /** Counts chat syncs: a newer welcome's (or a disconnect) stops an older one. */
  private chatSyncs = 0;
  /** The full screen request of the "Back to the exam" click, judged once it settles. */
  private fullscreenRequest: Promise<void> | null = null;

  constructor(private readonly token: string) {
    const claims = tokenClaims(token);
    this.progressKey = `vigil:${claims.exam ?? "?"}:${claims.sub ?? "?"}`;
    this.chatReadKey = `vigil-chat-read:${claims.exam ?? "?"}:${claims.sub ?? "?"}`;
    this.gazeKey = `vigil-gaze:${claims.exam ?? "?"}:${claims.sub ?? "?"}`;
    this.chat = new ChatLog(Number(localStorage.getItem(this.chatReadKey)) || 0);
    this.chatPanel = new ChatPanel({
      send: (text) => void this.sendChat(text),
      dismiss: (id) => {
        this.chat.forget(id);
        this.renderChat();
      },
      read: () => this.markChatRead(),
    });
    connectingScreen();
    this.camera = new Camera(
      {
        models: this.modelDirs,
        model: (params.get("model") as ModelChoice | null) ?? "auto",
        targetFps: Number(params.get("fps") ?? 15),
      },
      () => this.monitor.pageState("camera_ended", true, "the camera stopped"),
    );
    // Handlers run on later tasks (after the handshake), when every field is set.
    this.session = new Session(location.origin, token, {
      welcome: (w) => void this.onWelcome(w),
      connected: (up) => this.onConnected(up),
      refused: (reason, text) => this.dispatch({ type: "refused", reason, text }),
      action: (a) => this.onAction(a),
      assessment: (a) => {
        if (a.kind === "lti_proctoring" && a.ended_at !== undefined) this.dispatch({ type: "platform_ended" });
      },
      settings: (s) => this.onSettings(s),
      session: (v) => this.onSession(v),
      accessCodeChanged: () => {
        if (this.linkedStatus) void this.askAccessCode(this.linkedStatus);
      },
      chat: (m) => this.onChat([m]),
    });
    let probe: Probe | undefined;
    if (import.meta.env.MODE === "test") {
      const hooks = installTestHooks({
        phase: () => this.state.phase.name,
        session: () => this.session,
        camera: () => this.camera,
        pending: () => this.monitor.pending(),
        publisher: () => this.publisher,
        chat: () => this.chat.lines(),
        thresholds: () => this.monitor.thresholds(),
        calibration: () => this.calibration.screen ?? this.savedScreen(),
        voice: () => this.voice && { ready: this.voice.ready, rate: this.voice.rate, restarts: this.voice.restarts, lastError: this.voice.lastError },
      });
      probe = hooks.probe;
      this.recordFrame = hooks.frame;
      this.recordObjects = hooks.objects;
      this.recordVoice = hooks.voice;
    }
    this.monitor = new Monitor(this.session, this.camera, debounceConfig(), () => this.updateStatus(), probe);
    this.monitor.onSettled = (item, outcome) => {
      if (item.type !== "chat") return;
      if (outcome.result === "delivered") {
        if (outcome.message) this.onChat([outcome.message]);
      } else {
        this.chat.failed(item.id, outcome.reason, outcome.message ?? "");
        this.renderChat();
      }
    };
    this.monitor.setScreen(this.savedScreen());
    this.telemetry = new Telemetry(this.session, this.camera);
    this.watchPage();
    setInterval(() => this.updateStatus(), 1000);
  }

  private dispatch(e: PageEvent): void {
    const prev = this.state;
    const next = transition(prev, e);
    if (next === prev) return;
    this.state = next;
    if (next.monitoring !== prev.monitoring) {
      if (next.monitoring) {
        this.monitor.start();
        // Back from a break: page conditions that began during it count from now.
        if (prev.phase.name === "exam" && next.phase.name === "exam") this.judgePage();
      } else this.monitor.stop();
    }
    if (next.phase !== prev.phase) this.enter(next.phase, e);
    if (next.paused !== prev.paused) {
      if (next.paused) showPause(next.paused.text, () => this.chatPanel.open());
      else hidePause();
    }
    if (!!next.onBreak !== !!prev.onBreak) {
      if (next.onBreak) showBreak(this.breakText(), () => this.endBreak(), () => this.chatPanel.open());
      else hideBreak();
    }
    if (next.phase.name === "refused") this.chatPanel.setAvailable(false);
    this.updateBreakBar();
  }

  /** Shows `phase`'s screen and starts what it needs; `cause` is the event that led there. */
  private enter(phase: Phase, cause: PageEvent): void {
    switch (phase.name) {
      case "join":
        joinScreen();
        break;
      case "connecting":
        connectingScreen();
        break;
      case "refused":
        refusedScreen(phase.reason, phase.text);
        break;
      case "check":
        void checkScreen(
          this.camera,
          !!this.welcome?.settings.microphone,
          (onView) => this.downloadModels(onView),
          () => this.startVision(),
          () => this.dispatch({ type: "checked" }),
          () => this.measureUplink(),
        );
        break;
      case "consent":
        if (this.welcome) consentScreen(this.welcome.settings, () => this.dispatch({ type: "agreed" }));
        break;
      case "identity":
        if (phase.step === "awaiting") identityAwaitingScreen(this.camera.video());
        else this.identityCapture(phase.rejected);
        // Proctors checking the photos may compare them with the live picture.
        setTimeout(() => this.startPublishing(), 50);
        break;
      case "preview":
        previewScreen(this.camera.video(), () => this.dispatch({ type: "started" }));
        // A task of its own: creating the peer connection is not cheap, and
        // the new screen should paint first.
        setTimeout(() => this.startPublishing(), 50);
        break;
      case "resuming":
        resumingScreen();
        void this.resume();
        break;
      case "exam":
        // A reloaded page is not in full screen until the student goes back
        // (the banner asks); only the start button may request it.
        this.startExam(cause.type === "started");
        break;
      case "ended":
        this.finish(phase.message);
        // Handed in on this page: the server is told once what was raised has reached it.
        if (cause.type === "handed_in") void this.monitor.drained().then(() => this.session.sessionChange(EVENTS.SUBMIT));
        break;
    }
  }

  private async onWelcome(w: StudentWelcome): Promise<void> {
    const first = !this.welcome;
    this.welcome = w;
    this.chat.student = w.student.id;
    byId("exam-title").textContent = w.exam_title;
    await this.monitor.welcome(w);
    this.updateObjects();
    if (this.platformEnded(w)) {
      this.dispatch({ type: "platform_ended" });
      return;
    }
    if (first) {
      this.telemetry.start();
      setInterval(() => this.monitor.tick(), DEBOUNCE_TICK_MS);
      const saved = sessionStorage.getItem(this.progressKey);
      this.dispatch({ type: "welcome", progress: saved === "exam" || saved === "ended" ? saved : null, identity: w.settings.identity_check });
    } else {
      // Settings changed while the page was away.
      this.dispatch({ type: "settings", identity: w.settings.identity_check });
    }
    // The server's session decides: a reload of a paused exam stays paused.
    this.onSession(w.session);
    if (first) {
      // What an earlier page life left unsent shows as sending until the server has it.
      for (const m of await this.monitor.pendingChats()) this.chat.queued(m.id, m.text);
      this.chatPanel.setAvailable(this.state.phase.name !== "refused");
      this.renderChat();
    }
    // Every welcome (each connect and reconnect): what the proctors wrote meanwhile.
    this.startChatSync();
  }

  /** The server's session view; the time left shown counts down from it. */
  private onSession(v: SessionView): void {
    this.sessionView = v;
    this.dispatch({ type: "session", view: v });
    this.updateStatus();
  }

  /** Exam time left by the server's clock while it runs (held while paused or on a break), else null. */
  private timeLeftMs(): number | null {
    return examTimeLeftMs(this.sessionView, this.session.now());
  }

  /** The break's countdown, by the server's clock. */
  private breakText(): string {
    return breakCountdownText(breakLeftMs(this.sessionView, this.session.now()));
  }

  /** The "Take a break" offer, while the student has breaks left and the exam is in progress. */
  private updateBreakBar(): void {
    const offer = this.state.phase.name === "exam" ? breakOffer(this.sessionView, this.welcome?.settings) : null;
    renderBreakBar(offer, async () => {
      const ack = await this.session.sessionChange(EVENTS.BREAK_START);
      // Accepted: the session's change (on_break) hides the exam.
      return ack.status === "ok" ? null : ack.message;
    });
  }

  /** "Back to the exam": the server ends the break; the page goes back to full screen with the click. */
  private async endBreak(): Promise<string | null> {
    if (canFullscreen() && !document.fullscreenElement) {
      this.fullscreenRequest = document.documentElement.requestFullscreen().catch(() => undefined);
    }
    const ack = await this.session.sessionChange(EVENTS.BREAK_END);
    return ack.status === "ok" ? null : ack.message;
  }

  /** Page conditions as they are now (monitoring ignored them while it was off). */
  private judgePage(): void {
    this.monitor.pageState("tab_hidden", document.hidden, "the exam tab was hidden");
    this.checkWeakSignals();
    const judge = () => this.checkFullscreen();
    const pending = this.fullscreenRequest;
    this.fullscreenRequest = null;
    if (pending) void pending.then(judge);
    else judge();
  }

  /** The identity check's capture step: the photos the exam asks for, uploaded, then submitted. */
  private identityCapture(rejected: string | undefined): void {
    identityCaptureScreen(identityKinds(this.state.identity), rejected, {
      video: () => this.camera.video(),
      upload: (kind, jpeg, capturedAt) =>
        uploadPhoto({
          post: () => this.session.uploadIdentity(kind, jpeg, capturedAt),
          wait: (ms) => new Promise((r) => setTimeout(r, ms)),
        }),
      submit: () => this.session.sessionChange(EVENTS.IDENTITY_SUBMIT),
      now: () => this.session.now(),
    });
  }

  /** Chat messages from the server (live, or the ack of the student's own): each shown once. */
  private onChat(messages: ChatMessage[]): void {
    if (this.chat.add(messages, "live").length > 0) this.renderChat();
  }

  /** A sync per welcome; a newer one (or a disconnect) ends the one before. */
  private startChatSync(): void {
    const gen = ++this.chatSyncs;
    void syncChat(
      { ask: (after) => this.session.chatSync(after), wait: (ms) => new Promise((r) => setTimeout(r, ms)) },
      this.chat,
      () => gen === this.chatSyncs,
      () => this.renderChat(),
    );
  }

  private async sendChat(text: string): Promise<void> {
    const id = crypto.randomUUID();
    this.chat.queued(id, text);
    this.renderChat();
    try {
      await this.monitor.chat({ id, text });
    } catch (e) {
      // Not even stored locally (IndexedDB failed): say so next to the message.
      this.chat.failed(id, "not_stored", e instanceof Error ? e.message : String(e));
      this.renderChat();
    }
  }

  private renderChat(): void {
    if (this.chatPanel.isOpen()) this.markChatRead(false);
    this.chatPanel.render(this.chat.lines(), this.chat.unread());
  }

  private markChatRead(render = true): void {
    const mark = this.chat.markRead();
    try {
      localStorage.setItem(this.chatReadKey, String(mark));
    } catch {
      /* storage full or refused: the count is right for this page life */
    }
    if (render) this.chatPanel.render(this.chat.lines(), this.chat.unread());
  }

  /**
   * The instructor changed the exam's settings during the exam: detectors
   * and evidence follow at once; a new assessment URL replaces the exam
   * frame of a student already in it (the platform's own hand-back, with
   * LTI Proctoring Services, is not affected).
   */
  private onSettings(s: ExamSettings): void {
    if (!this.welcome) return;
    const before = this.welcome.settings.assessment_url;
    this.welcome = { ...this.welcome, settings: s };
    this.monitor.applySettings(s);
    this.updateObjects();
    this.updateVoice();
    this.dispatch({ type: "settings", identity: s.identity_check });
    this.updateBreakBar();
    const inExam = this.state.phase.name === "exam";
    const own = this.welcome.assessment?.kind !== "lti_proctoring";
    if (inExam && own && s.assessment_url && s.assessment_url !== before) {
      void this.openLinkedAssessment(this.welcome.exam_title, s.assessment_url);
    }
  }

  /** Every welcome: the learning platform may have ended the attempt meanwhile. */
  private platformEnded(w: StudentWelcome): boolean {
    return w.assessment?.kind === "lti_proctoring" && w.assessment.ended_at !== undefined;
  }

  private onConnected(up: boolean): void {
    this.connected = up;
    this.updateStatus();
    if (up) {
      this.monitor.kick();
      this.publisher?.reconnected();
    } else {
      // The sync under way cannot finish on this connection; the next welcome starts another.
      this.chatSyncs++;
      this.chat.unsynced();
    }
  }

  private onAction(a: ProctorAction): void {
    this.dispatch({ type: "proctor", action: a });
    switch (a.kind) {
      case "warn":
        notice(a.text ?? "Please follow the exam rules.", true);
        break;
      case "message":
        notice(a.text ?? "", false);
        break;
      case "resume":
        notice(a.text ?? "Your exam has been resumed.", false);
        break;
      case "add_time":
        // The time left itself comes with the session change.
        notice(a.minutes ? `Your proctor gave you ${a.minutes} more minutes.` : "Your proctor gave you more time.", false);
        break;
      case "pause":
      case "terminate":
      case "flag_for_review":
      case "approve_identity":
      case "reject_identity":
        break; // the phase machine handles these (the identity decision comes as the session's change)
    }
  }

  private onResult(r: FrameResult): void {
    this.telemetry.onResult(r);
    this.recordFrame?.(r);
    if (this.state.phase.name === "preview") {
      showPreviewResult(r);
      this.calibrate(r);
    }
    this.monitor.observe(r);
  }

  /** One frame of the preview's gaze calibration; once done, looking away counts from there. */
  private calibrate(r: FrameResult): void {
    if (this.calibration.screen) return;
    if (r.model === "detector") {
      showCalibration("unavailable");
      return;
    }
    const head = r.yawDeg !== undefined ? { yawDeg: r.yawDeg, pitchDeg: r.pitchDeg ?? 0 } : null;
    const eyes = r.eyeYawDeg !== undefined && r.eyePitchDeg !== undefined ? { yawDeg: r.eyeYawDeg, pitchDeg: r.eyePitchDeg } : null;
    const state = this.calibration.add(r.at, r.faces === 1 && head && eyes && r.brightness >= 0.08 ? combine(head, eyes) : null);
    showCalibration(state);
    if (state.state === "done") {
      this.monitor.setScreen(state.screen);
      sessionStorage.setItem(this.gazeKey, JSON.stringify(state.screen));
    }
  }

  /** A calibration from an earlier life of this tab (a reload mid-exam skips the preview). */
  private savedScreen(): Direction | null {
    try {
      const v = JSON.parse(sessionStorage.getItem(this.gazeKey) ?? "null") as Partial<Direction> | null;
      return v && Number.isFinite(v.yawDeg) && Number.isFinite(v.pitchDeg) ? { yawDeg: v.yawDeg!, pitchDeg: v.pitchDeg! } : null;
    } catch {
      return null;
    }
  }

  /** The models this exam's detectors will load, downloaded with progress (download.ts). */
  private downloadModels(onView: (v: DownloadView) => void): Promise<void> {
    const s = this.welcome?.settings;
    const phone = !s?.disabled_detectors.includes("phone_visible");
    const voice = !!s?.microphone && !s.disabled_detectors.includes("voice_detected");
    return downloadModels(() => this.models.load(), { phone, voice }, onView);
  }

  private startVision(): Promise<Vision> {
    return this.camera
      .startVision(
        (r) => this.onResult(r),
        () => this.updateStatus(),
        (r) => {
          this.recordObjects?.(r);
          this.monitor.objects(r);
        },
      )
      .then((v) => {
        this.updateObjects();
        return v;
      });
  }

  /** The phone detector runs unless the exam (or this student's accommodations) switched `phone_visible` off. */
  private updateObjects(): void {
    const s = this.welcome?.settings;
    if (s) this.camera.vision?.setObjects(!s.disabled_detectors.includes("phone_visible"));
  }

  private async resume(): Promise<void> {
    try {
      await this.startVision();
      // A reload mid-exam skips the system check: the microphone starts here
      // (permission is remembered; a refusal shows in the status line, and
      // the proctor sees no voice results rather than a blocked exam).
      if (this.welcome?.settings.microphone) await this.camera.startMicrophone().catch((e: unknown) => console.warn(e));
    } catch (e) {
      console.warn(e);
      this.dispatch({ type: "resume_failed" });
      return;
    }
    this.dispatch({ type: "resumed" });
    setTimeout(() => this.startPublishing(), 50);
  }

  /**
   * The system check's uplink measurement (uplink.ts), kept for this tab;
   * a publisher already under way (the student went on before it finished)
   * takes the plan it allows.
   */
  private async measureUplink(): Promise<Uplink> {
    const u = await probeUplink(location.origin, this.token);
    this.uplink = u;
    rememberUplink(`${this.progressKey}:uplink`, u);
    this.publisher?.setPlan(planForUplink(u, !!this.welcome?.settings.microphone));
    return u;
  }

  /** Once per page life (the identity check, the preview or a resumed exam, whichever comes first): it retries on its own. */
  private startPublishing(): void {
    const track = this.camera.track();
    if (!track || this.publisher || this.state.phase.name === "ended") return;
    const audio = this.welcome?.settings.microphone ? (this.camera.audioTrack() ?? null) : null;
    this.uplink ??= recallUplink(`${this.progressKey}:uplink`);
    this.publisher = new Publisher(this.session.socket, track, audio, planForUplink(this.uplink ?? { kind: "unknown", why: "" }, !!audio));
    this.publisher.onChange = () => this.updateStatus();
    this.publisher.start();
    // A task of its own: an AudioContext and its worklet are not cheap either.
    setTimeout(() => this.updateVoice(), 0);
  }

  /**
   * The voice detector runs while the exam uses the microphone and the
   * microphone runs; when a settings change turns it off, the detector, the
   * sound sent to the proctors and the microphone itself all stop.
   */
  private updateVoice(): void {
    const track = this.camera.audioTrack();
    const wanted = !!this.welcome?.settings.microphone && !this.welcome.settings.disabled_detectors.includes("voice_detected");
    if (!this.welcome?.settings.microphone && track) {
      this.voice?.stop();
      this.voice = null;
      this.monitor.voiceDetector = null;
      this.publisher?.stopAudio();
      this.camera.stopMicrophone();
      return;
    }
    if (wanted && track && !this.voice) {
      const v = new Voice(track, this.modelDirs);
      v.onResult = (r) => {
        this.recordVoice?.(r);
        this.monitor.voice(r);
      };
      v.onStatus = () => this.updateStatus();
      this.voice = v;
      this.monitor.voiceDetector = v;
      v.start().catch((e: unknown) => {
        v.lastError = e instanceof Error ? e.message : String(e);
        this.updateStatus();
      });
    } else if (!wanted && this.voice) {
      this.voice.stop();
      this.voice = null;
      this.monitor.voiceDetector = null;
    }
  }

  private startExam(requestFullscreen: boolean): void {
    sessionStorage.setItem(this.progressKey, "exam");
    // The server's clock starts now (a reloaded page whose start never
    // reached the server sends it again; a repeat is refused as stale).
    const phase = this.sessionView?.phase;
    if (phase === undefined || phase === "waiting" || phase === "ready") void this.start();
    if (document.hidden) this.monitor.pageState("tab_hidden", true);
    this.checkWeakSignals();
    // Judged once the request settles (entering full screen is asynchronous).
    const judge = () => this.checkFullscreen();
    if (requestFullscreen && canFullscreen()) document.documentElement.requestFullscreen().then(judge, judge);
    else judge();
    const title = this.welcome?.exam_title ?? "Exam";
    const url = this.welcome?.settings.assessment_url;
    if (this.welcome?.assessment?.kind === "lti_proctoring") void this.openPlatformAssessment(title);
    else if (url) void this.openLinkedAssessment(title, url);
    else examScreen(title, this.camera.video(), () => this.dispatch({ type: "handed_in" }));
  }

  /**
   * `start`. Refused as `identity_required` (the exam asks for an identity
   * check the page had not heard of, or not passed): not an error, the
   * check comes first and the preview's start button after it.
   */
  private async start(): Promise<void> {
    const ack = await this.session.sessionChange(EVENTS.START);
    if (ack.status === "rejected" && ack.reason === "identity_required") {
      sessionStorage.removeItem(this.progressKey);
      this.dispatch({ type: "identity_required" });
    }
  }

  /** A POST with this page's token to one of the student's API endpoints. */
  private async postApi(path: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${location.origin}${path}`, { method: "POST", headers: { authorization: `Bearer ${this.token}` } });
    return { status: res.status, body: await res.json().catch(() => null) };
  }

  /**
   * The exam's own assessment (an LMS quiz) in the exam frame. Its access
   * code, when it has one, is asked for once the camera is proctored and
   * shown only while it stays so.
   */
  private async openLinkedAssessment(title: string, url: string): Promise<void> {
    const status = assessmentScreen(title, this.camera.video(), url);
    this.linkedStatus = status;
    await this.askAccessCode(status);
  }

  /**
   * Asks for the access code (again, after `access_code_changed`). Only the
   * latest ask may change what the page shows.
   */
  private async askAccessCode(status: (text: string) => void): Promise<void> {
    const ask = ++this.codeAsks;
    this.showAccessCode = undefined;
    status("Your exam is below. If it asks for an access code, the code appears here once your camera is being proctored.");
    const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    const got = await accessCode({ request: () => this.postApi("/api/v1/access-code"), wait, status });
    if (ask !== this.codeAsks) return;
    if ("failed" in got) status(`The access code could not be shown: ${got.failed}.`);
    else if (got.code === null) status("Your exam is below.");
    else {
      const code = got.code;
      this.showAccessCode = () =>
        status(
          this.publisher?.state === "connected"
            ? `Access code: ${code}`
            : "The access code is hidden while your camera is not being proctored; it comes back when the camera reconnects.",
        );
      this.showAccessCode();
    }
  }

  /** The platform's assessment, handed back into the exam frame once proctoring is live. */
  private async openPlatformAssessment(title: string): Promise<void> {
    const status = assessmentScreen(title, this.camera.video());
    const result = await handBack({
      request: () => this.postApi("/api/v1/lti/start-assessment"),
      post: (message) => postToFrame(document, message, ASSESSMENT_FRAME),
      wait: (ms) => new Promise((r) => setTimeout(r, ms)),
      status,
    });
    if (result.kind === "ended") this.dispatch({ type: "platform_ended" });
    else if (result.kind === "failed") status(`Your exam could not be opened: ${result.message}.`);
  }

  private finish(message: string): void {
    sessionStorage.setItem(this.progressKey, "ended");
    this.publisher?.stop();
    this.camera.stop();
    if (document.fullscreenElement) document.exitFullscreen().catch(() => undefined);
    endedScreen(message, this.monitor.drained());
  }

  /** Weak signals (signals.ts): a camera that looks virtual or like a screen share, docked developer tools. */
  private checkWeakSignals(): void {
    const track = this.camera.track();
    if (track) {
      const settings = track.getSettings() as MediaTrackSettings & { displaySurface?: string };
      const why = cameraSuspicion(settings.displaySurface ? { label: track.label, displaySurface: settings.displaySurface } : { label: track.label });
      this.monitor.pageState("camera_suspect", why !== null, why ?? undefined);
    }
    const open = devtoolsLikelyOpen({
      outerWidth: window.outerWidth,
      innerWidth: window.innerWidth,
      outerHeight: window.outerHeight,
      innerHeight: window.innerHeight,
      zoom: (window.devicePixelRatio || 1) / this.loadDpr,
    });
    this.monitor.pageState("devtools_open", open, "the page is much smaller than its window (docked developer tools?)");
  }

  /** The exam is taken in full screen wherever the browser allows it. */
  private checkFullscreen(): void {
    this.monitor.pageState("fullscreen_exit", document.fullscreenEnabled && !document.fullscreenElement, "not in full screen");
  }

  /** Page events that become incidents while monitoring (the monitor ignores them otherwise). */
  private watchPage(): void {
    const m = this.monitor;
    document.addEventListener("visibilitychange", () => m.pageState("tab_hidden", document.hidden, "the exam tab was hidden"));
    // Focus inside the exam frame (the platform's assessment) is focus on the
    // exam: the window blurs, but the frame is the active element and the
    // document still has focus. Leaving the frame for another window fires
    // nothing in this document, so focus is polled while the frame has it.
    const inFrame = () => document.activeElement instanceof HTMLIFrameElement && document.activeElement.name === ASSESSMENT_FRAME;
    const blurred = (holds: boolean) => m.pageState("window_blur", holds, "another window had focus");
    window.addEventListener("blur", () => setTimeout(() => blurred(!(inFrame() && document.hasFocus())), 0));
    window.addEventListener("focus", () => blurred(false));
    setInterval(() => {
      if (inFrame()) blurred(!document.hasFocus());
    }, 500);
    document.addEventListener("fullscreenchange", () => {
      this.checkFullscreen();
      if (this.state.phase.name === "exam") renderFullscreenBanner();
    });
    for (const ev of ["copy", "cut", "paste"] as const) {
      document.addEventListener(ev, () => m.copyPaste(`${ev} in the exam page`));
    }
    // Window Management API: `isExtended` where the browser has it; polled as well, since not every browser fires `change`.
    const screens = window.screen as Screen & { isExtended?: boolean; addEventListener?: (type: "change", f: () => void) => void };
    const checkScreens = () => {
      if (screens.isExtended !== undefined) m.pageState("second_screen", screens.isExtended, "a second screen is connected");
    };
    screens.addEventListener?.("change", checkScreens);
    setInterval(() => {
      checkScreens();
      this.checkWeakSignals();
    }, 2000);
    window.addEventListener("resize", () => this.checkWeakSignals());
  }

  private updateStatus(): void {
    this.showAccessCode?.();
    if (this.state.onBreak) updateBreak(this.breakText());
    byId("status").textContent = statusLine({
      connected: this.connected,
      vision: this.camera.vision,
      pending: this.monitor.pending(),
      publisher: this.publisher,
      timeLeftMs: this.timeLeftMs(),
    });
  }
}

const token = tokenFromHash(location.hash);
if (token && new URLSearchParams(location.hash.replace(/^#/, "")).get("view") === "record") {
  // After the exam: the student's own record (no camera, no socket).
  void recordScreen(token);
} else if (token) {
  new StudentPage(token);
} else {
  joinScreen();
  // As on every screen, the status line says whether the page is connected (it never is here).
  setInterval(() => {
    byId("status").textContent = statusLine({ connected: false, vision: null, pending: 0, publisher: null });
  }, 1000);
}
