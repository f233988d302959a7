import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { io } from "socket.io-client";
import type { IncidentRecord, ScoreUpdate } from "@proto";
import { EVENTS } from "@proto";
import { App } from "./components/App";
import { IncidentFeed, ScoreHistory } from "./feed/feeds";
import { Api } from "./net/api";
import { ChatClient } from "./net/chat";
import { Connection } from "./net/connection";
import { IdentityQueue } from "./identity/queue";
import { ChatStoreContext } from "./chat/chatStore";
import type { ProctorSocket } from "./net/socket";
import { parseJoinFragment } from "./net/token";
import { VideoClient } from "./rtc/video";
import { ServicesContext, type Services } from "./services";
import { createScoreStore, ScoreStoreContext } from "./store/scoreStore";
import "./styles.css";

declare global {
  interface Window {
    /** Profiling build only: the browser test's hooks. */
    __vigilOnScore?: (u: ScoreUpdate, applied: boolean) => void;
    __vigilOnIncident?: (r: IncidentRecord) => void;
    __vigilOnTick?: (changed: string[]) => void;
    __vigilServices?: Services;
  }
}

/** Coarse live decay: levels and rounded scores are re-derived this often. */
const DECAY_TICK_MS = 5000;
const PROFILING = import.meta.env.MODE === "profiling";

const root = createRoot(document.getElementById("root")!);
const join = parseJoinFragment(location.hash);

if ("error" in join) {
  root.render(
    <main className="refused" role="alert">
      <h1>Vigil</h1>
      <p className="refused__text">{join.error}</p>
    </main>,
  );
} else {
  const store = createScoreStore();
  const feed = new IncidentFeed();
  const history = new ScoreHistory();
  const identity = new IdentityQueue();
  const api = new Api(location.origin, join.exam, join.token);
  const socket: ProctorSocket = io(`${location.origin}${EVENTS.PROCTOR_NS}`, {
    auth: { token: join.token },
    transports: ["websocket"],
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  const tick = () => {
    const changed = store.tick(Date.now());
    if (PROFILING) window.__vigilOnTick?.(changed);
  };
  const connection = new Connection(socket, api, store, {
    onScore(u, applied) {
      if (applied) history.add(u.student_id, { t: u.as_of, score: u.score });
      if (PROFILING) window.__vigilOnScore?.(u, applied);
    },
    onIncident(r) {
      feed.upsert(r);
      if (PROFILING) window.__vigilOnIncident?.(r);
    },
    onSession(u) {
      identity.applySession(u);
    },
    onSnapshot(snapshot) {
      identity.loadSnapshot(snapshot);
      for (const id of store.ids()) {
        const t = store.getStudent(id)!;
        if (t.score.seq > 0) history.add(id, { t: t.score.as_of, score: t.score.score });
      }
      tick();
    },
  });
  setInterval(tick, DECAY_TICK_MS);
  const video = new VideoClient(socket);
  const chat = new ChatClient(socket, connection, api);
  const services: Services = { join, store, feed, history, api, connection, video, chat, identity };
  if (PROFILING) window.__vigilServices = services;

  root.render(
    <StrictMode>
      <ServicesContext value={services}>
        <ScoreStoreContext value={store}>
          <ChatStoreContext value={chat.store}>
            <App />
          </ChatStoreContext>
        </ScoreStoreContext>
      </ServicesContext>
    </StrictMode>,
  );
}
