import { useEffect, useRef } from "react";
import type { WatchQuality } from "@proto";
import { useConnectionStatus, useServices, useVideoStatus } from "../services";

/**
 * Live video of `studentId` in `slot`: asks the SFU to put them there and
 * shows the transceiver that carries them. Degrades to a text when the
 * server offers no video (rejected, or no answer).
 */
export function LiveVideo({ slot, studentId, quality, label }: { slot: number; studentId: string; quality: WatchQuality; label: string }) {
  const { video } = useServices();
  const status = useVideoStatus();
  const el = useRef<HTMLVideoElement>(null);
  const ack = useRef<string>("");

  const live = useConnectionStatus().kind === "live";
  // Negotiate once connected, and again after a reconnect (the client resets to idle).
  useEffect(() => {
    if (live && status.kind === "idle") void video.start();
  }, [video, live, status.kind]);

  useEffect(() => {
    if (status.kind !== "ready") return;
    let live = true;
    void video.watch(slot, studentId, quality).then((a) => {
      if (live) ack.current = a.status === "ok" ? "" : `${a.reason}: ${a.message}`;
    });
    return () => {
      live = false;
      void video.unwatch(slot);
    };
  }, [video, status.kind, slot, studentId, quality]);

  const stream = status.kind === "ready" ? video.streamFor(studentId) : null;
  const trackId = stream?.getVideoTracks()[0]?.id;
  useEffect(() => {
    if (el.current && stream && (el.current.srcObject as MediaStream | null)?.getVideoTracks()[0]?.id !== trackId) {
      el.current.srcObject = stream;
    }
  }, [stream, trackId]);

  if (status.kind !== "ready" || !stream) {
    const text =
      status.kind === "unavailable"
        ? `Live video unavailable (${status.detail})`
        : status.kind === "ready"
          ? ack.current
            ? `Live video unavailable (${ack.current})`
            : "Waiting for video…"
          : "Connecting video…";
    return (
      <div className={`video video--${quality} video--none`} role="img" aria-label={`${label}: ${text}`}>
        <span>{text}</span>
      </div>
    );
  }
  return <video ref={el} className={`video video--${quality}`} autoPlay muted playsInline aria-label={`${label} live video`} />;
}
