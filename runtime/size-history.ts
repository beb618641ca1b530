/**
 * Every audience's size over the last 24 hours, one point per minute, with
 * the enters and leaves of that minute: what the dashboard's chart and rates
 * are drawn from (`GET /sizes`).
 *
 * A point covers the minute starting at `t` (epoch ms, a whole minute): its
 * sizes are the last taken in that minute, its enters and leaves counted
 * during it. The minute in progress is the live point, answered with the
 * others and written when the minute ends (or the process stops).
 *
 * File: `<state-dir>/dashboard/sizes.jsonl`, one point per line, appended.
 * Two lines with the same `t` are the same minute written again (a restart
 * within it carries on from the line written at the stop): the later one
 * holds the whole minute and replaces the earlier. A torn last line (a
 * crash mid-write) is passed over, and the next line starts after it. Once the file holds twice the points
 * kept, it is written again with those kept only (a new file renamed over
 * the old, so a crash leaves one or the other whole).
 */
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../engine/log.js';

export interface SizePoint {
  /** Start of the minute, epoch ms. */
  t: number;
  sizes: Record<string, number>;
  enters: Record<string, number>;
  leaves: Record<string, number>;
}

export const MINUTE_MS = 60_000;
/** How far back the history reaches: 24 hours of minutes. */
export const KEEP_POINTS = 24 * 60;
/** How often the clock is looked at for the end of a minute. */
const ROLL_CHECK_MS = 5_000;

export class SizeHistory {
  /** Closed minutes, oldest first, at most KEEP_POINTS. */
  private readonly closed: SizePoint[] = [];
  private live: SizePoint;
  /** Lines in the file: past twice KEEP_POINTS it is compacted. */
  private lines = 0;
  /** The file ends in a torn line (a crash mid-write): the next line must not be appended to it. */
  private torn = false;
  /** File writes, one after another: an append never interleaves with a compaction. */
  private writes: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    /** Members per audience now. */
    private readonly sizes: () => Record<string, number>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.live = emptyPoint(minuteOf(this.now()));
  }

  /** Read the file written by earlier runs; a point of this very minute is carried on. */
  async load(): Promise<void> {
    const text = await readFile(this.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    const byMinute = new Map<number, SizePoint>();
    this.lines = 0;
    this.torn = text.length > 0 && !text.endsWith('\n');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      this.lines++;
      const point = parsePoint(line);
      if (point) byMinute.set(point.t, point);
    }
    const current = minuteOf(this.now());
    const oldest = current - KEEP_POINTS * MINUTE_MS;
    const points = [...byMinute.values()].filter((p) => p.t >= oldest && p.t <= current).sort((a, b) => a.t - b.t);
    if (points.length > 0 && points[points.length - 1]!.t === current) this.live = points.pop()!;
    this.closed.splice(0, this.closed.length, ...points.slice(-KEEP_POINTS));
  }

  /** Take a point at the end of every minute, until stop(). */
  start(): void {
    this.timer = setInterval(() => this.roll(), ROLL_CHECK_MS);
    this.timer.unref();
  }

  /** The minute in progress written, so that a restart carries on from it. */
  async stop(): Promise<void> {
    if (!this.timer) return; // never started: nothing loaded, nothing to write over
    clearInterval(this.timer);
    this.timer = undefined;
    this.live.sizes = this.sizes();
    this.append(this.live);
    await this.writes;
  }

  /** Enters and leaves of one audience, as they are produced. */
  count(audience: string, enters: number, leaves: number): void {
    if (enters > 0) this.live.enters[audience] = (this.live.enters[audience] ?? 0) + enters;
    if (leaves > 0) this.live.leaves[audience] = (this.live.leaves[audience] ?? 0) + leaves;
  }

  /**
   * Close the live point if its minute has ended: its sizes are those of
   * now (taken within a few seconds of the minute's end), and it goes to the
   * file. A minute in which the process did not run has no point.
   */
  roll(): void {
    const minute = minuteOf(this.now());
    if (minute === this.live.t) return;
    const done = this.live;
    done.sizes = this.sizes();
    this.closed.push(done);
    if (this.closed.length > KEEP_POINTS) this.closed.splice(0, this.closed.length - KEEP_POINTS);
    this.live = emptyPoint(minute);
    this.append(done);
  }

  /** The points kept, oldest first, the live one last (its sizes as of now); `since`: only those from that minute on. */
  points(since = -Infinity): SizePoint[] {
    const live = { ...this.live, sizes: this.sizes() };
    return [...this.closed.filter((p) => p.t >= since), live];
  }

  /** Resolves once every write asked for so far is on disk (tests). */
  flushed(): Promise<void> {
    return this.writes;
  }

  private append(point: SizePoint): void {
    this.writes = this.writes.then(async () => {
      const line = (this.torn ? '\n' : '') + JSON.stringify(point) + '\n';
      await mkdir(dirname(this.file), { recursive: true });
      if (this.lines + 1 > 2 * KEEP_POINTS) {
        const kept = [...this.closed.filter((p) => p.t !== point.t), point].sort((a, b) => a.t - b.t);
        const tmp = `${this.file}.tmp`;
        await writeFile(tmp, kept.map((p) => JSON.stringify(p) + '\n').join(''));
        await rename(tmp, this.file);
        this.lines = kept.length;
        this.torn = false;
      } else {
        await appendFile(this.file, line);
        this.lines++;
        this.torn = false;
      }
    }).catch((err: unknown) => {
      // The chart's past is not worth stopping the engine for: the next minute tries again.
      this.log.warn('could not write the dashboard\'s size history', { file: this.file, error: (err as Error).message });
    });
  }
}

function minuteOf(t: number): number {
  return Math.floor(t / MINUTE_MS) * MINUTE_MS;
}

function emptyPoint(t: number): SizePoint {
  return { t, sizes: {}, enters: {}, leaves: {} };
}

/** A line of the file, or undefined when it is not a whole point. */
function parsePoint(line: string): SizePoint | undefined {
  try {
    const p = JSON.parse(line) as Partial<SizePoint>;
    if (typeof p.t !== 'number' || typeof p.sizes !== 'object' || p.sizes === null) return undefined;
    return { t: p.t, sizes: p.sizes, enters: p.enters ?? {}, leaves: p.leaves ?? {} };
  } catch {
    return undefined;
  }
}
