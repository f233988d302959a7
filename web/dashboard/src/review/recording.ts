/**
 * A student's recording as the review page plays it, apart from React:
 * the segments from `GET …/students/{s}/recording` (each a WebM file of
 * about a minute, placed in wall-clock time by `started_at`) on one
 * timeline with the incidents, and where in which segment a moment of the
 * exam is.
 */
import type { IncidentRecord, RecordingSegment } from "@proto";

/** A segment's place on the exam's clock, in ms. */
export interface Span {
  readonly segment: RecordingSegment;
  readonly start: number;
  readonly end: number;
}

/** The segments oldest first, each with its end (a segment never overlaps the next one's start). */
export function spans(segments: readonly RecordingSegment[]): Span[] {
  const sorted = [...segments].sort((a, b) => a.started_at - b.started_at);
  return sorted.map((segment, i) => {
    const next = sorted[i + 1];
    const end = segment.started_at + segment.duration_ms;
    return { segment, start: segment.started_at, end: next ? Math.min(end, Math.max(next.started_at, segment.started_at)) : end };
  });
}

/** Where a moment is played from: which segment, and how far into it (seconds). */
export interface Place {
  readonly index: number;
  readonly offsetS: number;
}

/**
 * The segment that shows moment `at`, and the offset in it. A moment in a
 * gap (the camera was off, a segment was lost) plays from the next
 * segment's start; a moment before the first, from the first; after the
 * last, nothing.
 */
export function locate(all: readonly Span[], at: number): Place | undefined {
  for (let i = 0; i < all.length; i++) {
    const s = all[i]!;
    if (at < s.start) return { index: i, offsetS: 0 };
    if (at < s.end) return { index: i, offsetS: (at - s.start) / 1000 };
  }
  return undefined;
}

/** The exam-clock moment shown at `currentTimeS` into segment `index`. */
export function momentOf(all: readonly Span[], index: number, currentTimeS: number): number | undefined {
  const s = all[index];
  return s ? Math.min(s.start + currentTimeS * 1000, s.end) : undefined;
}

/** Whether the recording shows moment `at` (it is inside a segment, not a gap). */
export function covers(all: readonly Span[], at: number): boolean {
  return all.some((s) => at >= s.start && at < s.end);
}

/** The recording's extent: from its first segment's start to its last one's end. */
export function extent(all: readonly Span[]): { from: number; to: number } | undefined {
  const first = all[0];
  const last = all.at(-1);
  return first && last ? { from: first.start, to: last.end } : undefined;
}

/** Where `at` falls along the extent, 0–1 (clamped). */
export function fraction(ext: { from: number; to: number }, at: number): number {
  const len = ext.to - ext.from;
  if (len <= 0) return 0;
  return Math.min(1, Math.max(0, (at - ext.from) / len));
}

/** An incident on the recording's timeline. */
export interface Marker {
  readonly incident: IncidentRecord;
  /** 0–1 along the extent. */
  readonly at: number;
  /** Whether the recording shows its start (else it fell in a gap). */
  readonly recorded: boolean;
}

/** The incidents that started within the recording's extent, oldest first. */
export function markers(all: readonly Span[], incidents: readonly IncidentRecord[]): Marker[] {
  const ext = extent(all);
  if (!ext) return [];
  return incidents
    .filter((i) => i.started_at >= ext.from && i.started_at <= ext.to)
    .sort((a, b) => a.started_at - b.started_at)
    .map((incident) => ({ incident, at: fraction(ext, incident.started_at), recorded: covers(all, incident.started_at) }));
}

/**
 * How far before an incident playback starts when it is clicked: what
 * led up to it is part of what a reviewer judges.
 */
export const LEAD_IN_MS = 2_000;

/**
 * Where to play from for an incident: a little before its start, but not
 * before the segment that shows the start (a lead-in across a gap would
 * play the previous segment's end instead).
 */
export function seekTargetFor(all: readonly Span[], startedAt: number): number {
  const holder = all.find((s) => startedAt >= s.start && startedAt < s.end);
  const lead = startedAt - LEAD_IN_MS;
  return holder ? Math.max(holder.start, lead) : startedAt;
}
