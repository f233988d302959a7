import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { IncidentRecord, RecordingSegment } from "@proto";
import { KIND_LABEL, clock } from "../services";
import { errorText, retryRateLimited } from "../net/retry";
import { extent, fraction, locate, markers, momentOf, seekTargetFor, spans, type Span } from "../review/recording";

/** A request to play from a moment of the exam; a new object each time (the same moment may be asked twice). */
export interface SeekRequest {
  readonly at: number;
}

/** Segments kept as blob URLs: the one playing, the one after it (fetched ahead) and the one before. */
const KEEP_SEGMENTS = 3;

/**
 * Segment blobs by hash, fetched once each, at most `KEEP_SEGMENTS` kept
 * (a segment is a few megabytes); the oldest URL is revoked to make room.
 */
class SegmentUrls {
  private readonly urls = new Map<string, Promise<string>>();
  constructor(private readonly load: (sha256: string) => Promise<Blob>) {}

  get(sha256: string): Promise<string> {
    const had = this.urls.get(sha256);
    if (had) {
      // Most recently used last.
      this.urls.delete(sha256);
      this.urls.set(sha256, had);
      return had;
    }
    const url = this.load(sha256).then((b) => URL.createObjectURL(b));
    // A failed fetch is not kept: the next request tries again.
    url.catch(() => this.urls.get(sha256) === url && this.urls.delete(sha256));
    this.urls.set(sha256, url);
    while (this.urls.size > KEEP_SEGMENTS) {
      const [oldest, gone] = this.urls.entries().next().value!;
      this.urls.delete(oldest);
      void gone.then((u) => URL.revokeObjectURL(u), () => undefined);
    }
    return url;
  }

  clear() {
    for (const u of this.urls.values()) void u.then((url) => URL.revokeObjectURL(url), () => undefined);
    this.urls.clear();
  }
}

type Index = { kind: "loading" } | { kind: "error"; text: string } | { kind: "ok"; spans: Span[] };

/**
 * The student's recorded camera (privacy tier `recording`), played from
 * its segments with a timeline under it: the segments (gaps where the
 * camera was off or a segment was lost), the incidents as marks (a click
 * plays from just before one), and where the player is. Playback runs on
 * from one segment into the next. The segments need the Bearer header, so
 * each is fetched as a blob; the server audits who viewed them.
 */
export function RecordingPlayer({
  spans: all,
  incidents,
  loadSegment,
  seek,
  onSeek,
}: {
  spans: readonly Span[];
  incidents: readonly IncidentRecord[];
  loadSegment: (sha256: string) => Promise<Blob>;
  /** A moment to play from, asked from elsewhere on the page. */
  seek: SeekRequest | null;
  /** A click on a mark: the page hears of it (the incident becomes current). */
  onSeek: (incident: IncidentRecord) => void;
}) {
  const video = useRef<HTMLVideoElement>(null);
  const cache = useMemo(() => new SegmentUrls(loadSegment), [loadSegment]);
  useEffect(() => () => cache.clear(), [cache]);
  const [index, setIndex] = useState(0);
  const [src, setSrc] = useState<{ index: number; url: string } | null>(null);
  const [failed, setFailed] = useState<{ index: number; text: string } | null>(null);
  const [moment, setMoment] = useState<number | undefined>(all[0]?.start);
  /** Where to put the player once the segment's metadata is in, and whether to play. */
  const pending = useRef<{ offsetS: number; play: boolean } | null>(null);

  // The segment at `index` into the player; the next one fetched ahead.
  useEffect(() => {
    const s = all[index];
    if (!s) return;
    let live = true;
    cache.get(s.segment.sha256).then(
      (url) => {
        if (!live) return;
        setSrc({ index, url });
        const next = all[index + 1];
        if (next) cache.get(next.segment.sha256).catch(() => undefined);
      },
      (e: unknown) => live && setFailed({ index, text: errorText(e) }),
    );
    return () => {
      live = false;
    };
  }, [all, index, cache]);
  const error = failed?.index === index ? failed.text : null;

  /** Applies a pending position once the player can take it. */
  const applyPending = useCallback(() => {
    const v = video.current;
    const p = pending.current;
    if (!v || !p || v.readyState < HTMLMediaElement.HAVE_METADATA) return;
    pending.current = null;
    v.currentTime = p.offsetS;
    if (p.play) void v.play().catch(() => undefined);
  }, []);

  const go = useCallback(
    (at: number, play: boolean) => {
      const place = locate(all, at);
      if (!place) return;
      pending.current = { offsetS: place.offsetS, play };
      setMoment(momentOf(all, place.index, place.offsetS));
      if (place.index === src?.index) applyPending();
      else setIndex(place.index);
    },
    [all, src, applyPending],
  );

  const goRef = useRef(go);
  useEffect(() => {
    goRef.current = go;
  });
  useEffect(() => {
    if (seek) goRef.current(seek.at, true);
  }, [seek]);

  const ext = extent(all);
  const marks = useMemo(() => markers(all, incidents), [all, incidents]);
  const shown = src ? all[src.index] : undefined;
  return (
    <section className="rp" aria-label="Recording" data-moment={moment} data-segment={src?.index}>
      <h3>Recording</h3>
      <video
        ref={video}
        className="rp__video"
        src={src?.url}
        controls
        muted
        playsInline
        preload="auto"
        width={shown?.segment.width ?? 640}
        height={shown?.segment.height ?? 480}
        aria-label="The student's recorded camera"
        onLoadedMetadata={applyPending}
        onTimeUpdate={(e) => src && setMoment(momentOf(all, src.index, e.currentTarget.currentTime))}
        onEnded={() => {
          // On into the next segment, as one recording.
          const next = src ? all[src.index + 1] : undefined;
          if (next) go(next.start, true);
        }}
      />
      {error && (
        <p className="status status--error" role="alert">
          Could not load this part of the recording: {error}
        </p>
      )}
      {ext && (
        <div className="rp__timeline">
          <div className="rp__bar" role="group" aria-label="Recording timeline: click an incident to play from it">
            {all.map((s) => (
              <span
                key={s.segment.sha256}
                className="rp__segment"
                style={{ left: `${fraction(ext, s.start) * 100}%`, width: `${(fraction(ext, s.end) - fraction(ext, s.start)) * 100}%` }}
              />
            ))}
            {marks.map((m) => (
              <button
                key={m.incident.id}
                type="button"
                className={`rp__mark${m.recorded ? "" : " rp__mark--gap"}`}
                style={{ left: `${m.at * 100}%` }}
                data-incident={m.incident.id}
                title={`${KIND_LABEL[m.incident.kind] ?? m.incident.kind} at ${clock(m.incident.started_at)}${m.recorded ? "" : " (not recorded)"}`}
                aria-label={`Play from ${KIND_LABEL[m.incident.kind] ?? m.incident.kind} at ${clock(m.incident.started_at)}${m.recorded ? "" : " (not recorded: plays what came next)"}`}
                onClick={() => {
                  go(seekTargetFor(all, m.incident.started_at), true);
                  onSeek(m.incident);
                }}
              />
            ))}
            {moment !== undefined && <span className="rp__head" style={{ left: `${fraction(ext, moment) * 100}%` }} aria-hidden="true" />}
          </div>
          <p className="rp__times">
            <time>{clock(ext.from)}</time>
            <span className="rp__now">
              {moment !== undefined && (
                <>
                  Showing <time data-moment={moment}>{clock(moment)}</time>
                </>
              )}
            </span>
            <time>{clock(ext.to)}</time>
          </p>
        </div>
      )}
    </section>
  );
}

/**
 * The student's recording index for the review page, fetched when the exam
 * records (else nothing is asked: each read is audited). `load` changes
 * with the student.
 */
export function useRecordingIndex(records: boolean, load: () => Promise<RecordingSegment[]>): Index | null {
  // Keyed by the loader (one per student): another student's index is never shown as this one's.
  const [got, setGot] = useState<{ load: typeof load; index: Index } | null>(null);
  useEffect(() => {
    if (!records) return;
    let live = true;
    retryRateLimited(load).then(
      (segments) => live && setGot({ load, index: { kind: "ok", spans: spans(segments) } }),
      (e: unknown) => live && setGot({ load, index: { kind: "error", text: errorText(e) } }),
    );
    return () => {
      live = false;
    };
  }, [records, load]);
  if (!records) return null;
  return got?.load === load ? got.index : { kind: "loading" };
}
