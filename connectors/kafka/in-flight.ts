/**
 * The source's backpressure: records fetched and not yet handled, across
 * its partitions. Fetching runs ahead of the handlers, but not without
 * bound: past MAX_IN_FLIGHT records the fetch loop waits until handled
 * records make room again, so a slow handler holds a bounded prefetch in
 * memory, not the whole backlog.
 */

/** Records queued or being handled, beyond which fetching waits. */
const MAX_IN_FLIGHT = 40_000;

export class InFlightRecords {
  private count = 0;
  /** Resolves the fetch loop's wait, once there is room again (or the source stops). */
  private roomAgain: (() => void) | undefined;

  get full(): boolean { return this.count >= MAX_IN_FLIGHT; }

  /** Wait until records are handled below the bound, or until `release`. */
  room(): Promise<void> {
    return new Promise<void>((resolve) => { this.roomAgain = resolve; });
  }

  add(n: number): void {
    this.count += n;
  }

  /** `n` records were handled or dropped. */
  done(n: number): void {
    this.count -= n;
    if (this.count < MAX_IN_FLIGHT) this.release();
  }

  /** Let a waiting fetch loop go on (it checks again). */
  release(): void {
    const wake = this.roomAgain;
    this.roomAgain = undefined;
    wake?.();
  }
}
