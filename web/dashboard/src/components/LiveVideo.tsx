import { useEffect, useRef, useState } from "react";
import type { WatchQuality } from "@proto";
import { useConnectionStatus, useServices, useVideoStatus } from "../services";

/**
 * Live video of `studentId` in `slot`: asks the SFU to put them there and
 * shows the transceiver that carries them. Degrades to a text when the
 * server offers no video (rejected, or no answer).
 */
export function LiveVideo({
  slot,
  studentId,
  quality,
  label,
  listen = false,
}: {
  slot: number;
  studentId: string;
  quality: WatchQuality;
  label: string;
  /** Play the student's microphone (exams with it on): only ever for the one student the proctor chose to hear. */
  listen?: boolean;
}) {
  const { video } = useServices();
  const status = useVideoStatus();
  const el = useRef<HTMLVideoElement>(null);
  const audioEl = useRef<HTMLAudioElement>(null);
  // Why the slot shows nothing, from the last `watch` answer ("" when it was accepted).
  const [refusal, setRefusal] = useState("");

  const live = useConnectionStatus().kind === "live";
  // Negotiate once connected, and again after a reconnect (the client resets to idle).
  useEffect(() => {
    if (live && status.kind === "idle") void video.start();
  }, [video, live, status.kind]);

  useEffect(() => {
    if (status.kind !== "ready") return;
    let live = true;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const attempt = () =>
      void video.watch(slot, studentId, quality).then((a) => {
        if (!live) return;
        if (a.status === "ok") {
          setRefusal("");
        } else if (a.reason === "not_publishing") {
          // The student's camera is not reaching the server (yet): keep asking.
          setRefusal("No video from this student right now");
          retry = setTimeout(attempt, 3_000);
        } else {
          setRefusal(`Live video unavailable (${a.reason}: ${a.message})`);
        }
      });
    attempt();
    return () => {
      live = false;
      clearTimeout(retry);
    };
  }, [video, status.kind, slot, studentId, quality]);
  // The slot is emptied only when this video goes away (or changes slot): a
  // new student or quality is one `watch`, which replaces what the slot
  // showed. An `unwatch` + `watch` pair left the slot empty (its `slot`
  // events can arrive in either order).
  useEffect(() => () => void video.unwatch(slot), [video, slot]);

  const stream = status.kind === "ready" ? video.streamFor(studentId, slot) : null;
  const trackId = stream?.getVideoTracks()[0]?.id;
  useEffect(() => {
    if (el.current && stream && (el.current.srcObject as MediaStream | null)?.getVideoTracks()[0]?.id !== trackId) {
      el.current.srcObject = stream;
    }
  }, [stream, trackId]);

  const sound = listen && status.kind === "ready" ? video.audioFor(studentId, slot) : null;
  const soundId = sound?.getAudioTracks()[0]?.id;
  useEffect(() => {
    const a = audioEl.current;
    if (a && sound && (a.srcObject as MediaStream | null)?.getAudioTracks()[0]?.id !== soundId) a.srcObject = sound;
    if (a && !sound) a.srcObject = null;
  }, [sound, soundId]);

  if (status.kind !== "ready" || !stream) {
    const text =
      status.kind === "unavailable"
        ? `Live video unavailable (${status.detail})`
        : status.kind === "ready"
          ? refusal || "Waiting for video…"
          : "Connecting video…";
    return (
      <div className={`video video--${quality} video--none`} role="img" aria-label={`${label}: ${text}`}>
        <span>{text}</span>
      </div>
    );
  }
  return (
    <>
      <video ref={el} className={`video video--${quality}`} autoPlay muted playsInline aria-label={`${label} live video`} />
      {listen && <audio ref={audioEl} autoPlay aria-label={`${label} microphone`} />}
    </>
  );
}
