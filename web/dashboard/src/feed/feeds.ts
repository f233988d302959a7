/**
 * Small per-frame stores beside the score store: the alerts feed and the
 * per-student score history. Both notify at most once per animation frame.
 */
import { useCallback, useSyncExternalStore } from "react";
import type { IncidentRecord } from "@proto";
import { animationFrame, type FrameScheduler, type Listener } from "../store/scoreStore";

class FrameNotifier {
  private readonly listeners = new Set<Listener>();
  private pending = false;
  constructor(private readonly schedule: FrameScheduler) {}
  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  changed(): void {
    if (this.pending) return;
    this.pending = true;
    this.schedule(() => {
      this.pending = false;
      for (const l of [...this.listeners]) l();
    });
  }
}

export interface FeedItem {
  readonly record: IncidentRecord;
  readonly acknowledged: boolean;
}

export interface FeedView {
  readonly items: readonly FeedItem[];
  readonly unacknowledged: number;
}

/** Feed redraws at most this often: a list for people, not a per-frame view. */
export const FEED_INTERVAL_MS = 250;

/** Leading edge, then at most once per `ms`, each time at a frame. */
export function throttledFrames(ms: number, frame: FrameScheduler = animationFrame): FrameScheduler {
  let lastRun = -Infinity;
  return (cb) => {
    const run = () =>
      frame(() => {
        lastRun = Date.now();
        cb();
      });
    const wait = lastRun + ms - Date.now();
    if (wait <= 0) run();
    else setTimeout(run, wait);
  };
}

/** New incidents, newest first, upserted by id; the proctor acknowledges them. */
export class IncidentFeed {
  private items: FeedItem[] = [];
  private readonly byId = new Map<string, FeedItem>();
  private unacked = 0;
  private stale = false;
  private view: FeedView = { items: [], unacknowledged: 0 };
  private readonly notifier: FrameNotifier;
  constructor(
    private readonly cap = 200,
    schedule: FrameScheduler = throttledFrames(FEED_INTERVAL_MS),
  ) {
    this.notifier = new FrameNotifier(schedule);
  }
  subscribe = (l: Listener) => this.notifier.subscribe(l);
  get = (): FeedView => {
    if (this.stale) {
      this.view = { items: this.items, unacknowledged: this.unacked };
      this.stale = false;
    }
    return this.view;
  };

  /** Adds a new incident or updates a known one (it ended, got evidence). */
  upsert(record: IncidentRecord): void {
    const prev = this.byId.get(record.id);
    if (prev) {
      // Rare (an end or evidence): a scan of at most `cap` items.
      const i = this.items.indexOf(prev);
      const next = { ...prev, record };
      this.byId.set(record.id, next);
      if (i >= 0) {
        this.items = this.items.slice();
        this.items[i] = next;
      }
    } else {
      const item: FeedItem = { record, acknowledged: false };
      this.byId.set(record.id, item);
      this.unacked++;
      this.items = [item, ...this.items];
      while (this.items.length > this.cap) {
        const gone = this.items.pop()!;
        this.byId.delete(gone.record.id);
        if (!gone.acknowledged) this.unacked--;
      }
    }
    this.update();
  }

  acknowledge(id: string): void {
    const prev = this.byId.get(id);
    if (!prev || prev.acknowledged) return;
    const next = { ...prev, acknowledged: true };
    this.byId.set(id, next);
    this.items = this.items.map((x) => (x === prev ? next : x));
    this.unacked--;
    this.update();
  }

  acknowledgeAll(): void {
    this.items = this.items.map((x) => {
      if (x.acknowledged) return x;
      const next = { ...x, acknowledged: true };
      this.byId.set(x.record.id, next);
      return next;
    });
    this.unacked = 0;
    this.update();
  }

  /** The view is built lazily, once per notification, not per incident. */
  private update(): void {
    this.stale = true;
    this.notifier.changed();
  }
}

export interface ScorePoint {
  readonly t: number;
  readonly score: number;
}

/** One shared empty history: `useSyncExternalStore` needs a stable snapshot, or it re-renders forever. */
const NO_POINTS: readonly ScorePoint[] = Object.freeze([]);

/** Score points per student from the updates this page received. */
export class ScoreHistory {
  private readonly points = new Map<string, readonly ScorePoint[]>();
  private readonly notifiers = new Map<string, FrameNotifier>();
  constructor(
    private readonly cap = 300,
    private readonly schedule: FrameScheduler = animationFrame,
  ) {}
  get = (id: string): readonly ScorePoint[] => this.points.get(id) ?? NO_POINTS;
  subscribe(id: string, l: Listener): () => void {
    let n = this.notifiers.get(id);
    if (!n) this.notifiers.set(id, (n = new FrameNotifier(this.schedule)));
    return n.subscribe(l);
  }
  add(id: string, point: ScorePoint): void {
    const prev = this.points.get(id) ?? [];
    const last = prev[prev.length - 1];
    if (last && last.t === point.t && last.score === point.score) return;
    const next = [...prev, point];
    if (next.length > this.cap) next.splice(0, next.length - this.cap);
    this.points.set(id, next);
    this.notifiers.get(id)?.changed();
  }
}

export function useFeed(feed: IncidentFeed): FeedView {
  return useSyncExternalStore(feed.subscribe, feed.get, feed.get);
}

export function useHistory(history: ScoreHistory, id: string): readonly ScorePoint[] {
  const sub = useCallback((l: Listener) => history.subscribe(id, l), [history, id]);
  const get = useCallback(() => history.get(id), [history, id]);
  return useSyncExternalStore(sub, get, get);
}
