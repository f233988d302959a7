/**
 * The dashboard's live state: one tile per student, kept outside React.
 *
 * Why an external store: an exam can have 1,000 students whose scores change
 * several times a second. Keeping them in React state would re-render the
 * whole grid on every update. Here each tile subscribes to its own student
 * (`subscribe(id, …)` / {@link useStudent}), so one score update re-renders
 * exactly one tile, and the grid itself subscribes only to list-level
 * changes (`subscribeList`: roster, levels, presence counts).
 *
 * Rules the store enforces:
 *
 * - **Snapshots are authoritative.** {@link ScoreStore.loadSnapshot} replaces
 *   everything (at start and after every reconnect). Tiles whose content did
 *   not change keep their object, so they do not re-render.
 * - **Sequence order.** A score update is applied only if its `seq` is
 *   greater than the stored one for that student (from the snapshot or an
 *   earlier update); equal or lower is a duplicate or out of order and is
 *   dropped. Presence and quality updates carry only a time, so they are
 *   dropped when older than the last one applied (or than the snapshot).
 * - **Immutable tiles.** A change makes a new {@link StudentTile}; otherwise
 *   {@link ScoreStore.getStudent} returns the same reference, which is what
 *   `useSyncExternalStore` needs to avoid render loops.
 * - **Per-frame notification.** State changes at once (a read always sees
 *   the latest value), but listeners are told once per animation frame: the
 *   first change of a burst schedules a frame (never more than one frame of
 *   delay), later changes in the same frame only mark their key dirty. At
 *   the frame each dirty key's listeners run once, then list listeners once.
 * - **Incremental counts.** Presence and level counts are adjusted by the
 *   difference between a student's old and new tile, never by a scan.
 */
import { createContext, useCallback, useContext, useSyncExternalStore } from "react";
import type {
  Accommodations,
  Exam,
  ExamSnapshot,
  IncidentRecord,
  Level,
  Presence,
  PresenceUpdate,
  Quality,
  QualityUpdate,
  ScoreUpdate,
  ScoreView,
  ScoringRules,
  SessionPhase,
  SessionUpdate,
  Student,
  StudentView,
} from "@proto";

// ---------------------------------------------------------------------------
// Types

/** Everything one tile shows. Never mutated: a change makes a new object. */
export interface StudentTile {
  readonly student: Student;
  /** The server's score at `score.as_of`; see {@link currentScore} for decay. */
  readonly score: ScoreView;
  readonly presence: Presence;
  readonly quality: Quality;
  /** Where the student's exam session is (the server's word). */
  readonly session: SessionPhase;
  /** Extra time, detectors off and the proctors' note, if set. */
  readonly accommodations: Accommodations | undefined;
  readonly lastIncident: IncidentRecord | undefined;
  /**
   * What the tile shows: the decayed score rounded to one decimal and its
   * level. Set to the server's values on every update and snapshot, and
   * re-derived by {@link ScoreStore.tick}; a tick makes a new tile only when
   * one of these two changes, so unchanged tiles do not re-render.
   */
  readonly shown: Shown;
}

export interface Shown {
  readonly score: number;
  readonly level: Level;
}

/** Rounded like the tile prints it, so a tick compares what is visible. */
export const roundScore = (x: number): number => Math.round(x * 10) / 10;

const shownOf = (v: ScoreView): Shown => ({ score: roundScore(v.score), level: v.level });

/** Aggregates for the header, kept up to date incrementally. */
export interface Counts {
  readonly total: number;
  /** Presence `live`. */
  readonly present: number;
  readonly stalled: number;
  readonly offline: number;
  /** By the server-reported level (at the last update's `as_of`). */
  readonly ok: number;
  readonly watch: number;
  readonly alert: number;
}

/** What the grid renders from; a new object only when one of these changes. */
export interface ListView {
  readonly exam: Exam | undefined;
  /** This proctor may change the exam's settings (from the snapshot). */
  readonly mayConfigure: boolean;
  /** Student ids in snapshot order: stable tile positions. */
  readonly roster: readonly string[];
  /** Alert first, then watch, then ok; roster order within a level. */
  readonly byLevel: readonly string[];
  readonly counts: Counts;
}

export type Listener = () => void;

/**
 * Runs `callback` once, at the next frame. The default is
 * `requestAnimationFrame`; tests pass their own and run frames by hand.
 */
export type FrameScheduler = (callback: () => void) => void;

export interface ScoreStoreOptions {
  schedule?: FrameScheduler;
}

/** `requestAnimationFrame` where there is one, else a ~60 Hz timer. */
export const animationFrame: FrameScheduler = (callback) => {
  if (typeof requestAnimationFrame === "function") {
    requestAnimationFrame(() => callback());
  } else {
    setTimeout(callback, 16);
  }
};

// ---------------------------------------------------------------------------
// Pure helpers

/**
 * The score at `nowMs`, decayed from the server's value at `view.as_of`:
 * `score · 2^(−(now − as_of) / (halfLife · 1000))`. Like the server, it never
 * extrapolates backwards: before `as_of` it is the value at `as_of`.
 */
export function currentScore(
  view: Pick<ScoreView, "score" | "as_of">,
  halfLifeS: number,
  nowMs: number,
): number {
  const dt = nowMs - view.as_of;
  if (!(dt > 0) || !(halfLifeS > 0)) return view.score;
  return view.score * 2 ** (-dt / (halfLifeS * 1000));
}

/** The level for `score`; thresholds are inclusive, as on the server. */
export function levelFor(score: number, rules: Pick<ScoringRules, "watch_at" | "alert_at">): Level {
  if (score >= rules.alert_at) return "alert";
  if (score >= rules.watch_at) return "watch";
  return "ok";
}

// ---------------------------------------------------------------------------
// The store

interface Entry {
  tile: StudentTile;
  /** Server time of the last presence / quality applied (or the snapshot). */
  presenceAt: number;
  qualityAt: number;
}

type MutableCounts = { -readonly [K in keyof Counts]: Counts[K] };

const zeroCounts = (): MutableCounts => ({ total: 0, present: 0, stalled: 0, offline: 0, ok: 0, watch: 0, alert: 0 });

const PRESENCE_COUNT: Record<Presence, "present" | "stalled" | "offline"> = {
  live: "present",
  stalled: "stalled",
  offline: "offline",
};

function count(c: MutableCounts, tile: StudentTile, sign: 1 | -1): void {
  c.total += sign;
  c[PRESENCE_COUNT[tile.presence]] += sign;
  c[tile.shown.level] += sign;
}

function tileFrom(v: StudentView): StudentTile {
  return {
    student: v.student,
    score: v.score,
    presence: v.presence,
    quality: v.quality,
    session: v.session.phase,
    accommodations: v.accommodations,
    lastIncident: v.last_incident,
    shown: shownOf(v.score),
  };
}

/** Equality of flat records (all our wire objects are flat). */
function shallowEqual<T extends object>(a: T | undefined, b: T | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  const ka = Object.keys(a) as (keyof T)[];
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

function sameTile(a: StudentTile, b: StudentTile): boolean {
  return (
    a.presence === b.presence &&
    a.quality === b.quality &&
    a.session === b.session &&
    a.accommodations === b.accommodations &&
    shallowEqual(a.student, b.student) &&
    shallowEqual(a.shown, b.shown) &&
    shallowEqual(a.score, b.score) &&
    shallowEqual(a.lastIncident, b.lastIncident)
  );
}

export class ScoreStore {
  private entries = new Map<string, Entry>();
  private roster: string[] = [];
  private exam: Exam | undefined;
  private mayConfigure = false;
  private readonly counts = zeroCounts();

  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly listListeners = new Set<Listener>();

  /** Keys changed since the last flush. */
  private readonly dirty = new Set<string>();
  /** Something list-visible changed since the last flush. */
  private listDirty = false;
  /** The cached list view no longer matches the state. */
  private listStale = true;
  private listView: ListView | undefined;

  /** Non-zero while a frame is scheduled; identifies that frame. */
  private pendingFrame = 0;
  private frameCounter = 0;
  private readonly schedule: FrameScheduler;

  constructor(options: ScoreStoreOptions = {}) {
    this.schedule = options.schedule ?? animationFrame;
  }

  // --- reads -------------------------------------------------------------

  /** The student's tile; the same object until that student changes. */
  getStudent(id: string): StudentTile | undefined {
    return this.entries.get(id)?.tile;
  }

  /** Roster, ordering and counts; the same object until one of them changes. */
  getList(): ListView {
    if (this.listStale || !this.listView) {
      const buckets: Record<Level, string[]> = { alert: [], watch: [], ok: [] };
      for (const id of this.roster) {
        buckets[this.entries.get(id)!.tile.shown.level].push(id);
      }
      this.listView = {
        exam: this.exam,
        mayConfigure: this.mayConfigure,
        roster: this.roster,
        byLevel: [...buckets.alert, ...buckets.watch, ...buckets.ok],
        counts: { ...this.counts },
      };
      this.listStale = false;
    }
    return this.listView;
  }

  // --- subscriptions -----------------------------------------------------

  /** Listens to one student; returns the unsubscribe function. */
  subscribe(id: string, listener: Listener): () => void {
    let set = this.listeners.get(id);
    if (!set) {
      set = new Set();
      this.listeners.set(id, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(id) === set) this.listeners.delete(id);
    };
  }

  /** Listens to roster, level-order and count changes. */
  subscribeList(listener: Listener): () => void {
    this.listListeners.add(listener);
    return () => {
      this.listListeners.delete(listener);
    };
  }

  // --- writes ------------------------------------------------------------

  /** Replaces all state with `snapshot` (start, and after every reconnect). */
  loadSnapshot(snapshot: ExamSnapshot): void {
    const next = new Map<string, Entry>();
    const roster: string[] = [];
    const old = this.entries;
    Object.assign(this.counts, zeroCounts());
    for (const view of snapshot.students) {
      const id = view.student.id;
      if (next.has(id)) continue; // a repeated id: the first one wins
      const prev = old.get(id)?.tile;
      const fresh = tileFrom(view);
      const tile = prev && sameTile(prev, fresh) ? prev : fresh;
      if (tile !== prev) this.markDirty(id);
      next.set(id, { tile, presenceAt: snapshot.server_time, qualityAt: snapshot.server_time });
      roster.push(id);
      count(this.counts, tile, 1);
    }
    for (const id of old.keys()) {
      if (!next.has(id)) this.markDirty(id);
    }
    this.entries = next;
    this.roster = roster;
    this.exam = snapshot.exam;
    this.mayConfigure = snapshot.may_configure;
    this.markListChanged();
  }

  /**
   * A student added to the roster after the snapshot, or whose
   * accommodations changed (the `student` event): a tile at the end of the
   * roster. For one already known only the accommodations are taken (the
   * snapshot, or a score update since, knows better about the rest).
   */
  addStudent(view: StudentView): boolean {
    const id = view.student.id;
    const known = this.entries.get(id);
    if (known) {
      if (known.tile.accommodations !== view.accommodations) {
        this.replace(id, known, { ...known.tile, accommodations: view.accommodations });
      }
      return false;
    }
    const tile = tileFrom(view);
    this.entries.set(id, { tile, presenceAt: 0, qualityAt: 0 });
    this.roster = [...this.roster, id];
    count(this.counts, tile, 1);
    this.markDirty(id);
    this.markListChanged();
    return true;
  }

  /** The exam after its settings changed (the `exam` event). */
  applyExam(exam: Exam): void {
    if (this.exam && exam.id !== this.exam.id) return;
    this.exam = exam;
    this.markListChanged();
  }

  /**
   * Applies a score update unless it is stale (`seq` not above the stored
   * one) or for a student not in the roster. Returns whether it was applied.
   */
  applyScore(update: ScoreUpdate): boolean {
    const entry = this.entries.get(update.student_id);
    if (!entry || !(update.seq > entry.tile.score.seq)) return false;
    const score: ScoreView = { seq: update.seq, score: update.score, level: update.level, as_of: update.as_of };
    this.replace(update.student_id, entry, { ...entry.tile, score, shown: shownOf(score) });
    return true;
  }

  /**
   * Live decay: re-derives every student's shown score and level at
   * `nowMs` from the exam's half-life and thresholds. Only students whose
   * rounded score or level changed get a new tile (and a notification), so
   * a coarse periodic tick re-renders only tiles that visibly change.
   * Returns the ids of the students whose tile changed.
   */
  tick(nowMs: number): string[] {
    const rules = this.exam?.settings.scoring;
    if (!rules) return [];
    const changed: string[] = [];
    for (const [id, entry] of this.entries) {
      const t = entry.tile;
      const value = roundScore(currentScore(t.score, rules.half_life_s, nowMs));
      const level = levelFor(value, rules);
      if (value !== t.shown.score || level !== t.shown.level) {
        this.replace(id, entry, { ...t, shown: { score: value, level } });
        changed.push(id);
      }
    }
    return changed;
  }

  /** Every student id whose tile currently exists (roster order). */
  ids(): readonly string[] {
    return this.roster;
  }

  /**
   * Applies a presence change unless it is older than the last one applied
   * (or the snapshot). Returns whether it was accepted.
   */
  applyPresence(update: PresenceUpdate): boolean {
    const entry = this.entries.get(update.student_id);
    if (!entry || !(update.at >= entry.presenceAt)) return false;
    entry.presenceAt = update.at;
    if (entry.tile.presence !== update.presence) {
      this.replace(update.student_id, entry, { ...entry.tile, presence: update.presence });
    }
    return true;
  }

  /** A student's session changed (the `session` event): their tile shows it. */
  applySession(update: SessionUpdate): boolean {
    const entry = this.entries.get(update.student_id);
    if (!entry) return false;
    if (entry.tile.session !== update.session.phase) {
      this.replace(update.student_id, entry, { ...entry.tile, session: update.session.phase });
    }
    return true;
  }

  /** Like {@link applyPresence}, for camera quality. */
  applyQuality(update: QualityUpdate): boolean {
    const entry = this.entries.get(update.student_id);
    if (!entry || !(update.at >= entry.qualityAt)) return false;
    entry.qualityAt = update.at;
    if (entry.tile.quality !== update.quality) {
      this.replace(update.student_id, entry, { ...entry.tile, quality: update.quality });
    }
    return true;
  }

  /**
   * Records `record` as the student's last incident, unless an incident
   * accepted later is already shown. A record with the shown incident's id
   * replaces it (e.g. now with `ended_at` or evidence). Returns whether it
   * was accepted.
   */
  applyIncident(record: IncidentRecord): boolean {
    const entry = this.entries.get(record.student_id);
    if (!entry) return false;
    const cur = entry.tile.lastIncident;
    if (cur && cur.id !== record.id && !(record.accepted_at >= cur.accepted_at)) return false;
    if (!shallowEqual(cur, record)) {
      this.replace(record.student_id, entry, { ...entry.tile, lastIncident: record });
    }
    return true;
  }

  /**
   * Notifies now instead of at the next frame (and cancels that frame's
   * notification). For tests and for teardown; the UI never needs it.
   */
  flush(): void {
    this.pendingFrame = 0;
    const keys = [...this.dirty];
    this.dirty.clear();
    const list = this.listDirty;
    this.listDirty = false;

    let failure: { error: unknown } | undefined;
    const call = (l: Listener) => {
      try {
        l();
      } catch (error) {
        failure ??= { error };
      }
    };
    for (const id of keys) {
      const set = this.listeners.get(id);
      if (set) [...set].forEach(call);
    }
    if (list) [...this.listListeners].forEach(call);
    if (failure) throw failure.error;
  }

  // --- internals ---------------------------------------------------------

  private replace(id: string, entry: Entry, tile: StudentTile): void {
    const old = entry.tile;
    count(this.counts, old, -1);
    count(this.counts, tile, 1);
    entry.tile = tile;
    this.markDirty(id);
    if (old.presence !== tile.presence || old.shown.level !== tile.shown.level) this.markListChanged();
  }

  private markDirty(id: string): void {
    this.dirty.add(id);
    this.requestFrame();
  }

  private markListChanged(): void {
    this.listStale = true;
    this.listDirty = true;
    this.requestFrame();
  }

  /** Leading edge: the first change after a flush schedules the next frame. */
  private requestFrame(): void {
    if (this.pendingFrame !== 0) return;
    const frame = ++this.frameCounter;
    this.pendingFrame = frame;
    this.schedule(() => {
      // A manual flush() in between already delivered this frame's changes.
      if (this.pendingFrame === frame) this.flush();
    });
  }
}

export function createScoreStore(options?: ScoreStoreOptions): ScoreStore {
  return new ScoreStore(options);
}

// ---------------------------------------------------------------------------
// React bindings

/** Provides the store to {@link useStudent} and {@link useStudentList}. */
export const ScoreStoreContext = createContext<ScoreStore | null>(null);

export function useScoreStore(): ScoreStore {
  const store = useContext(ScoreStoreContext);
  if (!store) throw new Error("useScoreStore: no ScoreStoreContext provider above this component");
  return store;
}

/** One student's tile; re-renders only when that student changes. */
export function useStudent(id: string): StudentTile | undefined {
  const store = useScoreStore();
  const subscribe = useCallback((l: Listener) => store.subscribe(id, l), [store, id]);
  const get = useCallback(() => store.getStudent(id), [store, id]);
  return useSyncExternalStore(subscribe, get, get);
}

/** Roster, order and counts; re-renders only when one of them changes. */
export function useStudentList(): ListView {
  const store = useScoreStore();
  const subscribe = useCallback((l: Listener) => store.subscribeList(l), [store]);
  const get = useCallback(() => store.getList(), [store]);
  return useSyncExternalStore(subscribe, get, get);
}
