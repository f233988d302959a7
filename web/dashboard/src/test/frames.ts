/** A frame scheduler whose frames a test runs by hand. */
export function manualFrames() {
  let queue: (() => void)[] = [];
  return {
    schedule: (cb: () => void) => {
      queue.push(cb);
    },
    /** Frames requested and not yet run. */
    get pending() {
      return queue.length;
    },
    /** Runs the frames requested so far (not those they request). */
    run() {
      const q = queue;
      queue = [];
      for (const cb of q) cb();
    },
  };
}
