import type { Level, Presence } from "@proto";
import type { ScoreStore } from "../store/scoreStore";

export type SortKey = "name" | "score";

export interface ViewCriteria {
  readonly sort: SortKey;
  readonly level: Level | "all";
  readonly presence: Presence | "all";
  readonly search: string;
}

export const DEFAULT_CRITERIA: ViewCriteria = { sort: "name", level: "all", presence: "all", search: "" };

const collator = new Intl.Collator(undefined, { numeric: true });
/** Name order per roster, computed once: the roster changes only on snapshots. */
const byNameCache = new WeakMap<readonly string[], Map<string, number>>();
function nameRank(store: ScoreStore, roster: readonly string[]): Map<string, number> {
  let rank = byNameCache.get(roster);
  if (!rank) {
    const name = (id: string) => store.getStudent(id)?.student.name ?? id;
    const sorted = [...roster].sort((a, b) => collator.compare(name(a), name(b)) || (a < b ? -1 : 1));
    rank = new Map(sorted.map((id, i) => [id, i]));
    byNameCache.set(roster, rank);
  }
  return rank;
}

/** The ids to show, filtered and sorted; pure over the store's current state. */
export function visibleIds(store: ScoreStore, roster: readonly string[], c: ViewCriteria): string[] {
  const q = c.search.trim().toLowerCase();
  const out: string[] = [];
  for (const id of roster) {
    const t = store.getStudent(id);
    if (!t) continue;
    if (c.level !== "all" && t.shown.level !== c.level) continue;
    if (c.presence !== "all" && t.presence !== c.presence) continue;
    if (q && !t.student.name.toLowerCase().includes(q) && !id.toLowerCase().includes(q)) continue;
    out.push(id);
  }
  const rank = nameRank(store, roster);
  const r = (id: string) => rank.get(id) ?? 0;
  if (c.sort === "name") {
    out.sort((a, b) => r(a) - r(b));
  } else {
    const sc = (id: string) => store.getStudent(id)!.shown.score;
    out.sort((a, b) => sc(b) - sc(a) || r(a) - r(b));
  }
  return out;
}

/** `next` if it differs from `prev`, else `prev` (keeps identity for memoised children). */
export function sameOr<T>(prev: readonly T[] | undefined, next: readonly T[]): readonly T[] {
  if (prev && prev.length === next.length && prev.every((x, i) => x === next[i])) return prev;
  return next;
}

/** Moves a grid focus index by a key; returns undefined for other keys. */
export function moveFocus(key: string, index: number, count: number, cols: number, pageRows: number): number | undefined {
  if (count === 0) return undefined;
  let next: number;
  switch (key) {
    case "ArrowRight": next = index + 1; break;
    case "ArrowLeft": next = index - 1; break;
    case "ArrowDown": next = index + cols; break;
    case "ArrowUp": next = index - cols; break;
    case "PageDown": next = index + cols * pageRows; break;
    case "PageUp": next = index - cols * pageRows; break;
    case "Home": next = 0; break;
    case "End": next = count - 1; break;
    default: return undefined;
  }
  return Math.max(0, Math.min(count - 1, next));
}
