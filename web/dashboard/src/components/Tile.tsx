import { Profiler, memo } from "react";
import type { Level, Presence, Quality, SessionPhase } from "@proto";
import { useStudent } from "../store/scoreStore";
import { useUnread } from "../chat/chatStore";
import { KIND_LABEL, clock } from "../services";

/** Levels and presence are always spelled out with a shape: colour is never the only cue. */
export const LEVEL_LABEL: Record<Level, string> = { ok: "OK", watch: "Watch", alert: "Alert" };
export const LEVEL_ICON: Record<Level, string> = { ok: "●", watch: "▲", alert: "◆" };
export const PRESENCE_LABEL: Record<Presence, string> = { live: "Live", stalled: "Stalled", offline: "Offline" };
export const PRESENCE_ICON: Record<Presence, string> = { live: "◉", stalled: "◐", offline: "○" };
export const QUALITY_LABEL: Record<Quality, string> = {
  good: "Detection good",
  unknown: "Detection unknown",
  low_light: "Low light",
  low_confidence: "Low confidence",
};

/**
 * The session as a tile says it, on the name's line (where it is not cut
 * off); taking the exam says nothing (it is the usual case). An identity
 * check waiting for a proctor is drawn as a dark badge: it needs someone.
 */
export const SESSION_LABEL: Record<SessionPhase, string> = {
  waiting: "Not started",
  identity_check: "▣ ID check",
  ready: "▷ Ready",
  in_progress: "",
  paused: "⏸ Paused",
  on_break: "◔ On break",
  submitted: "✓ Handed in",
  terminated: "■ Terminated",
  expired: "⌛ Time up",
};

/** "1 unread message", "3 unread messages". */
export const unreadText = (n: number): string => `${n} unread message${n === 1 ? "" : "s"}`;

export interface TileProps {
  id: string;
  /** Roving tab index: 0 for the grid's focused tile, else -1. */
  tabIndex?: number;
  /** Position in the current (filtered, sorted) order, for keyboard focus. */
  index?: number;
  onOpen?: (id: string) => void;
}

/**
 * One student. Reads only its own student from the store, and is memoised
 * on its props, so neither other students' updates nor a grid re-render touch it.
 */
export const Tile = memo(function Tile({ id, tabIndex, index, onOpen }: TileProps) {
  const s = useStudent(id);
  const unread = useUnread(id);
  if (!s) return null;
  const { level, score } = s.shown;
  const inc = s.lastIncident;
  return (
    <article
      className={`tile tile--${level} tile--${s.presence} tile--session-${s.session}`}
      data-student={id}
      data-index={index}
      role="gridcell"
      tabIndex={tabIndex}
      aria-label={`${s.student.name}: ${LEVEL_LABEL[level]} ${score.toFixed(1)}, ${PRESENCE_LABEL[s.presence]}${SESSION_LABEL[s.session] ? `, ${SESSION_LABEL[s.session]}` : ""}${unread ? `, ${unreadText(unread)}` : ""}`}
      onClick={onOpen && (() => onOpen(id))}
      onKeyDown={
        onOpen &&
        ((e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            onOpen(id);
          }
        })
      }
    >
      <div className="tile__head">
        <h3 className="tile__name">{s.student.name}</h3>
        {unread > 0 && (
          <span className="tile__chat" title={unreadText(unread)}>
            ✉ {unread}
          </span>
        )}
        {SESSION_LABEL[s.session] && <span className={`tile__session tile__session--${s.session}`}>{SESSION_LABEL[s.session]}</span>}
      </div>
      <p className="tile__score">
        <span className="tile__level">
          <span aria-hidden="true">{LEVEL_ICON[level]}</span> {LEVEL_LABEL[level]}
        </span>{" "}
        <span className="tile__value">{score.toFixed(1)}</span>
      </p>
      <p className="tile__presence">
        <span aria-hidden="true">{PRESENCE_ICON[s.presence]}</span> {PRESENCE_LABEL[s.presence]}
        {s.presence !== "offline" && <span className={`tile__quality tile__quality--${s.quality}`}> · {QUALITY_LABEL[s.quality]}</span>}
      </p>
      <p className="tile__incident">
        {inc ? (
          <>
            {KIND_LABEL[inc.kind] ?? inc.kind} <time>{clock(inc.started_at)}</time>
          </>
        ) : (
          "No incidents"
        )}
      </p>
    </article>
  );
});

declare global {
  interface Window {
    /** Set by the profiling browser test; called for each tile commit. */
    __vigilOnRender?: (id: string, phase: string, actualDuration: number, commitTime: number) => void;
  }
}

const onRender = (id: string, phase: string, actualDuration: number, _base: number, _start: number, commitTime: number) =>
  window.__vigilOnRender?.(id, phase, actualDuration, commitTime);

/** In the profiling build, each tile sits in its own `<Profiler id={student}>`. */
export const GridTile = memo(function GridTile(props: TileProps) {
  if (import.meta.env.MODE === "profiling") {
    return (
      <Profiler id={props.id} onRender={onRender}>
        <Tile {...props} />
      </Profiler>
    );
  }
  return <Tile {...props} />;
});
