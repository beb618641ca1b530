/**
 * The long-lived engine on Kafka (`aud run`): the partitions this process
 * owns, and what happens to each.
 *
 * One PartitionTask per assigned input partition, each with its own RocksDB
 * store under `<state-dir>/<topic>-<partition>` (naming.ts), opened and
 * restored from the changelog by open-partition.ts, in this thread or in a
 * worker thread (worker/). Work on one partition is serialised (batches,
 * clock ticks and commits queue behind each other); partitions proceed
 * independently. What a partition has applied and not committed, in either
 * delivery mode, is its PartitionCommits' (partition-commits.ts: the commit
 * protocol, step by step).
 *
 * A commit that fails leaves the rules' memory ahead of what was committed:
 * the partition is opened again from its committed state (store plus
 * changelog) and the consumer moved back to the first record applied since
 * the last commit written, so that everything uncommitted is read again. A
 * fenced partition (exactly-once: another process owns it now) is given up.
 *
 * Threads (`workers`): with 0, every partition's rules run in this thread;
 * with N, partition p runs in worker thread p mod N, which owns its RocksDB
 * store. Kafka (reading the changelog for a restore too) and the commit order
 * stay here either way: a worker only evaluates, and writes its store.
 *
 * Clock: each partition follows the event time of the records it reads while
 * it has a backlog, and the wall clock once it has caught up (its last record
 * reached the high watermark); then a tick every `tickMs` fires the timers
 * due by the machine's time. A backlog never fires a timer that one of its own
 * queued events would have cancelled.
 */
import { mkdir } from 'node:fs/promises';
import { ensureTopics, endOffsets, groupMembers, partitionCount } from '../connectors/kafka/admin.js';
import { missingPatches } from '../connectors/kafka/client-patches.js';
import { KafkaConnectorError } from '../connectors/kafka/errors.js';
import type { KafkaOptions } from '../connectors/kafka/options.js';
import { KafkaSink } from '../connectors/kafka/sink.js';
import { KafkaSource, type PartitionBatch } from '../connectors/kafka/source.js';
import type { Plan } from '../dsl/plan.js';
import type { ClockGuardOptions } from '../engine/clock-guard.js';
import type { Logger } from '../engine/log.js';
import { outputEventJson, type OutputEvent } from '../engine/output-event.js';
import type { CustomerWhy } from '../engine/customer-why.js';
import type { BadRecord, CustomerView, ErasureReceipt, PartitionTaskOptions } from '../engine/partition-task.js';
import { recordAt, sliceBatch } from '../engine/record-batch.js';
import { isRuleChangeRefusal, planRuleChange, ruleChangeRefusal } from '../engine/rule-change.js';
import { readPartitionColumns } from '../connectors/kafka/partition-reader.js';
import { decodeThenProcess, type ValueDecoder } from '../engine/value-decoder.js';
import { BadRecordLog } from './bad-record-log.js';
import { COMPACTED_TOPIC_CONFIG } from './compacted-topics.js';
import type { PartitionState } from './dashboard-routes.js';
import { EventTail } from './event-tail.js';
import { directoryBytes, EngineMetrics } from './metrics.js';
import { partitionStateDir, sizeHistoryFile } from './naming.js';
import { openPartition, type OpenContext, type OpenedPartition } from './open-partition.js';
import { deadLetters, outputRecords, packedOutputRecords } from './output-records.js';
import { audienceCounts, decisionCounts, packedEventTexts, type AudienceCounts } from './packed-output.js';
import { IDLE_COMMIT_MS, PartitionCommits, type CommitContext } from './partition-commits.js';
import { SizeHistory } from './size-history.js';
import { StateBounds } from './state-bounds.js';
import { LocalHost } from './worker/local-host.js';
import type { PartitionHost } from './worker/partition-host.js';
import type { DeployFinish, PartitionRunner, RunnerStep } from './worker/partition-runner.js';
import { WorkerPool } from './worker/worker-pool.js';

/**
 * At-least-once commit interval (Kafka Streams' commit.interval.ms). Longer
 * means fewer encodings of a busy customer (one per commit, not per batch),
 * but a longer stall when it comes (the p99 latency) and more output repeated
 * per partition after a crash. Why 200 ms: docs/decisions/2026-12-03-tuning-figures.md.
 */
export const DEFAULT_COMMIT_INTERVAL_MS = 200; // also the default of `aud run --commit-interval-ms`

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
  /** The engine cannot go on (rules it can never run on a partition's state): the caller stops it and exits non-zero. */
  onFatal?(err: Error): void;
}

export interface RuntimeCounters {
  recordsIn: number;
  applied: number;
  skipped: number;
  bad: number;
  enters: number;
  leaves: number;
  decisions: number;
  /** Partitions reopened after a failed commit. */
  reopened: number;
}

interface PartitionEntry {
  topic: string;
  partition: number;
  runner: PartitionRunner;
  /** What it applied and has not committed, and how it commits (replaced when the partition is opened again). */
  commits: PartitionCommits;
  caughtUp: boolean;
  /** The input partition's end as of the last batch (or the assignment): the dashboard's lag. */
  highWatermark: bigint | undefined;
  /** Work on this partition, in order. */
  queue: Promise<void>;
}

export class KafkaRuntime {
  private readonly partitions = new Map<string, PartitionEntry>();
  private readonly source: KafkaSource;
  private readonly sink: KafkaSink;
  /** Where the partitions' stores and rules live: worker threads, or this thread. */
  private readonly host: PartitionHost;
  private ticker: NodeJS.Timeout | undefined;
  private committer: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly counters: RuntimeCounters = { recordsIn: 0, applied: 0, skipped: 0, bad: 0, enters: 0, leaves: 0, decisions: 0, reopened: 0 };
  readonly metrics: EngineMetrics;
  private readonly stateBounds: StateBounds;
  private readonly badRecordLog: BadRecordLog;
  private started = false;
  private partitionCount = 0;
  /** The rules in force: those the runtime started with, replaced by deploy(). */
  private plan: Plan;
  /** The rule change being rolled out over the owned partitions, if any (deploy()). */
  private deploying: RolloutStatus | undefined;
  /** The dashboard's live tail: enter/leave events once delivered (query API, `GET /events`). */
  readonly eventTail = new EventTail();
  /** The dashboard's sizes per minute over the last 24 h, kept in the state directory (`GET /sizes`). */
  readonly sizeHistory: SizeHistory;

  constructor(private readonly opts: KafkaRuntimeOptions) {
    this.plan = opts.plan;
    // The engine reads no input headers: the source may take the client's packed consume.
    this.source = new KafkaSource({ ...opts.kafka, groupId: opts.groupId, topics: [opts.inputTopic], headers: false });
    this.sink = new KafkaSink(opts.kafka);
    // Rule workers pack the enter/leave events as Kafka records, unless an Avro output format encodes them here.
    this.host = opts.workers > 0 ? new WorkerPool(opts.workers, opts.youngGenerationMb, opts.encodeOutput === undefined) : new LocalHost();
    this.metrics = new EngineMetrics({
      audienceSizes: () => this.audienceSizes().sizes,
      stateDirs: () => new Map([...this.partitions.values()].map((e) => [String(e.partition), this.stateDirOf(e.topic, e.partition)])),
    });
    this.stateBounds = new StateBounds(this.metrics, opts.log);
    this.badRecordLog = new BadRecordLog(opts.log);
    this.sizeHistory = new SizeHistory(sizeHistoryFile(opts.stateDir), () => this.audienceSizes().sizes, opts.log);
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

  /**
   * Members per audience over the partitions this process owns. During a
   * rule change, `warming` names the audiences it adds or changes: their
   * sizes are those of the old rules (or 0) until every partition has
   * built its new states and emitted its rule_change events.
   */
  audienceSizes(): { sizes: Record<string, number>; partitions: number[]; partitionCount: number; warming: string[]; deployment?: RolloutProgress } {
    const sizes: Record<string, number> = Object.fromEntries(this.plan.audiences.map((a) => [a.name, 0]));
    const partitions: number[] = [];
    for (const e of this.partitions.values()) {
      partitions.push(e.partition);
      for (const [a, n] of Object.entries(e.runner.snapshot.sizes)) sizes[a] = (sizes[a] ?? 0) + n;
    }
    const d = this.deploying;
    return {
      sizes, partitions: partitions.sort((a, b) => a - b), partitionCount: this.partitionCount, warming: d ? d.warming : [],
      ...(d ? { deployment: this.rolloutProgress(d) } : {}),
    };
  }

  private rolloutProgress(d: RolloutStatus): RolloutProgress {
    let historyEvents = 0;
    for (const e of this.partitions.values()) historyEvents += e.runner.snapshot.history ?? 0;
    return {
      rules: d.plan.fingerprint, since: new Date(d.started).toISOString(), partitionsLeft: [...d.left].sort((a, b) => a - b),
      historyEvents: historyEvents + d.historyEventsDone,
    };
  }

  /**
   * Replace the rules (`aud run` on SIGHUP or --watch). Each owned partition
   * deploys them in its turn (deployPartition), its batches waiting
   * behind; the other partitions go on meanwhile. Partitions assigned later
   * open on their stores' recorded plan and deploy these rules too.
   * Resolves when every owned partition runs them.
   */
  async deploy(plan: Plan): Promise<void> {
    const old = this.plan;
    if (plan.fingerprint === old.fingerprint) {
      this.opts.log.info('rules unchanged: nothing to deploy', { rules: plan.fingerprint });
      return;
    }
    const refused = rolloutRefusal(old, plan, this.opts);
    if (refused) throw new RuleChangeRefusedError(refused);
    const change = planRuleChange(old, plan);
    this.plan = plan;
    const count = (kind: string) => change.audiences.filter((a) => a.change === kind).length;
    const status: RolloutStatus = {
      plan, started: Date.now(), left: new Set([...this.partitions.values()].map((e) => e.partition)), historyEventsDone: 0,
      warming: change.audiences.filter((a) => a.change === 'added' || a.change === 'changed').map((a) => a.name),
    };
    this.deploying = status;
    this.metrics.audiencesWarming.set(status.warming.length);
    this.opts.log.info('deploying new rules', {
      rules: plan.fingerprint, added: count('added'), changed: count('changed'), removed: count('removed'), unchanged: count('unchanged'),
      newStates: change.newSlots.length, droppedStates: change.droppedSlots.length,
      history: change.historyMs === 0 ? 'none' : change.historyMs === Infinity ? 'all' : `${Math.round(change.historyMs / 3_600_000)} h`,
      partitions: status.left.size,
    });
    await Promise.all([...this.partitions.values()].map((e) => this.enqueue(`${e.topic}/${e.partition}`, (entry) => this.deployPartition(entry))
      .catch((err: unknown) => {
        this.opts.log.error('rule change on a partition failed; it is opened again from its committed state and tries again',
          { topic: e.topic, partition: e.partition, error: (err as Error).message });
      })));
  }

  /**
   * The rules in force onto one partition, if it runs others
   * (engine/deployment.ts): the old rules' output at the change, committed;
   * the history of the partition's input, from its start up to its next
   * offset (records before the new states' history are passed over by
   * event time), into the new states; the rule_change enters and leaves,
   * committed with those states. A failure reopens the partition from its
   * committed state, which runs the old rules again and deploys again.
   */
  private async deployPartition(entry: PartitionEntry): Promise<void> {
    const plan = this.plan;
    if (entry.runner.snapshot.rules === plan.fingerprint) return;
    const started = performance.now();
    const { topic, partition } = entry;
    try {
      await entry.commits.commitAndWait();
      const begin = await entry.runner.deployBegin(plan);
      await this.deliverAndCommit(entry, begin.step);
      let read = 0;
      let reachedBack: bigint | undefined;
      const nextOffset = entry.runner.snapshot.nextOffset;
      if (begin.historyFrom !== null && nextOffset !== undefined && nextOffset > 0n) {
        this.opts.log.info('reading the input again: the history of the new states', {
          topic, partition, upToOffset: nextOffset.toString(), fromTime: Number.isFinite(begin.historyFrom) ? new Date(begin.historyFrom).toISOString() : 'the first event',
        });
        let lastLog = performance.now();
        const range = await readPartitionColumns(this.opts.kafka, this.opts.inputTopic, partition, undefined, async (batch) => {
          await decodeThenProcess(this.opts.valueDecoder, batch, (b) => entry.runner.deployHistory(b), this.opts.log);
          // The states built so far, committed once they are many: memory holds that many customers, not the partition's.
          if (entry.runner.snapshot.pendingCustomers >= BUILD_COMMIT_CUSTOMERS) await this.deliverAndCommit(entry, EMPTY_STEP);
          read += batch.count;
          this.metrics.historyRecords.inc(batch.count);
          if (performance.now() - lastLog > 5000) {
            lastLog = performance.now();
            this.opts.log.info('building new states from history', { topic, partition, records: read, of: nextOffset.toString() });
          }
        }, nextOffset);
        reachedBack = range.from;
      }
      let enters = 0;
      let leaves = 0;
      let finish: DeployFinish;
      do {
        finish = await entry.runner.deployFinish(FINISH_CUSTOMERS);
        await this.deliverAndCommit(entry, finish.step);
        for (const c of stepCounts(finish.step)) {
          enters += c.enters;
          leaves += c.leaves;
        }
      } while (!finish.done);
      this.opts.log.info('rules deployed on partition', {
        topic, partition, at: Number.isFinite(begin.at) ? new Date(begin.at).toISOString() : 'before any event', rules: plan.fingerprint,
        historyRecords: read, historyEvents: finish.historyEvents, enters, leaves, ms: Math.round(performance.now() - started),
      });
      if (begin.historyFrom !== null && reachedBack !== undefined && reachedBack > 0n && finish.earliest > begin.historyFrom) {
        this.opts.log.warn('the input topic no longer holds all the history the new states need: they are built from what it holds', {
          topic, partition, needsFrom: Number.isFinite(begin.historyFrom) ? new Date(begin.historyFrom).toISOString() : 'the first event',
          holdsFrom: Number.isFinite(finish.earliest) ? new Date(finish.earliest).toISOString() : 'nothing', firstOffset: reachedBack.toString(),
          fix: 'supply the older history from files with aud backfill (docs/operations.md, "Changing rules")',
        });
      }
      const d = this.deploying;
      if (d && d.plan === plan) {
        d.left.delete(partition);
        d.historyEventsDone += finish.historyEvents;
        if (d.left.size === 0) this.rolloutDone(d);
      }
    } catch (err) {
      await this.reopen(entry, err);
      throw err;
    }
  }

  /** A rule change's step output: delivered, and committed with the state, before the next step. */
  private async deliverAndCommit(entry: PartitionEntry, step: RunnerStep): Promise<void> {
    entry.commits.changedByClock();
    this.countOutputs(step);
    await entry.commits.deliver(outputRecords(this.opts, step.outputs), undefined, packedOutputRecords(this.opts, step.packed), this.toTail(step));
    await entry.commits.commitAndWait();
  }

  private rolloutDone(d: RolloutStatus): void {
    this.deploying = undefined;
    this.metrics.audiencesWarming.set(0);
    this.opts.log.info('new rules in force on every owned partition', { rules: d.plan.fingerprint, seconds: Math.round((Date.now() - d.started) / 100) / 10, historyEvents: d.historyEventsDone });
  }

  /**
   * A customer's view from whichever owned partition knows them (asked in
   * turn, each between its batches); undefined when none does.
   */
  async customerView(customer: string): Promise<{ partition: number; view: CustomerView } | undefined> {
    const found = await this.askOwnedPartitions((runner) => runner.view(customer));
    return found && { partition: found.partition, view: found.answer };
  }

  /** A customer's why (engine/customer-why.ts) from whichever owned partition knows them, as customerView finds them. */
  async customerWhy(customer: string): Promise<CustomerWhy | undefined> {
    const found = await this.askOwnedPartitions((runner) => runner.why(customer));
    return found && { ...found.answer, partition: found.partition };
  }

  /** The first owned partition whose runner answers `ask` (in its queue, between batches), with its number. */
  private async askOwnedPartitions<T>(ask: (runner: PartitionRunner) => Promise<T | undefined>): Promise<{ partition: number; answer: T } | undefined> {
    for (const e of [...this.partitions.values()]) {
      let answer: T | undefined;
      await this.enqueue(`${e.topic}/${e.partition}`, async (entry) => { answer = await ask(entry.runner); }).catch(() => undefined);
      if (answer !== undefined) return { partition: e.partition, answer };
    }
    return undefined;
  }

  /** Each owned partition as the dashboard shows it (`GET /partitions`): its position in the input and its state. */
  async partitionStates(): Promise<PartitionState[]> {
    const entries = [...this.partitions.values()].sort((a, b) => a.partition - b.partition);
    return Promise.all(entries.map(async (e): Promise<PartitionState> => {
      const s = e.runner.snapshot;
      const applied = e.commits.appliedNext;
      const committed = e.commits.uncommittedFrom ?? applied;
      return {
        topic: e.topic, partition: e.partition, caughtUp: e.caughtUp,
        appliedOffset: applied?.toString() ?? null, committedOffset: committed?.toString() ?? null,
        highWatermark: e.highWatermark?.toString() ?? null,
        lag: e.highWatermark === undefined ? null : Math.max(0, Number(e.highWatermark - (applied ?? 0n))),
        clock: Number.isFinite(s.clock) ? new Date(s.clock).toISOString() : null,
        pendingTimers: s.pendingTimers, pendingCustomers: s.pendingCustomers, largestStateBytes: s.largestStateBytes,
        stateBytes: await directoryBytes(this.stateDirOf(e.topic, e.partition)),
        rules: s.rules, deploying: this.deploying?.left.has(e.partition) ?? false,
      };
    }));
  }

  /**
   * A step's enter/leave events for the dashboard's live tail, published
   * once delivered (PartitionCommits.deliver); nothing to do, not even
   * decoding, while no one watches.
   */
  private toTail(step: RunnerStep): (() => void) | undefined {
    if (!this.eventTail.listening) return undefined;
    return () => {
      const total = step.packed ? step.packed.events.count : step.outputs.length;
      try {
        const texts = step.packed ? packedEventTexts(step.packed, TAIL_STEP_LIMIT) : step.outputs.slice(0, TAIL_STEP_LIMIT).map(outputEventJson);
        this.eventTail.publish(texts, total - texts.length);
      } catch (err) {
        // A view of the output that failed must not fail the delivery it follows.
        this.opts.log.warn('the dashboard\'s live tail could not take a step\'s events', { error: (err as Error).message });
      }
    };
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
    if (opts.plan.source.identity && partitions > 1) throw new IdentityPartitionsError(opts.inputTopic, partitions);
    await ensureTopics(opts.kafka, [
      { topic: opts.outputTopic, partitions },
      { topic: opts.membershipTopic, partitions, config: { ...COMPACTED_TOPIC_CONFIG } },
      { topic: opts.deadLetterTopic, partitions: 1 },
      { topic: opts.changelogTopic, partitions, config: { ...COMPACTED_TOPIC_CONFIG } },
    ]);
    await mkdir(opts.stateDir, { recursive: true });
    await this.sizeHistory.load();
    this.sizeHistory.start();
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
    const unpatched = missingPatches();
    opts.log.info('engine started', {
      input: opts.inputTopic, partitions, output: opts.outputTopic, group: opts.groupId, clock: opts.clock, stateDir: opts.stateDir,
      workers: opts.workers, delivery: opts.exactlyOnce ? 'exactly-once' : 'at-least-once',
      kafkaClient: unpatched.length === 0 ? 'patched' : `unpatched: ${unpatched.join(', ')}`,
    });
    if (unpatched.length > 0) {
      opts.log.warn(`the Kafka client lacks aud's ${unpatched.join(' and ')} patch: correct, but slower. ` +
        'Run `bash scripts/patch-kafka-client.sh` in aud\'s folder, which builds it patched (patches/README.md)', { unpatched: unpatched.join(',') });
    }
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
    await this.host.close();
    this.badRecordLog.close();
    await this.sizeHistory.stop();
    this.eventTail.close();
    this.opts.log.info('engine stopped', { ...this.counters });
  }

  /**
   * Open newly assigned partitions, all at once: restoring one is mostly
   * waiting for the broker and for RocksDB, so restores side by side overlap
   * their waits. Those that opened are kept even when another fails.
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
      this.partitions.set(`${topic}/${partition}`, { topic, partition, runner: opened.runner, commits: this.commitsFor(topic, partition, opened), caughtUp, highWatermark: end, queue: Promise.resolve() });
      this.deployIfBehind(`${topic}/${partition}`);
      this.metrics.partitionsAssigned.set(this.partitions.size);
      this.metrics.restoredRecords.inc(opened.restoredRecords);
      this.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(end - (nextOffset ?? 0n)));
      this.opts.log.info('partition assigned', {
        topic, partition, nextOffset: nextOffset?.toString() ?? 'none', endOffset: end.toString(),
        timers: pendingTimers, restoredRecords: opened.restoredRecords, openMs: Date.now() - started,
      });
    }));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && isRuleChangeRefusal(failed.reason)) {
      // These rules can never run on this state: waiting would only leave the partition unprocessed, silently.
      this.opts.log.error(`cannot run these rules on the state of ${fresh.map((p) => `${p.topic}/${p.partition}`).join(', ')}: ${(failed.reason as Error).message}; ` +
        'start again with the rules the state was built by, or with a new --group and --state-dir');
      this.opts.onFatal?.(failed.reason as Error);
    }
    if (failed) throw failed.reason;
  }

  private openPartition(topic: string, partition: number): Promise<OpenedPartition> {
    const ctx: OpenContext = {
      kafka: this.opts.kafka, groupId: this.opts.groupId, stateDir: this.opts.stateDir, changelogTopic: this.opts.changelogTopic,
      exactlyOnce: this.opts.exactlyOnce, plan: this.plan, taskOptions: this.taskOptions(), host: this.host, sink: this.sink,
      groupMember: () => this.source.groupMember, log: this.opts.log,
    };
    return openPartition(ctx, topic, partition);
  }

  /** A freshly opened partition's commits: from its committed state. */
  private commitsFor(topic: string, partition: number, opened: OpenedPartition): PartitionCommits {
    const ctx: CommitContext = { topics: this.opts, sink: this.sink, group: this.source, commitIntervalMs: this.commitIntervalMs };
    const commits: PartitionCommits = new PartitionCommits(ctx, topic, partition, opened.runner, opened.producer, (err) => this.commitFailed(topic, partition, commits, err));
    return commits;
  }

  private async revoke(parts: { topic: string; partition: number }[]): Promise<void> {
    for (const { topic, partition } of parts) {
      const key = `${topic}/${partition}`;
      const entry = this.partitions.get(key);
      if (!entry) continue;
      this.partitions.delete(key);
      await entry.queue.catch(() => undefined);
      try {
        await entry.commits.commitBeforeRevoke();
      } catch (err) {
        this.opts.log.warn('could not commit a revoked partition\'s state; its next owner reads again from the last commit (duplicate output, nothing lost)',
          { topic, partition, error: (err as Error).message });
      }
      await entry.commits.retire();
      await entry.runner.close();
      await entry.commits.producer?.disconnect().catch(() => undefined);
      this.metrics.partitionsAssigned.set(this.partitions.size);
      this.metrics.consumerLag.remove({ topic, partition: String(partition) });
      this.metrics.timersPending.remove({ partition: String(partition) });
      this.stateBounds.forget(partition);
      const d = this.deploying;
      if (d?.left.delete(partition) && d.left.size === 0) this.rolloutDone(d);
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
    const commits = entry.commits;
    const from = commits.appliedNext;
    const read = batch.records;
    const count = read.count;
    const offsetAt = (i: number): bigint => BigInt(read.offsets[i]!);
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
      entry.highWatermark = batch.highWatermark;
      await commits.levelGroupOffset();
      return;
    }
    const fresh = count - skip;
    const next = offsetAt(count - 1) + 1n;
    const input = skip === 0 ? read : sliceBatch(read, skip, count);
    // Decoded values (Avro) go to the rules beside the bytes; dead letters keep the bytes read.
    const result = await decodeThenProcess(this.opts.valueDecoder, input, (b) => entry.runner.process(b), this.opts.log);
    commits.applied(offsetAt(skip), next);
    const bad: BadRecord[] = result.bad.map((b) => ({ record: recordAt(input, b.index), index: b.index, reason: b.reason, ...(b.clock ? { clock: true } : {}) }));
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
    this.countOutputs(result);
    const records = [...outputRecords(this.opts, result.outputs), ...deadLetters(this.opts, bad)];
    const packed = packedOutputRecords(this.opts, result.packed);
    for (const b of bad) {
      this.badRecordLog.report({
        topic: entry.topic, partition: entry.partition,
        offset: b.record.cause && 'offset' in b.record.cause ? b.record.cause.offset : undefined, reason: b.reason,
      });
    }
    try {
      await commits.deliver(records, next, packed, this.toTail(result));
      this.observeLatency(batch, skip, count);
      await commits.commitIfDue();
    } catch (err) {
      await this.reopen(entry, err);
      throw err;
    }
    if (result.merges) this.metrics.profileMerges.inc(result.merges);
    for (const receipt of result.erasures ?? []) this.logErasure(entry, receipt);
    entry.caughtUp = next >= batch.highWatermark;
    entry.highWatermark = batch.highWatermark;
    this.metrics.batchSeconds.observe((performance.now() - started) / 1000);
    this.metrics.consumerLag.set({ topic: entry.topic, partition: String(entry.partition) }, Math.max(0, Number(batch.highWatermark - next)));
    this.metrics.timersPending.set({ partition: String(entry.partition) }, entry.runner.snapshot.pendingTimers);
    this.stateBounds.observe(entry.topic, entry.partition, entry.runner.snapshot);
  }

  /**
   * One receipt per `aud.forget` record (customer-lifecycle.md, section 3):
   * when, what was erased and where, never the identifier. The leaves went
   * out with the batch (and tombstoned the membership records); the state's
   * deletions go to the changelog as tombstones with the commit.
   */
  private logErasure(entry: PartitionEntry, receipt: ErasureReceipt): void {
    this.metrics.erasures.inc();
    const offset = receipt.cause && 'offset' in receipt.cause ? receipt.cause.offset : undefined;
    this.opts.log.info(receipt.customers > 0 ? 'erasure receipt' : 'erasure receipt: no such customer', {
      at: receipt.at, topic: entry.topic, partition: entry.partition, ...(offset !== undefined ? { offset } : {}),
      customers: receipt.customers, identifiers: receipt.identifiers, leaves: receipt.leaves,
      cleaned: receipt.customers > 0
        ? `state store ${this.stateDirOf(entry.topic, entry.partition)}; changelog ${this.opts.changelogTopic} (tombstones); memberships ${this.opts.membershipTopic} (tombstones)`
        : 'nothing',
    });
  }

  /**
   * Each applied record's latency so far: now, its output handed to the
   * producer (exactly-once: its transaction committed), less its Kafka
   * timestamp (the producer's CreateTime, or the broker's LogAppendTime where
   * the topic says so).
   */
  private observeLatency(batch: PartitionBatch, from: number, count: number): void {
    const now = Date.now();
    const timestamps = batch.records.timestamps;
    for (let i = from; i < count; i++) {
      const ts = timestamps[i]!;
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
    await entry.commits.retire();
    const rewindTo = entry.commits.uncommittedFrom;
    await entry.runner.close().catch(() => undefined);
    await entry.commits.producer?.disconnect().catch(() => undefined);
    if (cause instanceof KafkaConnectorError && cause.code === 'fenced') {
      this.partitions.delete(key);
      this.opts.log.error('partition given up: another instance took it over (this process was fenced); ' +
        'nothing of the failed batch was committed', { topic: entry.topic, partition: entry.partition, error: cause.message });
      return;
    }
    this.counters.reopened++;
    this.metrics.commitFailures.inc();
    this.opts.log.warn('commit failed; reopening the partition from its committed state, the batch will be read again',
      { topic: entry.topic, partition: entry.partition, error: (cause as Error).message, readAgainFrom: rewindTo?.toString() });
    const opened = await this.untilKafkaAnswers(() => this.openPartition(entry.topic, entry.partition));
    entry.runner = opened.runner;
    entry.commits = this.commitsFor(entry.topic, entry.partition, opened);
    if (rewindTo !== undefined) this.source.seek(entry.topic, entry.partition, rewindTo);
    this.deployIfBehind(key);
  }

  /**
   * A partition whose store was built by other rules (its recorded plan)
   * opens running those; the rules in force are deployed on it before its
   * next batch, never taken over silently.
   */
  private deployIfBehind(key: string): void {
    const entry = this.partitions.get(key);
    if (!entry || entry.runner.snapshot.rules === this.plan.fingerprint) return;
    this.opts.log.info('partition state was built by other rules: deploying the rules in force on it', {
      topic: entry.topic, partition: entry.partition, stateRules: entry.runner.snapshot.rules, rules: this.plan.fingerprint,
    });
    if (this.deploying) this.deploying.left.add(entry.partition);
    this.enqueue(key, (e) => this.deployPartition(e)).catch((err: unknown) => {
      this.opts.log.error('rule change on a partition failed; it is opened again from its committed state and tries again',
        { topic: entry.topic, partition: entry.partition, error: (err as Error).message });
    });
  }

  /** A commit written in the background failed: reopen the partition in its turn, unless that happened already. */
  private commitFailed(topic: string, partition: number, commits: PartitionCommits, err: unknown): void {
    const key = `${topic}/${partition}`;
    if (this.partitions.get(key)?.commits !== commits) return;
    this.enqueue(key, async (e) => {
      if (e.commits === commits) await this.reopen(e, err);
    }).catch((reopenErr: unknown) => {
      this.opts.log.error('reopening the partition after a failed commit failed; will retry with the next batch',
        { topic, partition, error: (reopenErr as Error).message });
    });
  }

  /** Every tickMs (wall clock): caught-up partitions move to the machine's time, and the timers due by then fire. */
  private tick(): void {
    const now = Date.now();
    for (const entry of this.partitions.values()) {
      if (!entry.caughtUp || entry.runner.snapshot.clock >= now) continue;
      this.onPartition(entry, 'clock tick', async (e) => {
        const step = await e.runner.advanceTo(now);
        if (step.outputs.length === 0 && !step.packed) return;
        e.commits.changedByClock();
        this.countOutputs(step);
        await e.commits.deliver(outputRecords(this.opts, step.outputs), undefined, packedOutputRecords(this.opts, step.packed), this.toTail(step));
      });
    }
  }

  /**
   * Every IDLE_COMMIT_MS (at-least-once): commit what a partition applied
   * since its last commit once the interval has passed, or once it has been
   * idle for IDLE_COMMIT_MS.
   */
  private commitIdle(): void {
    for (const entry of this.partitions.values()) {
      if (!entry.commits.idleCommitDue(performance.now())) continue;
      this.onPartition(entry, 'commit', async (e) => {
        if (!e.commits.idleCommitDue(performance.now())) return;
        await e.commits.commit();
        // The commit measured the states it encoded: the largest may be new.
        this.stateBounds.observe(e.topic, e.partition, e.runner.snapshot);
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

  /**
   * Counted per audience once per batch, not per event: a labelled counter
   * hashes its labels at every call, and a thousand audiences make dozens of
   * enter/leave events per input event.
   */
  private countOutputs(step: RunnerStep): void {
    for (const c of stepCounts(step)) {
      this.counters.enters += c.enters;
      this.counters.leaves += c.leaves;
      this.sizeHistory.count(c.audience, c.enters, c.leaves);
      if (c.enters > 0) this.metrics.segmentEvents.inc({ audience: c.audience, type: 'enter' }, c.enters);
      if (c.leaves > 0) this.metrics.segmentEvents.inc({ audience: c.audience, type: 'leave' }, c.leaves);
    }
    for (const c of step.packed?.decisions ?? decisionCounts(step.outputs)) {
      this.counters.decisions += c.events;
      this.metrics.decisionEvents.inc({ decision: c.decision, offer: c.offer ?? 'none' }, c.events);
    }
  }

  private taskOptions(): PartitionTaskOptions {
    return {
      ...(this.opts.cacheCustomers !== undefined ? { cacheCustomers: this.opts.cacheCustomers } : {}),
      ...(this.opts.clockGuard ? { clockGuard: this.opts.clockGuard } : {}),
    };
  }
}

/** Enters and leaves per audience of a step: a packed step's are all in its counts, any other's in its outputs. */
function stepCounts(step: RunnerStep): AudienceCounts[] {
  return step.packed?.counts ?? audienceCounts(step.outputs);
}

/**
 * Events of one step the live tail shows at most: a rule change's step makes
 * thousands, which no one reads in a tail; the rest are counted as dropped.
 */
const TAIL_STEP_LIMIT = 500;

/** A rule change's last step, per commit: customers evaluated again (and their enter/leave events) per transaction. */
const FINISH_CUSTOMERS = 5_000;
/**
 * A rule change's history: the customers whose new states are built and
 * not yet committed, at most (a commit writes each once however many of its
 * events the build applied, so fewer commits are faster).
 */
const BUILD_COMMIT_CUSTOMERS = 20_000;

const EMPTY_STEP: RunnerStep = { outputs: [], bad: [], skipped: 0, applied: 0, consumed: 0 };

/** A rule change being rolled out over the owned partitions. */
interface RolloutStatus {
  plan: Plan;
  started: number;
  /** Partitions that have not deployed it yet. */
  left: Set<number>;
  /** Added and changed audiences: not final until every partition has deployed. */
  warming: string[];
  /** History events applied by the partitions done. */
  historyEventsDone: number;
}

/** What the query API says of a rule change in progress. */
export interface RolloutProgress {
  rules: string;
  since: string;
  partitionsLeft: number[];
  historyEvents: number;
}

/** A rule change `aud run` refuses (the running rules stay). */
/**
 * An `identity` source on an input topic of more than one partition. Every
 * record may merge profiles whose events came in anywhere, so this engine
 * resolves identities where it runs the rules, on one partition
 * (docs/design.md, "Identities").
 */
export class IdentityPartitionsError extends Error {
  readonly code = 'identity-partitions';
  constructor(topic: string, partitions: number) {
    super(`the rules resolve identities (identity in the source), and topic "${topic}" has ${partitions} partitions: `
      + 'identities are resolved on one partition, where its records\' order is the order merges happen in. '
      + `Read them from a topic of one partition (for example, mirror "${topic}" into one), or key the source by one customer field (key F) instead of identity`);
    this.name = 'IdentityPartitionsError';
  }
}

export class RuleChangeRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleChangeRefusedError';
  }
}

/** Why new rules cannot replace the running ones without a restart, or undefined when they can. */
function rolloutRefusal(old: Plan, plan: Plan, opts: KafkaRuntimeOptions): string | undefined {
  if (plan.source.topic !== old.source.topic && plan.source.topic !== opts.inputTopic) {
    return `the new rules read topic "${plan.source.topic}", the running ones "${opts.inputTopic}": another input is another engine; start it with aud run`;
  }
  if (plan.outputTopic !== old.outputTopic && plan.outputTopic !== opts.outputTopic) {
    return `the new rules write to "${plan.outputTopic}", the running ones to "${opts.outputTopic}": changing the output topic needs a restart`;
  }
  if (plan.source.format !== old.source.format) return `the new rules read ${plan.source.format} records, the running ones ${old.source.format}: changing the input format needs a restart`;
  return ruleChangeRefusal(planRuleChange(old, plan));
}
