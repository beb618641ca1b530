/**
 * The guard that keeps one record's clock from moving a partition's clock.
 *
 * A partition's clock follows the event times it reads, and every timer due
 * by it fires: one record stamped four years ahead (a producer's wrong clock,
 * a mistyped year) would make every customer of the partition leave and
 * enter audiences at once, and the output cannot be taken back. So a record
 * whose time is too far ahead is a bad record (dead-lettered with the
 * reason), and never moves the clock:
 *
 * - `maxAheadOfMachineMs` (`aud run` with the wall clock, `--max-clock-skew`):
 *   ahead of this machine's clock by more than this;
 * - `maxJumpMs` (`--max-clock-jump`, for the event clock: replay, backfill,
 *   `--clock event`): ahead of the partition's clock (the latest time
 *   accepted so far) by more than this. The partition's first record has
 *   nothing to jump from and always passes.
 *
 * A record far in the past is not refused: it counts where it still can
 * (an aggregate whose window still holds its time, a first/last, a trait)
 * and moves nothing, since the clock never goes back.
 */
export interface ClockGuardOptions {
  maxAheadOfMachineMs?: number;
  maxJumpMs?: number;
}

export class ClockGuard {
  private machineLimit = Infinity;
  private latest = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: ClockGuardOptions, private readonly machineNow: () => number = Date.now) {}

  get active(): boolean {
    return this.opts.maxAheadOfMachineMs !== undefined || this.opts.maxJumpMs !== undefined;
  }

  /** Before a batch: the machine's time now, and the partition's clock. */
  startBatch(partitionClock: number): void {
    const ahead = this.opts.maxAheadOfMachineMs;
    this.machineLimit = ahead === undefined ? Infinity : this.machineNow() + ahead;
    this.latest = partitionClock;
  }

  /** Why a record of event time `time` is refused, or undefined when it passes (it then counts as the latest). */
  refuse(time: number): string | undefined {
    if (time > this.machineLimit) {
      return `event time ${iso(time)} is ${span(time - this.machineLimit + this.opts.maxAheadOfMachineMs!)} ahead of this machine's clock, ` +
        `more than --max-clock-skew ${span(this.opts.maxAheadOfMachineMs!)} allows (a producer's clock or a mistyped time?); it did not move the partition's clock`;
    }
    const jump = this.opts.maxJumpMs;
    if (jump !== undefined && Number.isFinite(this.latest) && time > this.latest + jump) {
      return `event time ${iso(time)} is ${span(time - this.latest)} ahead of the partition's clock (${iso(this.latest)}), ` +
        `more than --max-clock-jump ${span(jump)} allows; it did not move the partition's clock`;
    }
    if (time > this.latest) this.latest = time;
    return undefined;
  }
}

function iso(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}

/** A duration for people: 4.1 years, 36 days, 5 minutes, 30 seconds. */
export function span(ms: number): string {
  const units: [number, string][] = [[365.25 * 86_400_000, 'year'], [86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1000, 'second']];
  for (const [size, name] of units) {
    if (ms >= size) {
      const n = Math.round((ms / size) * 10) / 10;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${ms} ms`;
}
