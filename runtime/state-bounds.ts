/**
 * Watching how large customers' states grow, per partition: the metrics of
 * the largest state and of events added to a `distinct` or `top` at its
 * bound, and a warning that names the partition, never the customer (a
 * customer id is personal data, and the logs go to more people than the
 * query API does).
 *
 * The counts come from the partition's snapshot (PartitionTask: since the
 * partition was opened), so a reopened partition starts them again.
 */
import type { Logger } from '../engine/log.js';
import type { EngineMetrics } from './metrics.js';
import type { PartitionSnapshot } from './worker/partition-runner.js';
import { MAX_TALLY_VALUES } from '../dsl/plan.js';

/** At most one bound warning per partition in this time. */
const BOUND_WARNING_EVERY_MS = 10 * 60_000;
/** A customer state this large is worth a warning; each doubling again. */
const LARGE_STATE_BYTES = 1 << 20;

interface Watch {
  boundedSeen: number;
  boundWarnedAt: number;
  largeWarnFrom: number;
}

export class StateBounds {
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly metrics: EngineMetrics, private readonly log: Logger) {}

  /** After a batch or a commit: what the partition's snapshot says of its states. */
  observe(topic: string, partition: number, snapshot: PartitionSnapshot): void {
    const label = String(partition);
    let w = this.watches.get(label);
    if (w === undefined) {
      w = { boundedSeen: 0, boundWarnedAt: Number.NEGATIVE_INFINITY, largeWarnFrom: LARGE_STATE_BYTES };
      this.watches.set(label, w);
    }
    // A reopened partition counts from zero again.
    if (snapshot.boundedAdds < w.boundedSeen) w.boundedSeen = 0;
    this.metrics.largestState.set({ partition: label }, snapshot.largestStateBytes);
    const bounded = snapshot.boundedAdds - w.boundedSeen;
    if (bounded > 0) {
      this.metrics.boundedEvents.inc({ partition: label }, bounded);
      w.boundedSeen = snapshot.boundedAdds;
      const now = Date.now();
      if (now - w.boundWarnedAt >= BOUND_WARNING_EVERY_MS) {
        w.boundWarnedAt = now;
        this.log.warn(`a customer's distinct or top holds its most values (${MAX_TALLY_VALUES}): past them distinct reads a lower bound and top ranks the most recently seen values; `
          + 'a crawler or a shared device is the usual cause (docs/operations.md, "Bad input and abuse"); at most one such warning per partition every 10 minutes',
        { topic, partition, eventsAtBound: snapshot.boundedAdds });
      }
    }
    if (snapshot.largestStateBytes >= w.largeWarnFrom) {
      while (w.largeWarnFrom <= snapshot.largestStateBytes) w.largeWarnFrom *= 2;
      this.log.warn('a customer\'s state is large: it is written whole at every commit that changes it; long windows over frequent events grow it (aud explain shows each state)',
        { topic, partition, bytes: snapshot.largestStateBytes });
    }
  }

  /** The partition left this process. */
  forget(partition: number): void {
    const label = String(partition);
    this.watches.delete(label);
    this.metrics.largestState.remove({ partition: label });
  }
}
