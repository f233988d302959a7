import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useStudentList } from "../store/scoreStore";
import { useConnectionStatus, useServices } from "../services";
import { ExamGrid } from "./ExamGrid";
import { AlertsFeed } from "./AlertsFeed";
import { StudentDrawer } from "./StudentDrawer";
import { WatchWall } from "./WatchWall";
import { SettingsPanel } from "./SettingsPanel";
import { IdentityQueuePanel } from "./IdentityQueuePanel";
import { AnnouncePanel } from "./AnnouncePanel";
import { useIdentityQueue } from "../identity/queue";
import { DEFAULT_CRITERIA, type ViewCriteria, sameOr, visibleIds } from "./view";
import type { ConnectionStatus } from "../net/connection";
import { LIVE, QUEUE } from "../review/route";
import { ReviewView } from "./Review";
import { hrefFor, useRoute } from "./useRoute";

function statusText(s: ConnectionStatus): string {
  switch (s.kind) {
    case "connecting": return "Connecting…";
    case "syncing": return "Loading the exam snapshot…";
    case "live": return "Live";
    case "reconnecting": return `Reconnecting… (${s.detail})`;
    case "refused": return `Access refused: ${s.detail}`;
  }
}

export function App() {
  const { store } = useServices();
  const status = useConnectionStatus();
  const route = useRoute();
  const { exam, roster, mayConfigure } = useStudentList();
  // `null` until the first snapshot: an instructor's first visit to an exam
  // nobody has joined and that has no assessment yet (a course's first
  // launch made it) opens on its settings.
  const [settingsOpen, setSettingsOpen] = useState<boolean | null>(null);
  if (settingsOpen === null && exam) setSettingsOpen(mayConfigure && roster.length === 0 && !exam.settings.assessment_url);
  const [criteria, setCriteria] = useState<ViewCriteria>(DEFAULT_CRITERIA);
  const [open, setOpen] = useState<string | null>(null);
  const [wallOn, setWallOn] = useState(true);
  const [identityOpen, setIdentityOpen] = useState(false);
  const [announceOpen, setAnnounceOpen] = useState(false);
  const openIdentity = useCallback(() => setIdentityOpen(true), []);
  const lastFocus = useRef<HTMLElement | null>(null);

  // Sorting by score follows score changes coarsely (every 2 s), not per update.
  const [sortTick, setSortTick] = useState(0);
  useEffect(() => {
    if (criteria.sort !== "score") return;
    const t = setInterval(() => setSortTick((x) => x + 1), 2000);
    return () => clearInterval(t);
  }, [criteria.sort]);
  const list = useStudentList();
  const computed = useMemo(
    () => visibleIds(store, roster, criteria),
    // `list` changes on roster, level and presence changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [store, list, criteria, sortTick],
  );
  // The grid re-renders on a new `ids` array: keep the previous one while the order is the same.
  const [ids, setIds] = useState<readonly string[]>(computed);
  if (ids !== computed && sameOr(ids, computed) !== ids) setIds(computed);

  const onOpen = useCallback((id: string) => {
    lastFocus.current = document.activeElement as HTMLElement | null;
    setOpen(id);
  }, []);
  const onClose = useCallback(() => {
    setOpen(null);
    const el = lastFocus.current;
    if (el && el.isConnected) el.focus();
  }, []);

  if (status.kind === "refused") {
    return (
      <main className="refused" role="alert">
        <h1>Vigil</h1>
        <p className="refused__text">{statusText(status)}</p>
        <p>Check that you opened the proctor link for this exam, and that it has not expired.</p>
      </main>
    );
  }

  const stale = status.kind !== "live";
  const set = (patch: Partial<ViewCriteria>) => setCriteria((c) => ({ ...c, ...patch }));

  return (
    <div className="app">
      <header className="top">
        <h1>
          Vigil <span className="top__exam">{exam?.title ?? ""}</span>
        </h1>
        <nav className="top__nav" aria-label="Pages">
          <a href={hrefFor(LIVE)} aria-current={route.view === "live" ? "page" : undefined}>
            Live
          </a>
          <a href={hrefFor(QUEUE)} aria-current={route.view === "review" ? "page" : undefined}>
            Review
          </a>
        </nav>
        <Counts />
        {exam && <IdentityButton checks={exam.settings.identity_check !== "off"} onOpen={openIdentity} />}
        {exam && (
          <button type="button" className="top__announce" onClick={() => setAnnounceOpen(true)}>
            Announce to all students
          </button>
        )}
        {mayConfigure && exam && (
          <button type="button" className="top__settings" onClick={() => setSettingsOpen(true)}>
            Exam settings
          </button>
        )}
        <p className={`conn conn--${status.kind}`} role="status" data-status={status.kind}>
          {statusText(status)}
        </p>
      </header>
      {route.view === "review" ? (
        // The review reads the stored record over HTTP: the socket's state does not concern it.
        <ReviewView route={route} />
      ) : (
        <>
          {stale && status.kind !== "connecting" && (
            <div className="banner" role="alert">
              {status.kind === "syncing" ? "Synchronising…" : "Disconnected — reconnecting."} Scores shown are not live
              until the snapshot is reloaded.
            </div>
          )}
          <div className="toolbar" role="search">
            <label>
              Search <input type="search" value={criteria.search} onChange={(e) => set({ search: e.target.value })} placeholder="name or id" />
            </label>
            <label>
              Sort
              <select value={criteria.sort} onChange={(e) => set({ sort: e.target.value as ViewCriteria["sort"] })}>
                <option value="name">Name</option>
                <option value="score">Score (highest first)</option>
              </select>
            </label>
            <label>
              Level
              <select value={criteria.level} onChange={(e) => set({ level: e.target.value as ViewCriteria["level"] })}>
                <option value="all">All</option>
                <option value="alert">◆ Alert</option>
                <option value="watch">▲ Watch</option>
                <option value="ok">● OK</option>
              </select>
            </label>
            <label>
              State
              <select value={criteria.presence} onChange={(e) => set({ presence: e.target.value as ViewCriteria["presence"] })}>
                <option value="all">All</option>
                <option value="live">Live</option>
                <option value="stalled">Stalled</option>
                <option value="offline">Offline</option>
              </select>
            </label>
            <label>
              <input type="checkbox" checked={wallOn} onChange={(e) => setWallOn(e.target.checked)} /> Watch wall
            </label>
            <span className="toolbar__shown">{ids.length} shown</span>
          </div>
          {wallOn && <WatchWall onOpen={onOpen} />}
          <div className="body">
            {exam ? <ExamGrid ids={ids} onOpen={onOpen} stale={stale} /> : <p className="status grid-scroll">Waiting for the exam snapshot…</p>}
            <AlertsFeed onOpen={onOpen} />
          </div>
          {open && <StudentDrawer id={open} onClose={onClose} />}
        </>
      )}
      {settingsOpen && exam && <SettingsPanel exam={exam} onClose={() => setSettingsOpen(false)} />}
      {identityOpen && <IdentityQueuePanel onClose={() => setIdentityOpen(false)} />}
      {announceOpen && <AnnouncePanel onClose={() => setAnnounceOpen(false)} />}
    </div>
  );
}

/**
 * The way to the identity queue, with how many wait. Shown when the exam
 * checks identity, or while anyone waits (the check was just switched off).
 */
const IdentityButton = memo(function IdentityButton({ checks, onOpen }: { checks: boolean; onOpen: () => void }) {
  const { identity } = useServices();
  const waiting = useIdentityQueue(identity).length;
  if (!checks && waiting === 0) return null;
  return (
    <button
      type="button"
      className={`top__identity${waiting > 0 ? " top__identity--waiting" : ""}`}
      onClick={onOpen}
      aria-label={`Identity checks: ${waiting} waiting`}
    >
      ▣ Identity checks <span className="top__badge" data-count="identity">{waiting}</span>
    </button>
  );
});

/** The header counts: re-renders on list changes only, not the rest of the page. */
const Counts = memo(function Counts() {
  const { counts } = useStudentList();
  return (
    <dl className="counts" aria-label="Counts">
        <div><dt>Present</dt><dd data-count="present">{counts.present}</dd></div>
        <div><dt>Stalled</dt><dd data-count="stalled">{counts.stalled}</dd></div>
        <div><dt>Offline</dt><dd data-count="offline">{counts.offline}</dd></div>
        <div className="counts--alert"><dt>◆ In alert</dt><dd data-count="alert">{counts.alert}</dd></div>
        <div className="counts--watch"><dt>▲ Watch</dt><dd data-count="watch">{counts.watch}</dd></div>
        <div><dt>Students</dt><dd data-count="total">{counts.total}</dd></div>
    </dl>
  );
});
