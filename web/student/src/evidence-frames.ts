// Which analysed frame an incident's evidence is drawn from.
//
// Evidence is the last frame the vision loop analysed. On a slow laptop
// that loop analyses a frame a second or less often, so two incidents a
// moment apart (the tab hidden twice, a paste right after) would both get
// the same frame. The server keeps each frame once and refuses it as the
// evidence of a second incident (`replayed_frame`), so the second incident
// would lose its evidence. Likewise a frame from before a stall of the loop
// can lie outside the incident's span (`outside_incident_window`).
//
// So a frame already handed out, or older than `maxAgeMs`, is not handed
// out while a fresh one may still come: the capture waits for the next
// frame, for at most `waitMs`. That need not be an analysed one: the frames
// the loop skips between two analyses (`offer`) serve a waiting capture
// too, so evidence comes within a frame or an analysis of the incident
// however slowly the detector runs. After `waitMs` the capture takes the
// last frame anyway (a frozen camera is worth showing too; the server
// decides whether it takes it). Waiting captures take new frames in the
// order they asked.
//
// No DOM: the frames only need `close()`, and time and timers are injected,
// so the tests run on simulated time.

export interface Closable {
  close(): void;
}

export interface EvidenceFramesOptions {
  /** How long a capture waits for a fresh frame before taking the last one. */
  waitMs: number;
  /** A frame older than this is stale: a capture waits for a fresher one. */
  maxAgeMs: number;
  now: () => number;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (handle: unknown) => void;
}

interface Kept<F> {
  frame: F;
  at: number;
  given: boolean;
}

interface Waiting<F> {
  use: (frame: F, at: number) => void;
  timer: unknown;
}

export class EvidenceFrames<F extends Closable> {
  private last: Kept<F> | null = null;
  private waiting: Waiting<F>[] = [];

  constructor(private readonly opts: EvidenceFramesOptions) {}

  /**
   * A newly analysed frame, taken at `at` (the clock of `now`). The oldest
   * waiting capture uses it at once; either way it is kept, and the frame
   * it replaces is closed.
   */
  keep(frame: F, at: number): void {
    this.last?.frame.close();
    this.last = { frame, at, given: false };
    const next = this.waiting.shift();
    if (next) {
      this.opts.clearTimer(next.timer);
      this.give(this.last, next.use);
    }
  }

  /**
   * A frame the loop skips (it is not due for analysis): the oldest waiting
   * capture uses it at once, and then true; otherwise false. Either way the
   * frame stays the caller's to close, and the last analysed frame stays
   * kept (the object detector may still be copying it).
   */
  offer(frame: F, at: number): boolean {
    const next = this.waiting.shift();
    if (!next) return false;
    this.opts.clearTimer(next.timer);
    next.use(frame, at);
    return true;
  }

  /**
   * Calls `use` with the frame for the next evidence, synchronously while
   * that frame is open (so `use` must draw it before it awaits anything).
   * Resolves with what `use` returned, or null when no frame has been
   * analysed at all.
   */
  take<T>(use: (frame: F, at: number) => T): Promise<T | null> {
    const last = this.last;
    if (last && !last.given && this.opts.now() - last.at <= this.opts.maxAgeMs && this.waiting.length === 0) {
      return Promise.resolve(this.give(last, use));
    }
    return new Promise<T | null>((resolve, reject) => {
      const waiting: Waiting<F> = {
        use: (frame, at) => {
          try {
            resolve(use(frame, at));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        },
        timer: null,
      };
      waiting.timer = this.opts.setTimer(() => {
        this.waiting = this.waiting.filter((w) => w !== waiting);
        if (this.last) this.give(this.last, waiting.use);
        else resolve(null);
      }, this.opts.waitMs);
      this.waiting.push(waiting);
    });
  }

  private give<T>(kept: Kept<F>, use: (frame: F, at: number) => T): T {
    kept.given = true;
    return use(kept.frame, kept.at);
  }
}
