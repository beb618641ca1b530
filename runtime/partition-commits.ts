/**
 * The commit protocol of one partition, in both delivery modes: the one
 * object that owns what the partition has applied and not committed, and
 * the output not yet acknowledged. A partition opened again (after a failed
 * commit) gets a new one; the old one is retired and its late completions
 * change nothing.
 *
 * At-least-once:
 *   1. each batch: the rules apply its records (state changes stay in
 *      memory), then its enter/leave events, membership updates and dead
 *      letters are produced (`deliver`). The partition's next batch does not
 *      wait for their acknowledgement (up to MAX_UNACKED_BATCHES batches'
 *      worth); the commit does;
 *   2. every commit interval (200 ms), when the partition has been idle for
 *      IDLE_COMMIT_MS, and when it is revoked (`commit`): once all output so
 *      far is acknowledged, produce the changelog copy of everything changed
 *      since the last commit and wait for it. Always after the output it
 *      covers: a changelog that got ahead of the output would make a restart
 *      skip batches whose output never arrived;
 *   3. write that state, the timer index, the partition's next input offset
 *      and the changelog checkpoint to the store in one atomic batch;
 *   4. commit the next offset to the consumer group (asynchronous, several
 *      partitions' in one request: KafkaSource.commitSoon).
 *   The state is taken (prepareCommit) in the partition's turn; steps 2 to 4
 *   then run while its next batches go on, one commit at a time.
 * A crash before 3 replays everything since the last commit: its output may
 * be produced twice (same `version`, so consumers can drop it) but never
 * lost. A crash between 3 and 4 is harmless: the offset stored with the
 * state is authoritative, and records below it are skipped when they are
 * delivered again.
 *
 * Exactly-once: the partition has its own transactional producer. Steps 1,
 * 2 and 4 of every batch are one transaction: output, membership, dead
 * letters, the changelog copy and the input offset commit together or not
 * at all; the store write (3) follows the commit. A crash before the commit
 * aborts everything; a crash after it leaves the store behind the
 * changelog, and the restore on the next start (which reads committed
 * records only) brings it level.
 *
 * A commit that fails (a broker outage, a timeout) leaves the rules' memory
 * ahead of what was committed: `onFailure` tells the runtime, which opens
 * the partition again from its committed state and reads the input again
 * from `uncommittedFrom`.
 */
import type { KafkaSink, SinkRecord, TopicRecords } from '../connectors/kafka/sink.js';
import type { GroupMember } from '../connectors/kafka/source.js';
import { changelogRecords, type OutputTopics } from './output-records.js';
import type { PartitionRunner } from './worker/partition-runner.js';

/**
 * At-least-once: batches of one partition whose output may be unacknowledged
 * at once. The next batch need not wait for the broker's answer (a round trip
 * per batch, most of a batch's time at moderate rates); the commit does.
 */
const MAX_UNACKED_BATCHES = 4;

/**
 * A partition that applied nothing for this long commits what it holds at
 * once: the end of a backlog, or a quiet partition, should not wait out the
 * interval (nor hold back the group's committed offset that long).
 */
export const IDLE_COMMIT_MS = 50;

/** What the commits of every partition share. */
export interface CommitContext {
  topics: OutputTopics;
  /** At-least-once: the process's producer. */
  sink: KafkaSink;
  /** The consumer: its group offsets, and (exactly-once) its group member for the transaction. */
  group: {
    readonly groupMember: GroupMember;
    commit(offsets: { topic: string; partition: number; nextOffset: bigint }[]): Promise<void>;
    commitSoon(offset: { topic: string; partition: number; nextOffset: bigint }): void;
  };
  commitIntervalMs: number;
}

export class PartitionCommits {
  /** The offset after the last record applied, committed or not. */
  appliedNext: bigint | undefined;
  /** The first offset applied since the last commit written: where to read again if a commit fails. */
  uncommittedFrom: bigint | undefined;
  /** State changed since the last commit was prepared. */
  private dirty = false;
  private lastCommitAt = performance.now();
  /** When the last batch was applied: a partition idle for IDLE_COMMIT_MS commits without waiting for the interval. */
  private lastBatchAt = performance.now();
  /** At-least-once: the output of batches not yet acknowledged, oldest first; the next commit waits for all of it. */
  private unacked: Promise<unknown>[] = [];
  /** At-least-once: the commit being written while the partition's batches go on, if any. */
  private committing: Promise<void> | undefined;
  private retired = false;

  constructor(
    private readonly ctx: CommitContext,
    readonly topic: string,
    readonly partition: number,
    private readonly runner: PartitionRunner,
    /** Exactly-once: the partition's transactional producer. */
    readonly producer: KafkaSink | undefined,
    /** A commit written in the background failed. */
    private readonly onFailure: (err: unknown) => void,
  ) {
    this.appliedNext = runner.snapshot.nextOffset;
  }

  /** The records from `first` up to (not including) `next` are applied, in memory. */
  applied(first: bigint, next: bigint): void {
    this.uncommittedFrom ??= first;
    this.appliedNext = next;
    this.dirty = true;
    this.lastBatchAt = performance.now();
  }

  /** A clock move changed the state (timers fired). */
  changedByClock(): void {
    this.dirty = true;
  }

  /**
   * Step 1: a batch's (or a clock move's) output. At-least-once it goes out
   * without waiting for its acknowledgement, unless MAX_UNACKED_BATCHES
   * wait already; a failed send surfaces at the next wait for it (here or
   * in the commit). Exactly-once it is committed, with the state and the
   * input offset `next` when given, in one transaction (steps 1 to 4).
   * `delivered` is called once the output is acknowledged (exactly-once:
   * committed), never for output that failed.
   */
  async deliver(records: SinkRecord[], next: bigint | undefined, packed: TopicRecords[] = [], delivered?: () => void): Promise<void> {
    if (this.producer) {
      await this.commitExactlyOnce(records, next, packed);
      delivered?.();
      return;
    }
    if (records.length === 0 && packed.length === 0) return;
    const sent = this.ctx.sink.send(records, packed);
    sent.then(() => delivered?.(), () => undefined); // a failure is awaited below or by the commit
    this.unacked.push(sent);
    if (this.unacked.length > MAX_UNACKED_BATCHES) await this.unacked.shift();
  }

  /** At-least-once, after a batch: commit once the interval has passed. */
  async commitIfDue(): Promise<void> {
    if (!this.producer && performance.now() - this.lastCommitAt >= this.ctx.commitIntervalMs) await this.commit();
  }

  /** At-least-once, between batches: is a commit due (the interval passed, or the partition went idle)? */
  idleCommitDue(now: number): boolean {
    return !this.producer && this.dirty && (now - this.lastCommitAt >= this.ctx.commitIntervalMs || now - this.lastBatchAt >= IDLE_COMMIT_MS);
  }

  /**
   * At-least-once, steps 2 to 4, for everything applied since the last
   * commit. In the partition's turn, only the state is taken
   * (prepareCommit); the rest goes on while the partition's next batches
   * run, so that they do not wait for the broker twice and for the store:
   * once the output the commit covers is acknowledged, the changelog copy,
   * acknowledged; the store write; the input offset. One commit at a time:
   * the next one waits until this one is written.
   */
  async commit(): Promise<void> {
    if (this.committing) {
      try {
        await this.committing;
      } catch {
        return; // its failure reopens the partition (onFailure), which commits nothing of this runner
      }
    }
    const next = this.appliedNext;
    const unacked = this.unacked;
    this.unacked = [];
    const copy = await this.runner.prepareCommit(next);
    this.dirty = false;
    this.lastCommitAt = performance.now();
    const written = (async () => {
      // 2. The output it covers first, then the changelog copy.
      await Promise.all(unacked);
      const changelog = changelogRecords(this.ctx.topics, this.partition, copy);
      const first = (await this.ctx.sink.send(changelog)).get(`${this.ctx.topics.changelogTopic}/${this.partition}`);
      // 3. The store.
      await this.runner.writeCommit(first === undefined ? undefined : first + BigInt(changelog.length) - 1n);
    })();
    this.committing = written;
    written.then(() => {
      if (this.committing === written) this.committing = undefined;
      if (this.retired) return; // reopened meanwhile: its position is the reopened one's
      // Applied since the prepare: read again from there if the next commit fails.
      this.uncommittedFrom = this.appliedNext === next ? undefined : next;
      // 4. Only where a new owner starts reading (the state's own offset
      // decides what is applied), so it need not hold anything up.
      if (next !== undefined) this.ctx.group.commitSoon({ topic: this.topic, partition: this.partition, nextOffset: next });
    }, (err: unknown) => { if (!this.retired) this.onFailure(err); });
  }

  /** At-least-once, before the partition is revoked: the commit in flight, then one of everything since. */
  async commitBeforeRevoke(): Promise<void> {
    await this.commitAndWait();
  }

  /**
   * Everything applied so far committed and written before this resolves
   * (a rule change's steps). Exactly-once every delivery commits already.
   */
  async commitAndWait(): Promise<void> {
    if (this.producer) return;
    await this.committing;
    if (this.dirty) {
      await this.commit();
      await this.committing;
    }
  }

  /**
   * At-least-once, a batch with nothing new (delivered again after a
   * restart): the group's offset may be behind the state's (a process killed
   * between writing its state and committing): bring it level, or it stays
   * behind, as lag, until the next record arrives. Exactly-once commits both
   * in one transaction: they cannot differ.
   */
  async levelGroupOffset(): Promise<void> {
    if (this.producer || this.appliedNext === undefined || this.uncommittedFrom !== undefined) return;
    await this.ctx.group.commit([{ topic: this.topic, partition: this.partition, nextOffset: this.appliedNext }]);
  }

  /** The partition is being opened again or closed: let a commit in flight finish, and change nothing after. */
  async retire(): Promise<void> {
    await this.committing?.catch(() => undefined);
    this.retired = true;
  }

  /** Exactly-once: output, changelog copy and input offset in one transaction, then the store. */
  private async commitExactlyOnce(records: SinkRecord[], nextOffset: bigint | undefined, packed: TopicRecords[] = []): Promise<void> {
    const changelog = changelogRecords(this.ctx.topics, this.partition, await this.runner.prepareCommit(nextOffset));
    const offset = nextOffset === undefined ? undefined : { topic: this.topic, partition: this.partition, nextOffset };
    const first = (await produceInTransaction(this.producer!, [...records, ...changelog], offset, this.ctx.group.groupMember, packed))
      .get(`${this.ctx.topics.changelogTopic}/${this.partition}`);
    await this.runner.writeCommit(first === undefined ? undefined : first + BigInt(changelog.length) - 1n);
    this.dirty = false;
    this.uncommittedFrom = undefined;
    this.lastCommitAt = performance.now();
  }
}

/**
 * Records, and the input offset when given, in one transaction of
 * `producer`; resolves with the first offset written per topic/partition.
 */
export async function produceInTransaction(
  producer: KafkaSink, records: SinkRecord[], offset: { topic: string; partition: number; nextOffset: bigint } | undefined, member: GroupMember,
  packed: TopicRecords[] = [],
): Promise<Map<string, bigint>> {
  if (records.length === 0 && packed.length === 0 && !offset) return new Map();
  await producer.begin();
  try {
    const firsts = await producer.send(records, packed);
    if (offset) await producer.sendOffsets(member, [offset]);
    await producer.commitTransaction();
    return firsts;
  } catch (err) {
    await producer.abortTransaction();
    throw err;
  }
}
