/**
 * The source's offset commits. Nothing is committed automatically: the
 * engine commits after its output is acknowledged and its state written,
 * either at once (`commit`) or coalesced (`commitSoon`: the latest offset of
 * each partition that asked within COMMIT_SOON_MS, in one request, and before
 * a partition is revoked or the consumer stops).
 *
 * Commits are asynchronous (queued, and a broker's refusal, as during a
 * rebalance, is only logged), so the last offset committed for each
 * partition still owned is sent again every RECOMMIT_MS: a refused commit is
 * repaired, not left behind until the partition's next record.
 */
import type { GroupConsumer } from './client.js';

/** How often the last commits are sent again. */
const RECOMMIT_MS = 5000;
/** commitSoon gathers the offsets asked for within this long into one commit request. */
const COMMIT_SOON_MS = 20;

export interface CommitOffset { topic: string; partition: number; nextOffset: bigint }

interface SentOffset { topic: string; partition: number; offset: number }

export class OffsetCommits {
  /** The last offset committed per owned `topic/partition`, sent again every RECOMMIT_MS. */
  private readonly lastCommits = new Map<string, SentOffset>();
  private readonly recommitter: NodeJS.Timeout;
  /** Offsets waiting for commitSoon's next flush, by `topic/partition`. */
  private readonly pending = new Map<string, CommitOffset>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly consumer: GroupConsumer, private readonly groupId: string) {
    this.recommitter = setInterval(() => {
      const offsets = [...this.lastCommits.values()];
      if (offsets.length > 0) this.send(offsets);
    }, RECOMMIT_MS);
    this.recommitter.unref();
  }

  /** Commit these offsets (queued: a refusal is repaired by the re-sends). */
  commit(offsets: CommitOffset[]): void {
    if (offsets.length === 0) return;
    const list = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.nextOffset) }));
    for (const o of list) this.lastCommits.set(`${o.topic}/${o.partition}`, o);
    this.send(list);
  }

  /**
   * Commit later, coalesced with the partition's next offsets. Failures are
   * not reported: a later flush commits a later offset anyway.
   */
  commitSoon(offset: CommitOffset): void {
    this.pending.set(`${offset.topic}/${offset.partition}`, offset);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush(undefined, false);
    }, COMMIT_SOON_MS);
    this.timer.unref();
  }

  /** Commit what commitSoon holds, for the given partitions or all; `sync` waits for the broker's answer. */
  flush(parts: { topic: string; partition: number }[] | undefined, sync: boolean): void {
    const keys = parts ? parts.map((p) => `${p.topic}/${p.partition}`) : [...this.pending.keys()];
    const list = keys.flatMap((k) => {
      const o = this.pending.get(k);
      this.pending.delete(k);
      return o ? [{ topic: o.topic, partition: o.partition, offset: Number(o.nextOffset) }] : [];
    });
    if (list.length === 0) return;
    for (const o of list) this.lastCommits.set(`${o.topic}/${o.partition}`, o);
    this.send(list, sync);
  }

  /** Send these partitions' offsets no more: another member may own them next, and a re-send could move its offset back. */
  forget(parts: { topic: string; partition: number }[]): void {
    for (const p of parts) this.lastCommits.delete(`${p.topic}/${p.partition}`);
  }

  /** No more timed sends; flushes asked for by name still go out, and their failures are not logged. */
  stop(): void {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.recommitter);
  }

  private send(list: SentOffset[], sync = false): void {
    try {
      if (sync) this.consumer.commitSync(list);
      else this.consumer.commit(list);
    } catch (err) {
      // A commit lost to a rebalance is harmless: the engine's state keeps its own offsets.
      if (!this.stopping) process.stderr.write(`kafka warn: committing offsets of group ${this.groupId} failed: ${(err as Error).message}\n`);
    }
  }
}
