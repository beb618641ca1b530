/**
 * Logging bad records without letting a flood of them flood the log: a
 * producer gone wrong can send thousands a second, and a log line each would
 * cost the engine more than the records do (and bury everything else). The
 * first BAD_LINES_PER_MINUTE of each minute are logged one by one, with
 * their reason and offset; the rest are counted and told in one line when
 * the minute is over. Every bad record is on the dead-letter topic with its
 * reason either way, and counted in aud_bad_records_total.
 */
import type { Logger } from '../engine/log.js';

export const BAD_LINES_PER_MINUTE = 10;
const MINUTE_MS = 60_000;

export class BadRecordLog {
  private windowStart = Date.now();
  private logged = 0;
  private untold = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly log: Logger) {
    this.timer = setInterval(() => this.flush(), MINUTE_MS);
    this.timer.unref();
  }

  report(fields: { topic: string; partition: number; offset: string | undefined; reason: string }): void {
    if (Date.now() - this.windowStart >= MINUTE_MS) this.flush();
    if (this.logged < BAD_LINES_PER_MINUTE) {
      this.logged++;
      this.log.warn('bad record sent to dead-letter topic', fields);
    } else {
      this.untold++;
    }
  }

  /** Tell what the minute held beyond the lines logged, and start the next one. */
  flush(): void {
    if (this.untold > 0) {
      this.log.warn(`${this.untold} more bad records in the last minute, not logged one by one (at most ${BAD_LINES_PER_MINUTE} a minute are): ` +
        'each is on the dead-letter topic with its reason in the aud.error header', { records: this.untold });
    }
    this.windowStart = Date.now();
    this.logged = 0;
    this.untold = 0;
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
