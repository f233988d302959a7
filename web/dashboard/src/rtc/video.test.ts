import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeProctorSocket } from "../test/socket";
import { VideoClient } from "./video";

/** Just enough of RTCPeerConnection to follow the negotiation. */
class FakePC {
  static last: FakePC | undefined;
  transceivers: { mid: string | null; direction: string; receiver: { track: { id: string; kind: string } } }[] = [];
  remote: unknown;
  closed = false;
  onicecandidate: ((e: { candidate: unknown }) => void) | null = null;
  ontrack: (() => void) | null = null;
  constructor() {
    FakePC.last = this;
  }
  addTransceiver(kind: string, init: { direction: string }) {
    this.transceivers.push({ mid: null, direction: init.direction, receiver: { track: { id: `t${this.transceivers.length}`, kind } } });
  }
  createOffer() {
    return Promise.resolve({ type: "offer", sdp: `v=0 m-lines:${this.transceivers.length}` });
  }
  setLocalDescription() {
    this.transceivers.forEach((t, i) => (t.mid = String(i)));
    return Promise.resolve();
  }
  setRemoteDescription(d: unknown) {
    this.remote = d;
    return Promise.resolve();
  }
  getTransceivers() {
    return this.transceivers;
  }
  async addIceCandidate() {}
  close() {
    this.closed = true;
  }
}

beforeEach(() => {
  vi.stubGlobal("RTCPeerConnection", FakePC);
  vi.stubGlobal("MediaStream", class { constructor(readonly tracks: object[]) {} getVideoTracks() { return this.tracks; } });
});
afterEach(() => vi.unstubAllGlobals());

const make = () => {
  const socket = new FakeProctorSocket();
  return { socket, video: new VideoClient(socket.socket, 3, 50) };
};

describe("live video client", () => {
  it("offers K recvonly video transceivers, then K audio ones; no answer → unavailable, and watch is refused locally", async () => {
    const { socket, video } = make();
    await video.start();
    expect(FakePC.last!.transceivers.map((t) => `${t.receiver.track.kind} ${t.direction}`)).toEqual([
      ...Array<string>(3).fill("video recvonly"),
      ...Array<string>(3).fill("audio recvonly"),
    ]);
    expect(socket.emitted[0]).toEqual(["rtc_subscribe", { sdp: "v=0 m-lines:6" }]);
    expect(video.getStatus()).toEqual({ kind: "unavailable", detail: "the server does not offer video yet" });
    expect(FakePC.last!.closed).toBe(true);
    expect(await video.watch(1, "s1", "thumbnail")).toMatchObject({ status: "rejected", reason: "unavailable" });
  });

  it("a rejected subscription is reported with its reason", async () => {
    const { socket, video } = make();
    socket.answer = () => Promise.resolve({ status: "rejected", reason: "unavailable", message: "SFU not running" });
    await video.start();
    expect(video.getStatus()).toEqual({ kind: "unavailable", detail: "unavailable: SFU not running" });
  });

  it("an answer makes it ready; slot events map mids to students; disconnect resets", async () => {
    const { socket, video } = make();
    socket.answer = (e) => Promise.resolve(e === "rtc_subscribe" ? { status: "answer", sdp: "answer-sdp" } : { status: "ok" });
    await video.start();
    expect(video.getStatus().kind).toBe("ready");
    expect(FakePC.last!.remote).toEqual({ type: "answer", sdp: "answer-sdp" });
    expect(await video.watch(2, "s9", "full")).toEqual({ status: "ok" });
    expect(socket.emitted.at(-1)).toEqual(["watch", { slot: 2, student_id: "s9", quality: "full" }]);
    expect(video.streamFor("s9")).toBeNull();
    socket.fire("slot", { slot: 2, mid: "2", student_id: "s9", quality: "full" });
    expect((video.streamFor("s9") as unknown as { tracks: { id: string }[] }).tracks[0]!.id).toBe("t2");
    // Slot 2's sound is the third audio transceiver (the sixth overall).
    expect((video.audioFor("s9", 2) as unknown as { tracks: { id: string }[] }).tracks[0]!.id).toBe("t5");
    expect(video.audioFor("s9", 1)).toBeNull();
    expect(video.audioFor("s8", 2)).toBeNull();
    await video.unwatch(2);
    expect(video.streamFor("s9")).toBeNull();
    expect(video.audioFor("s9", 2)).toBeNull();
    socket.fire("disconnect", "transport close");
    expect(video.getStatus().kind).toBe("idle");
  });
});
