/**
 * The long-lived engine on Kafka (`aud run`).
 *
 * One PartitionTask per assigned input partition, each with its own RocksDB
 * store under `<state-dir>/<topic>-<partition>`. Work on one partition is
 * serialised (batches and clock ticks queue behind each other); partitions
 * proceed independently.
 *
 * At-least-once, per partition:
 *   1. each batch: process the records (state changes stay in memory), then
 *      produce its enter/leave events, membership updates and dead letters.
 *      The partition's next batch does not wait for their acknowledgement
 *      (up to MAX_UNACKED_BATCHES batches' worth); the commit does;
 *   2. every `commitIntervalMs` (200 ms), and when the partition is revoked:
 *      once all output so far is acknowledged, produce the changelog copy
 *      of everything changed since the last commit and wait for it. Always
 *      after the output it covers: a changelog that got ahead of the output
 *      would make a restart skip batches whose output never arrived;
 *   3. write that state, the timer index, the partition's next input offset
 *      and the changelog checkpoint to RocksDB in one atomic batch;
 *   4. commit the next offset to the consumer group (asynchronous, several
 *      partitions' in one request: see KafkaSource.commitSoon).
 *   The state is taken (prepareCommit) in the partition's turn; steps 2 to 4
 *   then run while its next batches go on, one commit at a time.
 * A crash before 3 replays everything since the last commit: its output may
 * be produced twice (same `version`, so consumers can drop it) but never
 * lost. A crash between 3 and 4 is harmless: the offset stored with the
 * state is authoritative, and records below it are skipped when they are
 * delivered again. A process that lost its disk (or takes over a partition)
 * restores the state from the changelog (runtime/changelog.ts) before it
 * reads the partition.
 *
 * Exactly-once (`exactlyOnce`): each partition has its own transactional
 * producer, transactional id `<group>-<topic>-<partition>`. Steps 2 and 4
 * become one transaction: output, membership, dead letters, the changelog
 * copy and the input offset commit together or not at all; the local write
 * (3) follows the commit. A crash before the commit aborts everything; a
 * crash after it leaves the local store behind the changelog, and the restore
 * on the next start (which reads committed records only) brings it level.
 * Opening a partition initialises its transactional id before the restore:
 * that fences a zombie (a process that lost the partition but still runs)
 * and aborts the open transaction of a killed one, so the restore reads the
 * final outcome. A fenced process gives the partition up.
 *
 * A commit that fails (a broker outage, a timeout) leaves the task's memory
 * ahead of what was committed: the partition is reopened from its committed
 * state (store plus changelog) and the consumer moved back to the first
 * record applied since the last commit written, so that everything
 * uncommitted is read again.
 *
 * Threads (`workers`): with 0, every partition's rules run in this thread;
 * with N, partition p runs in worker thread p mod N (runtime/worker/), which
 * owns its RocksDB store. Kafka (reading the changelog for a restore too)
 * and the commit order stay here either way: a worker only evaluates, and
 * writes its store (the restored state included).
 *
 * Clock: each partition follows the event time of the records it reads while
 * it has a backlog, and the wall clock once it has caught up (its last record
 * reached the high watermark); then a tick every `tickMs` fires the timers
 * due by the machine's time. A backlog never fires a timer that one of its own
 * queued events would have cancelled.
 */
import { mkdir } from 'node:fs/promises';
import { ensureTopics, endOffsets, groupMembers, partitionCount } from '../connectors/kafka/admin.js';
import { KafkaConnectorError } from '../connectors/kafka/errors.js';
import type { KafkaOptions } from '../connectors/kafka/options.js';
import { KafkaSink, type SinkRecord } from '../connectors/kafka/sink.js';
import { readPartitionColumns } from '../connectors/kafka/partition-reader.js';
import { KafkaSource, type PartitionBatch, type SourceRecord } from '../connectors/kafka/source.js';
import type { Plan } from '../dsl/plan.js';
import { checkpointOnly, repairWrites, restoreFromChangelog, StoreRestoreTarget, type RestoreTarget } from './changelog.js';
import type { ClockGuardOptions } from '../engine/clock-guard.js';
import type { InputRecord } from '../engine/input-record.js';
import type { Logger } from '../engine/log.js';
import { outputEventJson, type OutputEvent } from '../engine/output-event.js';
import type { BadRecord, CustomerView, PartitionTaskOptions } from '../engine/partition-task.js';
import { EngineMetrics } from './metrics.js';
import { partitionStateDir, transactionalIdFor } from './naming.js';
import { StateBounds } from './state-bounds.js';
import { openRocksStore } from '../engine/state/rocksdb-store.js';
import type { PartitionStore } from '../engine/state/store.js';
import { decodeThenProcess, type ValueDecoder } from '../engine/value-decoder.js';
import { LocalPartition } from './worker/local-partition.js';
import { packColumns } from './worker/messages.js';
import type { ChangelogCopy, PartitionRunner, StepResult } from './worker/partition-runner.js';
import { WorkerPool } from './worker/worker-pool.js';

/**
 * At-least-once commit interval (Kafka Streams' commit.interval.ms). Longer
 * means fewer encodings of a busy customer (one per commit, not per batch),
 * but a longer stall when it comes (the p99 latency) and more output repeated
 * per partition after a crash. Why 200 ms: docs/decisions/2026-12-03-tuning-figures.md.
 */
export const DEFAULT_COMMIT_INTERVAL_MS = 200; // also the default of `aud run --commit-interval-ms`

/**
 * A partition that applied nothing for this long commits what it holds at
 * once: the end of a backlog, or a quiet partition, should not wait out the
 * interval (nor hold back the group's committed offset that long).
 */
const IDLE_COMMIT_MS = 50;

/**
 * At-least-once: batches of one partition whose output may be unacknowledged
 * at once. The next batch need not wait for the broker's answer (a round trip
 * per batch, most of a batch's time at moderate rates); the commit does.
 */
const MAX_UNACKED_BATCHES = 4;

export interface KafkaRuntimeOptions {
  plan: Plan;
  kafka: KafkaOptions;
  groupId: string;
  stateDir: string;
  inputTopic: string;
  outputTopic: string;
  /** Compacted: key `audience/customer`, value the membership, tombstone on leave. */
  membershipTopic: string;
  deadLetterTopic: string;
  /** Compacted, one partition per input partition: a copy of every state write. */
  changelogTopic: string;
  clock: 'wall' | 'event';
  tickMs: number;
  /** Kafka transactions: output, changelog and input offsets commit together. */
  exactlyOnce: boolean;
  /**
   * At-least-once: how often each partition's state is committed (changelog
   * copy, store write, input offset), default 200 ms. Output goes out, and is
   * acknowledged, with every batch; only the state waits.
   */
  commitIntervalMs?: number;
  /** Worker threads for the rules; 0 runs them in this thread. */
  workers: number;
  /** Decoded customers kept in memory per partition (PartitionTask's record cache). */
  cacheCustomers?: number;
  /** Records too far ahead of the machine's clock (wall clock) or the partition's are dead-lettered (engine/clock-guard.ts). */
  clockGuard?: ClockGuardOptions;
  /** V8 young generation of each worker thread, MB (worker/young-generation.ts says why it matters). */
  youngGenerationMb?: number;
  /** Values that are not JSON text (`format avro`): decoded per batch before the task sees them; bad ones are dead-lettered. */
  valueDecoder?: ValueDecoder;
  /** The value of an enter/leave event on the output topic (`--output-format avro`); default JSON. */
  encodeOutput?: (event: OutputEvent) => string | Buffer;
  log: Logger;
}

export interface RuntimeCounters {
  recordsIn: number;
  applied: number;
  skipped: number;
  bad: number;
  enters: number;
  leaves: number;
  /** Partitions reopened after a failed commit. */
  reopened: number;
}

interface PartitionEntry {
  topic: string;
  partition: number;
  runner: PartitionRunner;
  caughtUp: boolean;
  /** Work on this partition, in order. */
  queue: Promise<void>;
  /** Exactly-once: the partition's transactional producer. */
  producer: KafkaSink | undefined;
  /** The offset after the last record applied, committed or not. */
  appliedNext: bigint | undefined;
  /** At-least-once: the first offset applied since the last commit written, where to read again if a commit fails. */
  uncommittedFrom: bigint | undefined;
  /** State changed since the last commit was prepared. */
  dirty: boolean;
  lastCommitAt: number;
  /** When the last batch was applied: a partition idle for IDLE_COMMIT_MS commits without waiting for the interval. */
  lastBatchAt: number;
  /** At-least-once: the output of batches not yet acknowledged, oldest first; the next commit waits for all of it. */
  unacked: Promise<unknown>[];
  /** At-least-once: the commit being written while the partition's batches go on, if any (commitState). */
  committing: Promise<void> | undefined;
}

/** What opening a partition yields: its rules over its restored store. */
type OpenPartition = Pick<PartitionEntry, 'runner' | 'producer'> & { restoredRecords: number };

/** The fields of a partition entry that say where its state stands, fresh from its committed state. */
function committedPosition(runner: PartitionRunner): Pick<PartitionEntry, 'appliedNext' | 'uncommittedFrom' | 'dirty' | 'lastCommitAt' | 'lastBatchAt' | 'unacked' | 'committing'> {
  return {
    appliedNext: runner.snapshot.nextOffset, uncommittedFrom: undefined, dirty: false, lastCommitAt: performance.now(), lastBatchAt: performance.now(),
    unacked: [], committing: undefined,
  };
}

export class KafkaRuntime {
  private readonly partitions = new Map<string, PartitionEntry>();
  private readonly source: KafkaSource;
  private readonly sink: KafkaSink;
  private readonly pool: WorkerPool | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private committer: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly counters: RuntimeCounters = { recordsIn: 0, applied: 0, skipped: 0, bad: 0, enters: 0, leaves: 0, reopened: 0 };
  readonly metrics: EngineMetrics;
  private readonly stateBounds: StateBounds;
  private started = false;
  private partitionCount = 0;

  constructor(private readonly opts: KafkaRuntimeOptions) {
    // The engine reads no input headers: the source may keep its prefetch as columns.
    this.source = new KafkaSource({ ...opts.kafka, groupId: opts.groupId, topics: [opts.inputTopic], headers: false });
    this.sink = new KafkaSink(opts.kafka);
    this.pool = opts.workers > 0 ? new WorkerPool(opts.workers, opts.youngGenerationMb) : undefined;
    this.metrics = new EngineMetrics({
      audienceSizes: () => this.audienceSizes().sizes,
      stateDirs: () => new Map([...this.partitions.values()].map((e) => [String(e.partition), this.stateDirOf(e.topic, e.partition)])),
    });
    this.stateBounds = new StateBounds(this.metrics, opts.log);
  }

  private stateDirOf(topic: string, partition: number): string {
    return partitionStateDir(this.opts.stateDir, topic, partition);
  }

  // ---- What the query API asks (runtime/query-server.ts) ----

  /** Ready once started and every owned partition is open and caught up with its input. */
  readiness(): { ready: boolean; reason?: string; partitions: { partition: number; caughtUp: boolean }[] } {
    const partitions = [...this.partitions.values()].map((e) => ({ partition: e.partition, caughtUp: e.caughtUp }));
    if (!this.started) return { ready: false, reason: 'starting: waiting for Kafka or the first assignment', partitions };
    if (this.stopping) return { ready: false, reason: 'stopping', partitions };
    const behind = partitions.filter((p) => !p.caughtUp).map((p) => p.partition);
    if (behind.length > 0) return { ready: false, reason: `reading the backlog of partition(s) ${behind.join(', ')}`, partitions };
    return { ready: true, partitions };
  }

  /** Members per audience over the partitions this process owns. */
  audienceSizes(): { sizes: Record<string, number>; partitions: number[]; partitionCount: number } {
    const sizes: Record<string, number> = Object.fromEntries(this.opts.plan.audiences.map((a) => [a.name, 0]));
    const partitions: number[] = [];
    for (const e of this.partitions.values()) {
      partitions.push(e.partition);
      for (const [a, n] of Object.entries(e.runner.snapshot.sizes)) sizes[a] = (sizes[a] ?? 0) + n;
    }
    return { sizes, partitions: partitions.sort((a, b) => a - b), partitionCount: this.partitionCount };
  }

  /**
   * A customer's view from whichever owned partition knows them (asked in
   * turn, each between its batches); undefined when none does.
   */
  async customerView(customer: string): Promise<{ partition: number; view: CustomerView } | undefined> {
    for (const e of [...this.partitions.values()]) {
      let found: CustomerView | undefined;
      await this.enqueue(`${e.topic}/${e.partition}`, async (entry) => { found = await entry.runner.view(customer); }).catch(() => undefined);
      if (found) return { partition: e.partition, view: found };
    }
    return undefined;
  }

  metricsText(): Promise<{ contentType: string; body: string }> {
    return this.metrics.text();
  }

  /** The other members of the group and the input partitions each owns. */
  async groupMembers(): Promise<{ clientId: string; host: string; partitions: number[] }[]> {
    return groupMembers(this.opts.kafka, this.opts.groupId, this.opts.inputTopic);
  }

  async start(): Promise<void> {
    const { opts } = this;
    const partitions = await this.untilKafkaAnswers(() => partitionCount(opts.kafka, opts.inputTopic));
    this.partitionCount = partitions;
    await ensureTopics(opts.kafka, [
      { topic: opts.outputTopic, partitions },
      { topic: opts.membershipTopic, partitions, config: { 'cleanup.policy': 'compact' } },
      { topic: opts.deadLetterTopic, partitions: 1 },
      { topic: opts.changelogTopic, partitions, config: { 'cleanup.policy': 'compact' } },
    ]);
    await mkdir(opts.stateDir, { recursive: true });
    await this.sink.connect();
    await this.source.start({
      onAssign: (parts) => this.assign(parts),
      onRevoke: (parts) => this.revoke(parts),
      onBatch: (batch) => this.enqueue(`${batch.topic}/${batch.partition}`, (entry) => this.processBatch(entry, batch)),
    });
    if (opts.clock === 'wall') {
      this.ticker = setInterval(() => this.tick(), opts.tickMs);
      this.ticker.unref();
    }
    if (!opts.exactlyOnce) {
      this.committer = setInterval(() => this.commitIdle(), Math.min(IDLE_COMMIT_MS, this.commitIntervalMs));
      this.committer.unref();
    }
    this.started = true;
    opts.log.info('engine started', {
      input: opts.inputTopic, partitions, output: opts.outputTopic, group: opts.groupId, clock: opts.clock, stateDir: opts.stateDir,
      workers: opts.workers, delivery: opts.exactlyOnce ? 'exactly-once' : 'at-least-once',
    });
  }

  /**
   * Run `attempt` until Kafka answers: a broker that is down or restarting is
   * waited for, with backoff up to 30 s, saying so; an answer that will not
   * change by waiting (a missing topic, bad options) is thrown at once.
   */
  private async untilKafkaAnswers<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof KafkaConnectorError) || !err.retriable || this.stopping) throw err;
        const delayMs = Math.min(30_000, 500 * 2 ** Math.min(n, 6));
        this.opts.log.warn(`waiting for Kafka at ${this.opts.kafka.brokers}; retrying in ${delayMs / 1000} s`, { attempt: n, error: err.message });
        await new Promise((res) => setTimeout(res, delayMs));
      }
    }
  }

  /** Finish the work in flight, flush, commit and close. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.committer) clearInterval(this.committer);
    await this.source.stop();
    // The source revokes every partition on stop; close what may remain.
    await this.revoke([...this.partitions.values()].map((p) => ({ topic: p.topic, partition: p.partition })));
    await this.sink.disconnect();
    await this.pool?.close();
    this.opts.log.info('engine stopped', { ...this.counters });
  }

  /**
   * Open newly assigned partitions, all at once: restoring one is mostly
   * waiting for the broker and for RocksDB, so eight partitions restore in
   * about the time of one. Those that opened are kept even when another fails.
   */
  private async assign(parts: { topic: string; partition: number }[]): Promise<void> {
    const fresh = parts.filter(({ topic, partition }) => !this.partitions.has(`${topic}/${partition}`));
    if (fresh.length === 0) return;
    const ends = await endOffsets(this.opts.kafka, this.opts.inputTopic);
    const results = await Promise.allSettled(fresh.map(async ({ topic, partition }) => {
      const started = Date.now();
      const opened = await this.openPartition(topic, partition);
      const end = ends.get(partition) ?? 0n;
      const { nextOffset, pendingTimers } = opened.runner.snapshot;
      const caughtUp = (nextOffset ?? 0n) >= end;
      this.partitions.set(`${topic}/${partition}`, { topic, partition, ...opened, caughtUp, queue: Promise.resolve(), ...committedPosition(opened.runner) });
      this.metrics.partitionsAssigned.set(this.partitions.size);
      this.metrics.restoredRecords.inc(opened.restoredRecords);
      this.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(end - (nextOffset ?? 0n)));
      this.opts.log.info('partition assigned', {
        topic, partition, nextOffset: nextOffset?.toString() ?? 'none', endOffset: end.toString(),
        timers: pendingTimers, restoredRecords: opened.restoredRecords, openMs: Date.now() - started,
      });
    }));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Open a partition's state: the transactional producer first (exactly-once:
   * fencing and aborting whatever an earlier owner left open), then the
   * store, brought level with the changelog, then the rules over it, in
   * this thread or (closed here and reopened there) in the partition's
   * worker thread.
   */
  private async openPartition(topic: string, partition: number): Promise<OpenPartition> {
    let producer: KafkaSink | undefined;
    if (this.opts.exactlyOnce) {
      producer = new KafkaSink({ ...this.opts.kafka, transactionalId: transactionalIdFor(this.opts.groupId, topic, partition) });
      await producer.connect();
    }
    const stateDir = this.stateDirOf(topic, partition);
    const label = `${topic}/${partition}`;
    // The store is restored where it will be used: in the partition's worker
    // thread, which writes RocksDB while this thread reads the changelog; or here.
    let store: PartitionStore | undefined;
    let target: RestoreTarget;
    let closeStore: () => Promise<void>;
    try {
      if (this.pool) {
        const remote = await this.pool.openForRestore(partition, label, stateDir);
        target = remote;
        closeStore = () => remote.close();
      } else {
        const local = await openRocksStore(stateDir);
        store = local;
        closeStore = () => local.close();
        target = await StoreRestoreTarget.open(local).catch(async (err: unknown) => { await local.close().catch(() => undefined); throw err; });
      }
    } catch (err) {
      await producer?.disconnect().catch(() => undefined);
      throw err;
    }
    try {
      const restored = await restoreFromChangelog(target, label, this.opts.log,
        (from, onBatch) => readPartitionColumns(this.opts.kafka, this.opts.changelogTopic, partition, from, onBatch));
      if (restored.unfinishedKeys.length > 0) {
        const repair = (await repairWrites(target, restored.unfinishedKeys)).map((w) => ({
          topic: this.opts.changelogTopic, partition, key: w.key, value: w.value === null ? null : Buffer.from(w.value),
        }));
        const first = (await this.produce(producer, repair, undefined)).get(`${this.opts.changelogTopic}/${partition}`);
        if (first !== undefined) await target.apply(checkpointOnly(first + BigInt(repair.length) - 1n));
      }
      const runner = this.pool
        ? await this.pool.open(partition, label, stateDir, this.opts.plan, this.taskOptions())
        : await LocalPartition.open(this.opts.plan, store!, this.taskOptions());
      return { runner, producer, restoredRecords: restored.records };
    } catch (err) {
      await closeStore().catch(() => undefined);
      await producer?.disconnect().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Produce records and wait for their acknowledgement; exactly-once: in one
   * transaction, with the input offset when given.
   */
  private async produce(producer: KafkaSink | undefined, records: SinkRecord[], offset: { topic: string; partition: number; nextOffset: bigint } | undefined): Promise<Map<string, bigint>> {
    if (!producer) return this.sink.send(records);
    if (records.length === 0 && !offset) return new Map();
    await producer.begin();
    try {
      const firsts = await producer.send(records);
      if (offset) await producer.sendOffsets(this.source.groupMember, [offset]);
      await producer.commitTransaction();
      return firsts;
    } catch (err) {
      await producer.abortTransaction();
      throw err;
    }
  }

  private async revoke(parts: { topic: string; partition: number }[]): Promise<void> {
    for (const { topic, partition } of parts) {
      const key = `${topic}/${partition}`;
      const entry = this.partitions.get(key);
      if (!entry) continue;
      this.partitions.delete(key);
      await entry.queue.catch(() => undefined);
      if (!entry.producer) {
        try {
          await entry.committing;
          if (entry.dirty) {
            await this.commitState(entry);
            await entry.committing;
          }
        } catch (err) {
          this.opts.log.warn('could not commit a revoked partition\'s state; its next owner reads again from the last commit (duplicate output, nothing lost)',
            { topic, partition, error: (err as Error).message });
        }
      }
      await entry.runner.close();
      await entry.producer?.disconnect().catch(() => undefined);
      this.metrics.partitionsAssigned.set(this.partitions.size);
      this.metrics.consumerLag.remove({ topic, partition: String(partition) });
      this.metrics.timersPending.remove({ partition: String(partition) });
      this.stateBounds.forget(partition);
      this.opts.log.info('partition revoked', { topic, partition });
    }
  }

  /** Run `work` after everything queued on that partition; failures propagate to the caller. */
  private enqueue(key: string, work: (entry: PartitionEntry) => Promise<void>): Promise<void> {
    const entry = this.partitions.get(key);
    if (!entry) return Promise.reject(new Error(`batch for ${key}, which this process does not own`));
    const next = entry.queue.then(() => work(entry));
    entry.queue = next.catch(() => undefined);
    return next;
  }

  private async processBatch(entry: PartitionEntry, batch: PartitionBatch): Promise<void> {
    const started = performance.now();
    const from = entry.appliedNext;
    // Offsets from the batch's columns when it has them: no record objects are made for them.
    const columns = batch.columns;
    const count = columns ? columns.count : batch.records.length;
    const offsetAt = columns ? (i: number): bigint => BigInt(columns.offsets[i]!) : (i: number): bigint => batch.records[i]!.offset;
    const firstOffset = count > 0 ? offsetAt(0) : undefined;
    if (from !== undefined && firstOffset !== undefined && firstOffset > from) {
      this.opts.log.error('records skipped: the consumer group delivered a later offset than the state holds; ' +
        'was the state directory replaced by an older copy while the changelog was deleted?',
      { topic: entry.topic, partition: entry.partition, stateNextOffset: from.toString(), delivered: firstOffset.toString() });
    }
    // Records below the applied offset are already in the state (delivered
    // again after a restart): the first `skip` (offsets ascend in a batch).
    let skip = 0;
    if (from !== undefined) while (skip < count && offsetAt(skip) < from) skip++;
    if (skip === count) {
      // Nothing to apply, and nothing to write: the stored offset must never move back.
      if (from !== undefined) entry.caughtUp = from >= batch.highWatermark;
      // The group's offset is behind the state's (a process killed between writing its state and
      // committing): bring it level, or it stays behind, as lag, until the next record arrives.
      // (Exactly-once commits both in one transaction: they cannot differ.)
      if (from !== undefined && !entry.producer && entry.uncommittedFrom === undefined) {
        await this.source.commit([{ topic: entry.topic, partition: entry.partition, nextOffset: from }]);
      }
      return;
    }
    const fresh = count - skip;
    const next = offsetAt(count - 1) + 1n;
    let input: InputRecord[] | undefined;
    let result: StepResult;
    if (columns && !this.opts.valueDecoder) {
      // JSON from a batch of columns: to the rules as columns, no object per record.
      result = await entry.runner.processPacked(packColumns(columns, skip, { topic: entry.topic, partition: entry.partition }));
    } else {
      // Decoded values (Avro) go to the rules; dead letters keep the bytes read.
      input = batch.records.slice(skip).map(inputRecordOf);
      result = await decodeThenProcess(this.opts.valueDecoder, input, (records) => entry.runner.process(records), this.opts.log);
    }
    entry.uncommittedFrom ??= offsetAt(skip);
    entry.appliedNext = next;
    entry.dirty = true;
    entry.lastBatchAt = performance.now();
    const bad: BadRecord[] = result.bad.map((b) => ({ record: input?.[b.index] ?? inputRecordOf(batch.records[skip + b.index]!), index: b.index, reason: b.reason, ...(b.clock ? { clock: true } : {}) }));
    this.counters.recordsIn += fresh;
    this.counters.applied += result.applied;
    this.counters.skipped += result.skipped;
    this.counters.bad += bad.length;
    this.metrics.eventsIn.inc({ topic: entry.topic }, fresh);
    this.metrics.eventsApplied.inc(result.applied);
    this.metrics.recordsSkipped.inc(result.skipped);
    if (bad.length > 0) {
      this.metrics.badRecords.inc({ topic: entry.topic }, bad.length);
      const clock = bad.filter((b) => b.clock).length;
      if (clock > 0) this.metrics.clockRefused.inc({ topic: entry.topic }, clock);
    }
    const records = [...this.outputRecords(result.outputs), ...this.deadLetters(bad)];
    for (const b of bad) {
      this.opts.log.warn('bad record sent to dead-letter topic', {
        topic: entry.topic, partition: entry.partition,
        offset: b.record.cause && 'offset' in b.record.cause ? b.record.cause.offset : undefined, reason: b.reason,
      });
    }
    try {
      if (entry.producer) {
        await this.commitExactlyOnce(entry, records, next);
        this.observeLatency(batch, skip, count);
      } else {
        // Output first: it goes out now, in batch order, and the commit waits
        // until all of it is acknowledged, so that a changelog copy can never
        // get ahead of the output it covers.
        await this.sendOutput(entry, records);
        this.observeLatency(batch, skip, count);
        if (performance.now() - entry.lastCommitAt >= this.commitIntervalMs) await this.commitState(entry);
      }
    } catch (err) {
      await this.reopen(entry, err);
      throw err;
    }
    entry.caughtUp = next >= batch.highWatermark;
    this.metrics.batchSeconds.observe((performance.now() - started) / 1000);
    this.metrics.consumerLag.set({ topic: entry.topic, partition: String(entry.partition) }, Math.max(0, Number(batch.highWatermark - next)));
    this.metrics.timersPending.set({ partition: String(entry.partition) }, entry.runner.snapshot.pendingTimers);
    this.stateBounds.observe(entry.topic, entry.partition, entry.runner.snapshot);
  }

  /**
   * Each applied record's latency so far: now, its output handed to the
   * producer (exactly-once: its transaction committed), less its Kafka
   * timestamp (the producer's CreateTime, or the broker's LogAppendTime where
   * the topic says so).
   */
  private observeLatency(batch: PartitionBatch, from: number, count: number): void {
    const now = Date.now();
    const timestamps = batch.columns?.timestamps;
    for (let i = from; i < count; i++) {
      const ts = timestamps ? timestamps[i]! : batch.records[i]!.timestamp;
      if (ts > 0) this.metrics.recordLatency.observe(Math.max(0, now - ts) / 1000);
    }
  }

  private get commitIntervalMs(): number {
    return this.opts.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
  }

  /**
   * After a failed commit the task's memory is ahead of what was committed:
   * start the partition again from its committed state, and read the input
   * again from the first record applied since (the consumer is moved back
   * there; the batch in hand is not applied). A fenced partition belongs to
   * another process now: give it up instead.
   */
  private async reopen(entry: PartitionEntry, cause: unknown): Promise<void> {
    const key = `${entry.topic}/${entry.partition}`;
    // A commit still being written goes on with the runner: let it finish first.
    await entry.committing?.catch(() => undefined);
    await entry.runner.close().catch(() => undefined);
    await entry.producer?.disconnect().catch(() => undefined);
    if (cause instanceof KafkaConnectorError && cause.code === 'fenced') {
      this.partitions.delete(key);
      this.opts.log.error('partition given up: another instance took it over (this process was fenced); ' +
        'nothing of the failed batch was committed', { topic: entry.topic, partition: entry.partition, error: cause.message });
      return;
    }
    this.counters.reopened++;
    this.metrics.commitFailures.inc();
    const rewindTo = entry.uncommittedFrom;
    this.opts.log.warn('commit failed; reopening the partition from its committed state, the batch will be read again',
      { topic: entry.topic, partition: entry.partition, error: (cause as Error).message, readAgainFrom: rewindTo?.toString() });
    const opened = await this.untilKafkaAnswers(() => this.openPartition(entry.topic, entry.partition));
    entry.runner = opened.runner;
    entry.producer = opened.producer;
    Object.assign(entry, committedPosition(opened.runner));
    if (rewindTo !== undefined) this.source.seek(entry.topic, entry.partition, rewindTo);
  }

  private changelogRecords(entry: PartitionEntry, copy: ChangelogCopy): SinkRecord[] {
    return copy.map((w) => ({
      topic: this.opts.changelogTopic, partition: entry.partition, key: w.key,
      value: w.value === null ? null : Buffer.from(w.value.buffer, w.value.byteOffset, w.value.byteLength),
    }));
  }

  private committed(entry: PartitionEntry): void {
    entry.dirty = false;
    entry.uncommittedFrom = undefined;
    entry.lastCommitAt = performance.now();
  }

  /**
   * At-least-once: produce a batch's output without waiting for its
   * acknowledgement, unless MAX_UNACKED_BATCHES are waiting already. A
   * failed send surfaces at the next wait for it (here or in the commit),
   * which reopens the partition: its output is produced again.
   */
  private async sendOutput(entry: PartitionEntry, records: SinkRecord[]): Promise<void> {
    if (records.length === 0) return;
    const sent = this.sink.send(records);
    sent.catch(() => undefined); // awaited below or by the commit
    entry.unacked.push(sent);
    if (entry.unacked.length > MAX_UNACKED_BATCHES) await entry.unacked.shift();
  }

  /**
   * At-least-once, steps 2 to 4 of the commit order, for everything applied
   * since the last commit. In the partition's turn, only the state is taken
   * (prepareCommit); the rest goes on while the partition's next batches
   * run, so that they do not wait for the broker twice and for RocksDB: once
   * the output the commit covers is acknowledged, the changelog copy,
   * acknowledged; the local write; the input offset. One commit at a time:
   * the next one waits until this one is written. A commit that fails
   * reopens the partition, which reads everything since the last commit
   * written again.
   */
  private async commitState(entry: PartitionEntry): Promise<void> {
    if (entry.committing) {
      try {
        await entry.committing;
      } catch {
        return; // its failure reopens the partition (commitFailed), which commits nothing of this runner
      }
    }
    const next = entry.appliedNext;
    const unacked = entry.unacked;
    entry.unacked = [];
    const runner = entry.runner;
    const copy = await runner.prepareCommit(next);
    entry.dirty = false;
    entry.lastCommitAt = performance.now();
    const written = (async () => {
      await Promise.all(unacked);
      const changelog = this.changelogRecords(entry, copy);
      const first = (await this.sink.send(changelog)).get(`${this.opts.changelogTopic}/${entry.partition}`);
      await runner.writeCommit(first === undefined ? undefined : first + BigInt(changelog.length) - 1n);
    })();
    entry.committing = written;
    written.then(() => {
      if (entry.committing === written) entry.committing = undefined;
      if (entry.runner !== runner) return; // reopened meanwhile: its position is the reopened one's
      // Applied since the prepare: read again from there if the next commit fails.
      entry.uncommittedFrom = entry.appliedNext === next ? undefined : next;
      // Only where a new owner starts reading (the state's own offset decides
      // what is applied), so it need not hold anything up.
      if (next !== undefined) this.source.commitSoon({ topic: entry.topic, partition: entry.partition, nextOffset: next });
    }, (err: unknown) => this.commitFailed(entry, runner, err));
  }

  /** A commit written in the background failed: reopen the partition in its turn, unless that happened already. */
  private commitFailed(entry: PartitionEntry, runner: PartitionRunner, err: unknown): void {
    const key = `${entry.topic}/${entry.partition}`;
    if (this.partitions.get(key) !== entry || entry.runner !== runner) return;
    this.enqueue(key, async (e) => {
      if (e.runner === runner) await this.reopen(e, err);
    }).catch((reopenErr: unknown) => {
      this.opts.log.error('reopening the partition after a failed commit failed; will retry with the next batch',
        { topic: entry.topic, partition: entry.partition, error: (reopenErr as Error).message });
    });
  }

  /** Exactly-once: output, changelog copy and input offset in one transaction, then the local state. */
  private async commitExactlyOnce(entry: PartitionEntry, records: SinkRecord[], nextOffset: bigint | undefined): Promise<void> {
    const changelog = this.changelogRecords(entry, await entry.runner.prepareCommit(nextOffset));
    const offset = nextOffset === undefined ? undefined : { topic: entry.topic, partition: entry.partition, nextOffset };
    const first = (await this.produce(entry.producer, [...records, ...changelog], offset)).get(`${this.opts.changelogTopic}/${entry.partition}`);
    await entry.runner.writeCommit(first === undefined ? undefined : first + BigInt(changelog.length) - 1n);
    this.committed(entry);
  }

  /** Every tickMs (wall clock): caught-up partitions move to the machine's time, and the timers due by then fire. */
  private tick(): void {
    const now = Date.now();
    for (const entry of this.partitions.values()) {
      if (!entry.caughtUp || entry.runner.snapshot.clock >= now) continue;
      this.onPartition(entry, 'clock tick', async (e) => {
        const step = await e.runner.advanceTo(now);
        if (step.outputs.length === 0) return;
        e.dirty = true;
        if (e.producer) await this.commitExactlyOnce(e, this.outputRecords(step.outputs), undefined);
        else await this.sendOutput(e, this.outputRecords(step.outputs));
      });
    }
  }

  /**
   * Every IDLE_COMMIT_MS (at-least-once): commit what a partition applied
   * since its last commit once the interval has passed, or once it has been
   * idle for IDLE_COMMIT_MS.
   */
  private commitIdle(): void {
    const due = (e: PartitionEntry, now: number): boolean =>
      e.dirty && (now - e.lastCommitAt >= this.commitIntervalMs || now - e.lastBatchAt >= IDLE_COMMIT_MS);
    for (const entry of this.partitions.values()) {
      if (entry.producer || !due(entry, performance.now())) continue;
      this.onPartition(entry, 'commit', async (e) => {
        if (due(e, performance.now())) await this.commitState(e);
      });
    }
  }

  /** Work on a partition outside a batch: a failure reopens it, is logged, and is tried again next time. */
  private onPartition(entry: PartitionEntry, what: string, work: (e: PartitionEntry) => Promise<void>): void {
    this.enqueue(`${entry.topic}/${entry.partition}`, async (e) => {
      try {
        await work(e);
      } catch (err) {
        await this.reopen(e, err);
        throw err;
      }
    }).catch((err: unknown) => {
      this.opts.log.error(`${what} failed; will retry`, { topic: entry.topic, partition: entry.partition, error: (err as Error).message });
    });
  }

  private outputRecords(outputs: OutputEvent[]): SinkRecord[] {
    const records: SinkRecord[] = [];
    for (const o of outputs) {
      if (o.type === 'enter') this.counters.enters++; else this.counters.leaves++;
      this.metrics.segmentEvents.inc({ audience: o.audience, type: o.type });
      records.push({ topic: this.opts.outputTopic, key: o.customer, value: (this.opts.encodeOutput ?? outputEventJson)(o) });
      records.push({
        topic: this.opts.membershipTopic,
        key: `${o.audience}/${o.customer}`,
        value: o.type === 'enter' ? JSON.stringify({ audience: o.audience, customer: o.customer, since: o.at, version: o.version }) : null,
      });
    }
    return records;
  }

  private taskOptions(): PartitionTaskOptions {
    return {
      ...(this.opts.cacheCustomers !== undefined ? { cacheCustomers: this.opts.cacheCustomers } : {}),
      ...(this.opts.clockGuard ? { clockGuard: this.opts.clockGuard } : {}),
    };
  }

  private deadLetters(bad: BadRecord[]): SinkRecord[] {
    return bad.map((b) => {
      const cause = b.record.cause && 'offset' in b.record.cause ? b.record.cause : undefined;
      const value = b.record.value;
      const headers: Record<string, string> = { 'aud.error': b.reason };
      if (cause) {
        headers['aud.source.topic'] = cause.topic;
        headers['aud.source.partition'] = String(cause.partition);
        headers['aud.source.offset'] = cause.offset;
      }
      return {
        topic: this.opts.deadLetterTopic,
        key: b.record.key ?? null,
        value: value === null ? null : typeof value === 'string' ? value : value instanceof Uint8Array ? Buffer.from(value) : JSON.stringify(value),
        headers,
      };
    });
  }
}

/** A consumed record as the rules take it, with its Kafka position as the cause. */
function inputRecordOf(r: SourceRecord): InputRecord {
  return {
    value: r.value,
    key: r.key ? r.key.toString('utf8') : null,
    timestamp: r.timestamp,
    cause: { topic: r.topic, partition: r.partition, offset: r.offset.toString() },
  };
}
