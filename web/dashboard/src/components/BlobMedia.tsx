import { useEffect, useRef, useState } from "react";
import { errorText } from "../net/retry";

type Loaded = string | { error: string } | null;

/**
 * An image the API serves only with the Bearer header (evidence frames,
 * identity photos), so an `<img src>` cannot fetch it: fetched as a blob
 * and shown from a blob URL, which is revoked when the image goes, or
 * when `cacheKey` changes. `cacheKey` null: not yet (off screen).
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
        if (live) setSrc({ key: cacheKey, value: url });
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

/** A Bearer-fetched image, loaded when it comes near the viewport. */
export function BlobImage({
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
      {typeof src === "string" ? (
        <img className={className} src={src} alt={alt} width={width} />
      ) : (
        <div className={`${className} ${className}--none`} style={width ? { width } : undefined}>
          {src === null ? "Loading…" : `Unavailable (${src.error})`}
        </div>
      )}
    </div>
  );
}
