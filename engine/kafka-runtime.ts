/**
 * The long-lived engine on Kafka (`aud run`).
 *
 * One PartitionTask per assigned input partition, each with its own RocksDB
 * store under `<state-dir>/<topic>-<partition>`. Work on one partition is
 * serialised (batches and clock ticks queue behind each other); partitions
 * proceed independently.
 *
 * Commit order, per batch of one partition (at-least-once):
 *   1. process the records (state changes stay in memory);
 *   2. produce the enter/leave events, membership updates and dead letters
 *      and wait until the broker acknowledged them; then produce the
 *      changelog copy of the state changes and wait for it. In this order: a
 *      crash between the two replays the batch (duplicates, never a loss),
 *      while a changelog that got ahead of the output would make the restart
 *      skip a batch whose output never arrived;
 *   3. write the state, the timer index, the partition's next input offset
 *      and the changelog checkpoint to RocksDB in one atomic batch;
 *   4. commit the next offset to the consumer group.
 * A crash before 3 replays the batch: its output may be produced twice (same
 * `version`, so consumers can drop it) but never lost. A crash between 3 and
 * 4 is harmless: the offset stored with the state is authoritative, and
 * records below it are skipped when they are delivered again. A process that
 * lost its disk (or takes over a partition) restores the state from the
 * changelog (engine/changelog.ts) before it reads the partition.
 *
 * Clock: each partition follows the event time of the records it reads while
 * it has a backlog, and the wall clock once it has caught up (its last record
 * reached the high watermark); then a tick every `tickMs` fires the timers
 * due by the machine's time. A backlog never fires a timer that one of its own
 * queued events would have cancelled.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureTopics, endOffsets, partitionCount } from '../connectors/kafka/admin.js';
import { KafkaConnectorError } from '../connectors/kafka/errors.js';
import type { KafkaOptions } from '../connectors/kafka/options.js';
import { KafkaSink, type SinkRecord } from '../connectors/kafka/sink.js';
import { readPartition } from '../connectors/kafka/partition-reader.js';
import { KafkaSource, type PartitionBatch } from '../connectors/kafka/source.js';
import type { Plan } from '../dsl/plan.js';
import { checkpointWrite, repairWrites, restoreFromChangelog } from './changelog.js';
import type { InputRecord } from './input-record.js';
import type { Logger } from './log.js';
import { outputEventJson, type OutputEvent } from './output-event.js';
import { PartitionTask, type BadRecord } from './partition-task.js';
import { isLoggedKey } from './state-keys.js';
import { openRocksStore } from './state/rocksdb-store.js';
import type { PartitionStore } from './state/store.js';

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
  log: Logger;
}

export interface RuntimeCounters {
  recordsIn: number;
  applied: number;
  skipped: number;
  bad: number;
  enters: number;
  leaves: number;
}

interface PartitionEntry {
  topic: string;
  partition: number;
  task: PartitionTask;
  store: PartitionStore;
  caughtUp: boolean;
  /** Work on this partition, in order. */
  queue: Promise<void>;
}

export class KafkaRuntime {
  private readonly partitions = new Map<string, PartitionEntry>();
  private readonly source: KafkaSource;
  private readonly sink: KafkaSink;
  private ticker: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly counters: RuntimeCounters = { recordsIn: 0, applied: 0, skipped: 0, bad: 0, enters: 0, leaves: 0 };

  constructor(private readonly opts: KafkaRuntimeOptions) {
    this.source = new KafkaSource({ ...opts.kafka, groupId: opts.groupId, topics: [opts.inputTopic] });
    this.sink = new KafkaSink(opts.kafka);
  }

  async start(): Promise<void> {
    const { opts } = this;
    const partitions = await this.untilKafkaAnswers(() => partitionCount(opts.kafka, opts.inputTopic));
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
    opts.log.info('engine started', {
      input: opts.inputTopic, partitions, output: opts.outputTopic, group: opts.groupId, clock: opts.clock, stateDir: opts.stateDir,
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
    await this.source.stop();
    // The source revokes every partition on stop; close what may remain.
    await this.revoke([...this.partitions.values()].map((p) => ({ topic: p.topic, partition: p.partition })));
    await this.sink.disconnect();
    this.opts.log.info('engine stopped', { ...this.counters });
  }

  private async assign(parts: { topic: string; partition: number }[]): Promise<void> {
    if (parts.length === 0) return;
    const ends = await endOffsets(this.opts.kafka, this.opts.inputTopic);
    for (const { topic, partition } of parts) {
      const key = `${topic}/${partition}`;
      if (this.partitions.has(key)) continue;
      const started = Date.now();
      const store = await openRocksStore(join(this.opts.stateDir, `${topic}-${partition}`));
      const restored = await restoreFromChangelog(store, `${topic}/${partition}`, this.opts.log,
        (from, onBatch) => readPartition(this.opts.kafka, this.opts.changelogTopic, partition, from, onBatch));
      if (restored.unfinishedKeys.length > 0) {
        const repair = (await repairWrites(store, restored.unfinishedKeys)).map((w) => ({
          topic: this.opts.changelogTopic, partition, key: w.key, value: w.value === null ? null : Buffer.from(w.value),
        }));
        const first = (await this.sink.send(repair)).get(`${this.opts.changelogTopic}/${partition}`);
        if (first !== undefined) await store.write([checkpointWrite(first + BigInt(repair.length) - 1n)]);
      }
      const task = await PartitionTask.open(this.opts.plan, store);
      const end = ends.get(partition) ?? 0n;
      const caughtUp = (task.nextOffset ?? 0n) >= end;
      this.partitions.set(key, { topic, partition, task, store, caughtUp, queue: Promise.resolve() });
      this.opts.log.info('partition assigned', {
        topic, partition, nextOffset: task.nextOffset?.toString() ?? 'none', endOffset: end.toString(),
        timers: task.pendingTimers, restoredRecords: restored.records, openMs: Date.now() - started,
      });
    }
  }

  private async revoke(parts: { topic: string; partition: number }[]): Promise<void> {
    for (const { topic, partition } of parts) {
      const key = `${topic}/${partition}`;
      const entry = this.partitions.get(key);
      if (!entry) continue;
      this.partitions.delete(key);
      await entry.queue.catch(() => undefined);
      await entry.store.close();
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
    const from = entry.task.nextOffset;
    const firstOffset = batch.records[0]?.offset;
    if (from !== undefined && firstOffset !== undefined && firstOffset > from) {
      this.opts.log.error('records skipped: the consumer group delivered a later offset than the state holds; ' +
        'was the state directory replaced by an older copy while the changelog was deleted?',
      { topic: entry.topic, partition: entry.partition, stateNextOffset: from.toString(), delivered: firstOffset.toString() });
    }
    // Records below the state's offset are already in it (delivered again after a restart).
    const fresh = from === undefined ? batch.records : batch.records.filter((r) => r.offset >= from);
    const last = batch.records[batch.records.length - 1];
    if (!last || fresh.length === 0) {
      // Nothing to apply, and nothing to write: the stored offset must never move back.
      if (from !== undefined) entry.caughtUp = from >= batch.highWatermark;
      return;
    }
    const input: InputRecord[] = fresh.map((r) => ({
      value: r.value,
      key: r.key ? r.key.toString('utf8') : null,
      timestamp: r.timestamp,
      cause: { topic: r.topic, partition: r.partition, offset: r.offset.toString() },
    }));
    const result = await entry.task.process(input);
    this.counters.recordsIn += fresh.length;
    this.counters.applied += result.applied;
    this.counters.skipped += result.skipped;
    this.counters.bad += result.bad.length;
    const records = [...this.outputRecords(result.outputs), ...this.deadLetters(result.bad)];
    for (const b of result.bad) {
      this.opts.log.warn('bad record sent to dead-letter topic', {
        topic: entry.topic, partition: entry.partition,
        offset: b.record.cause && 'offset' in b.record.cause ? b.record.cause.offset : undefined, reason: b.reason,
      });
    }
    const next = last.offset + 1n;
    await this.commitPartition(entry, records, next);
    await this.source.commit([{ topic: entry.topic, partition: entry.partition, nextOffset: next }]);
    entry.caughtUp = next >= batch.highWatermark;
  }

  /** Steps 2 and 3 of the commit order: output acknowledged, then the changelog, then the local state written. */
  private async commitPartition(entry: PartitionEntry, records: SinkRecord[], nextOffset: bigint | undefined): Promise<void> {
    const writes = entry.task.prepareCommit(nextOffset);
    const changelog: SinkRecord[] = writes.filter((w) => isLoggedKey(w.key)).map((w) => ({
      topic: this.opts.changelogTopic, partition: entry.partition, key: w.key,
      value: w.type === 'put' ? Buffer.from(w.value.buffer, w.value.byteOffset, w.value.byteLength) : null,
    }));
    await this.sink.send(records);
    const first = (await this.sink.send(changelog)).get(`${this.opts.changelogTopic}/${entry.partition}`);
    await entry.task.writeCommit(first === undefined ? writes : [...writes, checkpointWrite(first + BigInt(changelog.length) - 1n)]);
  }

  private tick(): void {
    const now = Date.now();
    for (const entry of this.partitions.values()) {
      if (!entry.caughtUp || entry.task.clock >= now) continue;
      this.enqueue(`${entry.topic}/${entry.partition}`, async (e) => {
        const outputs = await e.task.advanceTo(now);
        if (outputs.length === 0) return;
        await this.commitPartition(e, this.outputRecords(outputs), undefined);
      }).catch((err: unknown) => {
        this.opts.log.error('clock tick failed; will retry on the next tick', {
          topic: entry.topic, partition: entry.partition, error: (err as Error).message,
        });
      });
    }
  }

  private outputRecords(outputs: OutputEvent[]): SinkRecord[] {
    const records: SinkRecord[] = [];
    for (const o of outputs) {
      if (o.type === 'enter') this.counters.enters++; else this.counters.leaves++;
      records.push({ topic: this.opts.outputTopic, key: o.customer, value: outputEventJson(o) });
      records.push({
        topic: this.opts.membershipTopic,
        key: `${o.audience}/${o.customer}`,
        value: o.type === 'enter' ? JSON.stringify({ audience: o.audience, customer: o.customer, since: o.at, version: o.version }) : null,
      });
    }
    return records;
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
