import { useEffect, useRef, useState } from "react";
import { errorText } from "../net/retry";

/** A blob URL and the blob's type (`image/jpeg`, or `audio/wav` for a sound clip). */
type Loaded = { url: string; type: string } | { error: string } | null;

/**
 * Media the API serves only with the Bearer header (evidence frames and
 * sound clips, identity photos), so an `<img src>` cannot fetch it: fetched
 * as a blob and shown from a blob URL, which is revoked when the element
 * goes, or when `cacheKey` changes. `cacheKey` null: not yet (off screen).
 */
export function useBlobUrl(cacheKey: string | null, load: () => Promise<Blob>): Loaded {
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });
  const [src, setSrc] = useState<{ key: string; value: Loaded } | null>(null);
  useEffect(() => {
    if (cacheKey === null) return;
    let url: string | undefined;
    let live = true;
    loadRef.current().then(
      (blob) => {
        url = URL.createObjectURL(blob);
        if (live) setSrc({ key: cacheKey, value: { url, type: blob.type } });
        else URL.revokeObjectURL(url);
      },
      (e: unknown) => live && setSrc({ key: cacheKey, value: { error: errorText(e) } }),
    );
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [cacheKey]);
  return src?.key === cacheKey ? src.value : null;
}

/**
 * Whether the element has come near the viewport (once true, stays true):
 * a long record's images are fetched as the reviewer scrolls to them, not
 * all at once against the rate limit. Without IntersectionObserver, at once.
 */
export function useSeen<E extends Element>(): [React.RefObject<E | null>, boolean] {
  const ref = useRef<E>(null);
  const [seen, setSeen] = useState(() => typeof IntersectionObserver === "undefined");
  useEffect(() => {
    const el = ref.current;
    if (seen || !el) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setSeen(true);
          io.disconnect();
        }
      },
      { rootMargin: "300px" },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [seen]);
  return [ref, seen];
}

/**
 * A Bearer-fetched image, loaded when it comes near the viewport; evidence
 * that is a sound clip (a voice, where the exam keeps sound) plays in an
 * audio player instead.
 */
export function BlobMedia({
  cacheKey,
  load,
  alt,
  className,
  width,
  kind,
}: {
  cacheKey: string;
  load: () => Promise<Blob>;
  alt: string;
  className: string;
  width?: number;
  /** `data-image` on the element, for tests and styles. */
  kind?: string;
}) {
  const [ref, seen] = useSeen<HTMLDivElement>();
  const src = useBlobUrl(seen ? cacheKey : null, load);
  return (
    <div ref={ref} className={`${className}-box`} data-image={kind}>
      {src && "url" in src && src.type.startsWith("audio/") ? (
        <audio className={`${className} ${className}--sound`} src={src.url} controls preload="metadata" aria-label={alt} />
      ) : src && "url" in src ? (
        <img className={className} src={src.url} alt={alt} width={width} />
      ) : (
        <div className={`${className} ${className}--none`} style={width ? { width } : undefined}>
          {src === null ? "Loading…" : `Unavailable (${src.error})`}
        </div>
      )}
    </div>
  );
}
