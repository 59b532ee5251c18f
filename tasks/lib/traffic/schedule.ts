/**
 * When each request goes out: a steady rate (events per minute, evenly spaced, each moved by up
 * to ±jitter, never before the one before it), plus bursts of `burstSize` every `burstEvery`, all at the burst's time. Pure: the
 * times are computed from the start, never from when the previous one actually went out, so a
 * slow answer does not slow the rate down.
 */
export interface ScheduleOptions {
  readonly perMin: number;
  readonly burstEveryMs?: number;
  readonly burstSize: number;
  readonly jitterMs: number;
}

export interface Slot {
  readonly at: number;
  readonly burst: boolean;
}

export class Schedule {
  private n = 0;
  private burstIndex = 1;
  private last = -Infinity;
  private readonly gap: number;

  constructor(
    private readonly start: number,
    private readonly opts: ScheduleOptions,
    private readonly rand: () => number,
  ) {
    this.gap = 60_000 / opts.perMin;
  }

  /** The next slot, in time order. */
  next(): Slot[] {
    const steady = this.start + this.n * this.gap;
    const burst = this.opts.burstEveryMs ? this.start + this.burstIndex * this.opts.burstEveryMs : Infinity;
    if (burst <= steady) {
      this.burstIndex++;
      return Array.from({ length: this.opts.burstSize }, () => ({ at: burst, burst: true }));
    }
    this.n++;
    const j = this.opts.jitterMs ? (this.rand() * 2 - 1) * this.opts.jitterMs : 0;
    // in time order: a request moved earlier than the one before it goes right after it
    this.last = Math.max(this.start, this.last, steady + j);
    return [{ at: this.last, burst: false }];
  }
}
