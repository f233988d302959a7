// The camera and the inference worker that watches it. One stream for the
// whole page life: the system check starts it, the preview, the exam and
// WebRTC publishing reuse it.

import { h } from "./dom.ts";
import type { ModelDirs } from "./models.ts";
import { Vision } from "./vision.ts";
import type { FrameResult, ModelChoice, ObjectsResult } from "./worker-protocol.ts";

export interface CameraOptions {
  models: () => Promise<ModelDirs>;
  model: ModelChoice;
  targetFps: number;
}

export class Camera {
  stream: MediaStream | null = null;
  /** Page clock when the camera started (the browser tests align the scripted video to it). */
  startedAt = 0;
  vision: Vision | null = null;
  /** The microphone, in exams that use it (asked for apart from the camera, so each refusal is told apart). */
  microphone: MediaStream | null = null;
  /** Page clock when the microphone started (the browser tests align the test audio to it). */
  microphoneStartedAt = 0;
  /** Feeds the worker where there is no MediaStreamTrackProcessor; never shown. */
  private hiddenVideo: HTMLVideoElement | null = null;

  constructor(
    private readonly opts: CameraOptions,
    /** The track ended (unplugged, revoked): an incident of its own. */
    private readonly onEnded: () => void,
  ) {}

  track(): MediaStreamTrack | undefined {
    return this.stream?.getVideoTracks()[0];
  }

  async start(): Promise<MediaStream> {
    if (this.stream) return this.stream;
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 30 } },
      audio: false,
    });
    this.stream = stream;
    this.startedAt = Date.now();
    stream.getVideoTracks()[0]?.addEventListener("ended", this.onEnded);
    return stream;
  }

  /** Starts the microphone (once). Echo cancellation and noise suppression keep voices and drop the rest. */
  async startMicrophone(): Promise<MediaStreamTrack> {
    if (!this.microphone) {
      this.microphone = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
        video: false,
      });
      this.microphoneStartedAt = Date.now();
    }
    const track = this.microphone.getAudioTracks()[0];
    if (!track) throw new Error("the microphone gave no audio track");
    return track;
  }

  /** The microphone's track, while it runs. */
  audioTrack(): MediaStreamTrack | undefined {
    return this.microphone?.getAudioTracks()[0];
  }

  /** Stops the microphone (the exam turned it off). */
  stopMicrophone(): void {
    for (const t of this.microphone?.getTracks() ?? []) t.stop();
    this.microphone = null;
  }

  /** A new muted `<video>` showing the camera. */
  video(): HTMLVideoElement {
    const v = h("video", { autoplay: true, muted: true, playsinline: true, "aria-label": "Your camera" });
    v.muted = true;
    v.srcObject = this.stream;
    // Autoplay may be refused until the student interacts; the picture then starts on the next screen.
    v.play().catch(() => undefined);
    return v;
  }

  /** Starts the camera and the inference worker (once); resolves when the models are loaded. */
  async startVision(onResult: (r: FrameResult) => void, onStatus: () => void, onObjects: (r: ObjectsResult) => void = () => undefined): Promise<Vision> {
    if (this.vision) return this.vision;
    const stream = await this.start();
    const track = stream.getVideoTracks()[0];
    if (!track) throw new Error("the camera gave no video track");
    this.hiddenVideo ??= this.video();
    const v = new Vision(track, this.hiddenVideo, { models: this.opts.models, model: this.opts.model, targetFps: this.opts.targetFps });
    v.onResult = onResult;
    v.onStatus = onStatus;
    v.onObjects = onObjects;
    this.vision = v;
    await v.start();
    return v;
  }

  stop(): void {
    this.vision?.stop();
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stopMicrophone();
  }
}
