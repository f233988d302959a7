// Publishes the camera to the SFU: an offer over `rtc_publish`, the answer
// in its ack, trickle ICE over `rtc_candidate` both ways. Simulcast with
// three layers (q/h/f at 1/4, 1/2 and full resolution), VP8 preferred; the
// system check's measured uplink may leave the larger layers off and cap the
// frame rate (the plan, uplink.ts).
// Nothing else depends on it: until the server answers, proctoring goes on,
// and publishing is retried with backoff.

import type { IceCandidate, RtcAck, SessionDescription } from "@proto";
import { EVENTS } from "@proto";
import { ask, type StudentSocket } from "./socket.ts";
import { planFor, sendEncodings, type VideoPlan } from "./uplink.ts";

/** How long an offer waits for the server's answer before publishing is retried. */
const ANSWER_TIMEOUT_MS = 10_000;

export type RtcState = "idle" | "offering" | "connecting" | "connected" | "waiting" | "unsupported";

export class Publisher {
  state: RtcState = "idle";
  detail = "";
  attempts = 0;
  /** Estimated upload capacity from the ICE candidate pair, once connected (bit/s). */
  uplinkBps: number | null = null;
  onChange: () => void = () => {};
  private pc: RTCPeerConnection | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(
    private socket: StudentSocket,
    private track: MediaStreamTrack,
    /** The microphone, in exams that use it: one Opus m-line after the camera's (docs/PROTOCOL.md, rtc_publish). */
    private audio: MediaStreamTrack | null = null,
    /** What the uplink allows (the system check's measurement); the full plan when it is unknown. */
    private videoPlan: VideoPlan = planFor(null),
  ) {
    socket.on(EVENTS.RTC_CANDIDATE, (c) => {
      // A candidate for a connection already replaced is of no use.
      void this.pc?.addIceCandidate(c).catch(() => undefined);
    });
  }

  start(): void {
    this.stopped = false;
    if (typeof RTCPeerConnection !== "function") {
      this.set("unsupported", "this browser has no WebRTC");
      return;
    }
    void this.publish();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.pc?.close();
    this.pc = null;
  }

  /** Stops sending the microphone (the exam turned it off): the track is dropped from the connection as it is. */
  stopAudio(): void {
    if (!this.audio) return;
    const audio = this.audio;
    this.audio = null;
    for (const s of this.pc?.getSenders() ?? []) if (s.track === audio) void s.replaceTrack(null).catch(() => undefined);
  }

  /** The publishing connection's statistics (the browser tests read the simulcast layers from them). */
  async stats(): Promise<RTCStatsReport | null> {
    return this.pc ? this.pc.getStats() : null;
  }

  /** What the camera publishes (uplink.ts). */
  get plan(): VideoPlan {
    return this.videoPlan;
  }

  /**
   * A new plan (the measurement came after publishing began). A publication
   * under way starts over with it, as a reload's would: one code path sets
   * the encodings, the offer's. (The SFU would also cope with layers
   * switched off in place: it ranks only the layers that sent in its last
   * rate window, vigil-sfu router::slots::slot_layer.)
   */
  setPlan(plan: VideoPlan): void {
    const changed = plan.level !== this.videoPlan.level;
    this.videoPlan = plan;
    this.onChange();
    // Without a connection (a retry is pending), the next offer carries the plan.
    if (!changed || this.stopped || !this.pc) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.attempts = 0;
    void this.publish();
  }

  /** The camera sender's encodings as the browser holds them (the browser tests check the plan was applied). */
  encodings(): RTCRtpEncodingParameters[] | null {
    return this.videoSender()?.getParameters().encodings ?? null;
  }

  private videoSender(): RTCRtpSender | undefined {
    return this.pc?.getSenders().find((s) => s.track === this.track);
  }

  /** The socket reconnected: a half-made or failed connection starts over. */
  reconnected(): void {
    if (this.stopped || this.state === "connected") return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.publish();
  }

  private set(state: RtcState, detail = ""): void {
    this.state = state;
    this.detail = detail;
    this.onChange();
  }

  private retry(why: string, afterMs?: number): void {
    this.pc?.close();
    this.pc = null;
    if (this.stopped) return;
    const delay = Math.max(afterMs ?? 0, Math.min(60_000, 2000 * 2 ** Math.min(this.attempts - 1, 5)));
    this.set("waiting", `${why}; retrying in ${Math.round(delay / 1000)} s`);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.publish();
    }, delay);
  }

  private async publish(): Promise<void> {
    if (this.stopped) return;
    this.attempts += 1;
    this.pc?.close();
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
    this.pc = pc;
    this.set("offering");
    try {
      const tx = pc.addTransceiver(this.track, {
        direction: "sendonly",
        sendEncodings: sendEncodings(this.videoPlan),
      });
      if (this.audio) pc.addTransceiver(this.audio, { direction: "sendonly" });
      const codecs = RTCRtpSender.getCapabilities?.("video")?.codecs ?? [];
      const vp8 = codecs.filter((c) => c.mimeType.toLowerCase() === "video/vp8");
      if (vp8.length && "setCodecPreferences" in tx) {
        tx.setCodecPreferences([...vp8, ...codecs.filter((c) => c.mimeType.toLowerCase() !== "video/vp8")]);
      }
      pc.onicecandidate = ({ candidate }) => {
        if (!candidate || pc !== this.pc) return;
        const c: IceCandidate = { candidate: candidate.candidate };
        if (candidate.sdpMid != null) c.sdpMid = candidate.sdpMid;
        if (candidate.sdpMLineIndex != null) c.sdpMLineIndex = candidate.sdpMLineIndex;
        this.socket.emit(EVENTS.RTC_CANDIDATE, c);
      };
      pc.onconnectionstatechange = () => {
        if (pc !== this.pc) return;
        if (pc.connectionState === "connected") {
          this.attempts = 0;
          this.set("connected");
          this.watchStats(pc);
        } else if (pc.connectionState === "disconnected") {
          // Not proctored while it lasts (the access code hides); ICE may
          // still recover on its own, else "failed" follows and a retry.
          this.set("connecting", "video connection interrupted");
        } else if (pc.connectionState === "failed") {
          this.retry("video connection failed");
        }
      };
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      if (!this.socket.connected) return this.retry("not connected");
      const req: SessionDescription = { sdp: pc.localDescription?.sdp ?? offer.sdp ?? "" };
      let ack: RtcAck;
      try {
        ack = await ask(this.socket, ANSWER_TIMEOUT_MS, EVENTS.RTC_PUBLISH, req);
      } catch {
        return this.retry("the server did not answer the video offer");
      }
      if (pc !== this.pc) return;
      if (ack.status !== "answer") return this.retry(`video refused (${ack.reason})`, ack.retry_after_ms);
      this.set("connecting");
      await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    } catch (e) {
      if (pc === this.pc) this.retry(`video setup failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private watchStats(pc: RTCPeerConnection): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = setInterval(() => {
      if (pc !== this.pc) return;
      pc.getStats().then(
        (stats) => {
          stats.forEach((s: { type: string; nominated?: boolean; availableOutgoingBitrate?: number }) => {
            if (s.type === "candidate-pair" && s.nominated && s.availableOutgoingBitrate) {
              this.uplinkBps = s.availableOutgoingBitrate;
            }
          });
          this.onChange();
        },
        // Closed meanwhile (a retry replaced it): the next connection reports its own.
        () => undefined,
      );
    }, 5000);
  }
}

/** System check: can this browser make a WebRTC offer with a video sender? */
export async function checkWebRtc(track: MediaStreamTrack | null): Promise<{ ok: boolean; detail: string }> {
  if (typeof RTCPeerConnection !== "function") return { ok: false, detail: "WebRTC is not available in this browser" };
  const pc = new RTCPeerConnection();
  try {
    if (track) pc.addTransceiver(track, { direction: "sendonly" });
    else pc.addTransceiver("video", { direction: "sendonly" });
    const offer = await pc.createOffer();
    const vp8 = /VP8\/90000/i.test(offer.sdp ?? "");
    return { ok: true, detail: vp8 ? "WebRTC works (VP8 video)" : "WebRTC works" };
  } catch (e) {
    return { ok: false, detail: `WebRTC failed: ${(e as Error).message}` };
  } finally {
    pc.close();
  }
}
