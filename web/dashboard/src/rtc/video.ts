/**
 * Watching live video through the SFU's bounded slots.
 *
 * One RTCPeerConnection per page with `slots` recvonly video transceivers,
 * then as many recvonly audio ones (the i-th audio m-line carries the sound
 * of the student in slot i, in exams with the microphone on), offered
 * through `rtc_subscribe`. The page asks for a student in a slot
 * (`watch`), and the server says which transceiver (`mid`) carries which
 * student (`slot` events). If the server rejects the subscription, or does
 * not answer, video is reported unavailable and everything else works.
 */
import type { IceCandidate, RequestAck, SlotUpdate, WatchQuality } from "@proto";
import { EVENTS } from "@proto";
import { ask, type ProctorSocket } from "../net/socket";
import type { Listener } from "../store/scoreStore";

export type VideoStatus =
  | { kind: "idle" }
  | { kind: "negotiating" }
  | { kind: "ready" }
  | { kind: "unavailable"; detail: string };

export class VideoClient {
  private statusValue: VideoStatus = { kind: "idle" };
  private pc: RTCPeerConnection | null = null;
  private readonly slotMap = new Map<number, SlotUpdate>();
  private readonly listeners = new Set<Listener>();
  private version = 0;

  constructor(
    private readonly socket: ProctorSocket,
    readonly slots = 7,
    private readonly timeoutMs = 4000,
  ) {
    socket.on(EVENTS.SLOT, (u) => {
      this.slotMap.set(u.slot, u);
      this.changed();
    });
    socket.on(EVENTS.RTC_CANDIDATE, (c) => {
      // A candidate for a connection already replaced is of no use.
      void this.pc?.addIceCandidate(c).catch(() => undefined);
    });
    // Server-side state is gone after a reconnect: negotiate again on demand.
    socket.on("disconnect", () => this.reset({ kind: "idle" }));
  }

  getStatus = (): VideoStatus => this.statusValue;
  getVersion = (): number => this.version;
  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  /** Negotiates once (again after a reconnect); later calls are no-ops. */
  async start(): Promise<void> {
    if (this.statusValue.kind !== "idle") return;
    if (typeof RTCPeerConnection !== "function") {
      this.set({ kind: "unavailable", detail: "this browser has no WebRTC" });
      return;
    }
    this.set({ kind: "negotiating" });
    const pc = new RTCPeerConnection();
    this.pc = pc;
    try {
      for (let i = 0; i < this.slots; i++) pc.addTransceiver("video", { direction: "recvonly" });
      for (let i = 0; i < this.slots; i++) pc.addTransceiver("audio", { direction: "recvonly" });
      pc.onicecandidate = (e) => {
        if (!e.candidate) return;
        const c: IceCandidate = { candidate: e.candidate.candidate };
        if (e.candidate.sdpMid != null) c.sdpMid = e.candidate.sdpMid;
        if (e.candidate.sdpMLineIndex != null) c.sdpMLineIndex = e.candidate.sdpMLineIndex;
        this.socket.emit(EVENTS.RTC_CANDIDATE, c);
      };
      pc.ontrack = () => this.changed();
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const ack = await ask(this.socket, this.timeoutMs, EVENTS.RTC_SUBSCRIBE, { sdp: offer.sdp ?? "" });
      if (this.pc !== pc) return;
      if (ack.status !== "answer") {
        this.reset({ kind: "unavailable", detail: `${ack.reason}: ${ack.message}` });
        return;
      }
      await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
      this.set({ kind: "ready" });
    } catch (e) {
      if (this.pc !== pc) return;
      const timedOut = e instanceof Error && /timed out|timeout/i.test(e.message);
      this.reset({ kind: "unavailable", detail: timedOut ? "the server does not offer video yet" : String(e) });
    }
  }

  async watch(slot: number, studentId: string, quality: WatchQuality): Promise<RequestAck> {
    return this.request(() => ask(this.socket, this.timeoutMs, EVENTS.WATCH, { slot, student_id: studentId, quality }));
  }

  async unwatch(slot: number): Promise<RequestAck> {
    this.slotMap.delete(slot);
    this.changed();
    return this.request(() => ask(this.socket, this.timeoutMs, EVENTS.UNWATCH, { slot }));
  }

  /**
   * The stream carrying `studentId`, if a slot has them and the track arrived.
   * With `slot`, only that slot: the same student may also be in another slot
   * (drawer and watch wall) at another quality.
   */
  streamFor(studentId: string, slot?: number): MediaStream | null {
    if (!this.pc) return null;
    for (const u of this.slotMap.values()) {
      if (u.student_id !== studentId || (slot !== undefined && u.slot !== slot)) continue;
      const t = this.pc.getTransceivers().find((x) => x.mid === u.mid);
      if (t?.receiver.track) return new MediaStream([t.receiver.track]);
    }
    return null;
  }

  /**
   * The sound of `studentId` in `slot`: the audio transceiver paired with the
   * slot (the slot-th audio m-line of the offer), while the slot shows them.
   * Silent unless the exam has the microphone on.
   */
  audioFor(studentId: string, slot: number): MediaStream | null {
    const u = this.slotMap.get(slot);
    if (!this.pc || u?.student_id !== studentId) return null;
    const track = this.pc.getTransceivers().filter((t) => t.receiver.track?.kind === "audio")[slot]?.receiver.track;
    return track ? new MediaStream([track]) : null;
  }

  /** Sends a slot request once video is up; no answer in time is a rejection too. */
  private async request(send: () => Promise<RequestAck>): Promise<RequestAck> {
    if (this.statusValue.kind !== "ready") {
      return { status: "rejected", reason: "unavailable", message: "live video unavailable" };
    }
    try {
      return await send();
    } catch {
      return { status: "rejected", reason: "unavailable", message: "no answer from the server" };
    }
  }

  private reset(status: VideoStatus): void {
    this.pc?.close();
    this.pc = null;
    this.slotMap.clear();
    this.set(status);
  }

  private set(s: VideoStatus): void {
    this.statusValue = s;
    this.changed();
  }

  private changed(): void {
    this.version++;
    for (const l of [...this.listeners]) l();
  }
}
