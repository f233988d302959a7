/**
 * The identity checks waiting for a proctor: the students whose session is
 * in phase `identity_check`, from the snapshot and then the `session`
 * events (which the connection applies after the snapshot, in order, so the
 * last word on each student wins).
 *
 * Oldest first, by the server time of the change that put the student in
 * the queue: a session's `as_of` is the time of its latest change, which for
 * a student in `identity_check` is their submission (or a later change that
 * left them waiting, such as time added: close enough to keep the order).
 */
import { useSyncExternalStore } from "react";
import type { ExamSnapshot, SessionUpdate } from "@proto";
import type { Listener } from "../store/scoreStore";

export interface QueueItem {
  readonly id: string;
  /** Server time the student submitted (their session's latest change). */
  readonly since: number;
}

const NONE: readonly QueueItem[] = Object.freeze([]);

const order = (a: QueueItem, b: QueueItem) => a.since - b.since || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class IdentityQueue {
  private readonly byId = new Map<string, QueueItem>();
  private view: readonly QueueItem[] = NONE;
  private readonly listeners = new Set<Listener>();

  /** Waiting students, oldest first; the same array until the queue changes. */
  get = (): readonly QueueItem[] => this.view;

  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  /** The snapshot is authoritative: who waits is exactly who it says (keeping what is known of when). */
  loadSnapshot(snap: ExamSnapshot): void {
    const waiting = new Set<string>();
    for (const v of snap.students) {
      if (v.session.phase !== "identity_check") continue;
      const id = v.student.id;
      waiting.add(id);
      if (!this.byId.has(id)) this.byId.set(id, { id, since: v.session.as_of });
    }
    for (const id of [...this.byId.keys()]) if (!waiting.has(id)) this.byId.delete(id);
    this.changed();
  }

  /** A student's session changed: into the queue when it now waits, out of it otherwise. */
  applySession(u: SessionUpdate): void {
    const id = u.student_id;
    if (u.session.phase === "identity_check") {
      // Another change while still waiting (say, time added) does not move them back.
      if (this.byId.has(id)) return;
      this.byId.set(id, { id, since: u.session.as_of });
    } else if (!this.byId.delete(id)) {
      return;
    }
    this.changed();
  }

  private changed(): void {
    const next = [...this.byId.values()].sort(order);
    const same = next.length === this.view.length && next.every((x, i) => x === this.view[i]);
    if (same) return;
    this.view = next.length === 0 ? NONE : next;
    for (const l of [...this.listeners]) l();
  }
}

export function useIdentityQueue(queue: IdentityQueue): readonly QueueItem[] {
  return useSyncExternalStore(queue.subscribe, queue.get, queue.get);
}
