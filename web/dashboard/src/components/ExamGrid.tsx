import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { GridTile } from "./Tile";
import { moveFocus } from "./view";

export const ROW_HEIGHT = 104;
const MIN_TILE_WIDTH = 170;

/**
 * The virtualised grid: only the rows in view (plus a little overscan) are
 * in the DOM, so 1,000 students cost the same as 40. Keyboard: one tile is
 * in the tab order (roving tabindex); arrows, Page Up/Down, Home/End move;
 * Enter or Space opens the drawer.
 */
export const ExamGrid = memo(function ExamGrid({ ids, onOpen, stale }: { ids: readonly string[]; onOpen: (id: string) => void; stale: boolean }) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(1000);
  const [focus, setFocus] = useState(0);
  const keyboardMove = useRef(false);

  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    setWidth(el.clientWidth || 1000);
    const ro = new ResizeObserver(() => setWidth(el.clientWidth || 1000));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const cols = Math.max(1, Math.floor((width - 8) / MIN_TILE_WIDTH));
  const rows = Math.ceil(ids.length / cols);
  const virtualizer = useVirtualizer({
    count: rows,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 2,
    initialRect: { width: 1000, height: 600 },
  });

  const focusIndex = Math.min(focus, Math.max(0, ids.length - 1));
  const focusedId = ids[focusIndex];
  // Keep the same student focused when the order changes under us.
  const lastFocusedId = useRef<string | undefined>(undefined);
  const lastIds = useRef(ids);
  useEffect(() => {
    if (lastIds.current !== ids) {
      lastIds.current = ids;
      const prev = lastFocusedId.current;
      const i = prev ? ids.indexOf(prev) : -1;
      if (i >= 0 && i !== focusIndex) {
        setFocus(i);
        return;
      }
    }
    lastFocusedId.current = focusedId;
  }, [ids, focusedId, focusIndex]);

  useEffect(() => {
    if (!keyboardMove.current) return;
    keyboardMove.current = false;
    const el = scrollRef.current?.querySelector<HTMLElement>(`[data-index="${focusIndex}"]`);
    el?.focus({ preventScroll: false });
  });

  const onKeyDown = useCallback(
    (e: React.KeyboardEvent) => {
      const pageRows = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 600) / ROW_HEIGHT));
      const next = moveFocus(e.key, focusIndex, ids.length, cols, pageRows);
      if (next === undefined) return;
      e.preventDefault();
      keyboardMove.current = true;
      setFocus(next);
      virtualizer.scrollToIndex(Math.floor(next / cols), { align: "auto" });
    },
    [focusIndex, ids.length, cols, virtualizer],
  );

  const onFocusTile = useCallback((e: React.FocusEvent) => {
    const idx = (e.target as HTMLElement).dataset.index;
    if (idx !== undefined) setFocus(Number(idx));
  }, []);

  const items = virtualizer.getVirtualItems();
  const style = useMemo(() => ({ gridTemplateColumns: `repeat(${cols}, minmax(0, 1fr))` }), [cols]);

  return (
    <div
      ref={scrollRef}
      className={`grid-scroll${stale ? " grid-scroll--stale" : ""}`}
      role="grid"
      aria-label="Students"
      aria-rowcount={rows}
      aria-colcount={cols}
      aria-busy={stale}
      onKeyDown={onKeyDown}
      onFocus={onFocusTile}
    >
      {ids.length === 0 ? (
        <p className="status">No students match.</p>
      ) : (
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {items.map((row) => (
            <div
              key={row.key}
              role="row"
              aria-rowindex={row.index + 1}
              className="grid-row"
              style={{ ...style, transform: `translateY(${row.start}px)`, height: ROW_HEIGHT }}
            >
              {ids.slice(row.index * cols, row.index * cols + cols).map((id, c) => {
                const index = row.index * cols + c;
                return <GridTile key={id} id={id} index={index} tabIndex={index === focusIndex ? 0 : -1} onOpen={onOpen} />;
              })}
            </div>
          ))}
        </div>
      )}
    </div>
  );
});
