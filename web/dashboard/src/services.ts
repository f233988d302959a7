import { createContext, useContext, useSyncExternalStore } from "react";
import type { IncidentKind } from "@proto";
import type { Api } from "./net/api";
import type { ChatClient } from "./net/chat";
import type { IdentityQueue } from "./identity/queue";
import type { Connection, ConnectionStatus } from "./net/connection";
import type { JoinParams } from "./net/token";
import type { VideoClient, VideoStatus } from "./rtc/video";
import type { IncidentFeed, ScoreHistory } from "./feed/feeds";
import type { ScoreStore } from "./store/scoreStore";

/** Everything the page's components talk to; made once in main.tsx. */
export interface Services {
  readonly join: JoinParams;
  readonly store: ScoreStore;
  readonly feed: IncidentFeed;
  readonly history: ScoreHistory;
  readonly api: Api;
  readonly connection: Connection;
  readonly video: VideoClient;
  readonly chat: ChatClient;
  /** Students waiting for their identity check, oldest first. */
  readonly identity: IdentityQueue;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const s = useContext(ServicesContext);
  if (!s) throw new Error("no ServicesContext");
  return s;
}

export function useConnectionStatus(): ConnectionStatus {
  const { connection } = useServices();
  return useSyncExternalStore(connection.subscribe, connection.getStatus, connection.getStatus);
}

export function useVideoStatus(): VideoStatus {
  const { video } = useServices();
  useSyncExternalStore(video.subscribe, video.getVersion, video.getVersion);
  return video.getStatus();
}

/**
 * Human names for incident kinds; a new kind without one does not compile.
 * (A server newer than this page can still send a kind it does not know:
 * callers show the raw kind then.)
 */
export const KIND_LABEL: Record<IncidentKind, string> = {
  no_face: "No face",
  multiple_faces: "Two or more faces",
  looking_away: "Looking away",
  tab_hidden: "Left the tab",
  window_blur: "Window lost focus",
  fullscreen_exit: "Left full screen",
  copy_paste: "Copy/paste",
  second_screen: "Second screen",
  camera_ended: "Camera stopped",
  worker_stalled: "Detector stalled",
  inference_rate_low: "Detector slow",
  heartbeat_lost: "Heartbeat lost",
  media_stalled: "Video stalled",
  frame_rate_collapsed: "Frame rate collapsed",
  keyframes_missing: "Keyframes missing",
  phone_visible: "Phone in view",
  voice_detected: "Voice heard",
  camera_suspect: "Camera may be virtual",
  devtools_open: "Developer tools open",
};

const two = (n: number) => (n < 10 ? `0${n}` : String(n));
/** Local HH:MM:SS. Hand-made: `toLocaleTimeString` costs ~0.1 ms a call, too much per tile render. */
export const clock = (ms: number): string => {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
};
