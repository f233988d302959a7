// Events per second over a sliding window, pure: fed the time of each event.
// The phone and voice detectors report how often they answer with it.

export class RateMeter {
  private times: number[] = [];

  constructor(private readonly windowMs = 5000) {}

  /** An event at `now` (ms); returns the rate over the window, 0 until there are two events. */
  tick(now: number): number {
    this.times.push(now);
    while (this.times.length && this.times[0]! < now - this.windowMs) this.times.shift();
    const first = this.times[0]!;
    return this.times.length > 1 && now > first ? ((this.times.length - 1) * 1000) / (now - first) : 0;
  }

  reset(): void {
    this.times = [];
  }
}
