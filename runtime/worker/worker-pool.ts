/**
 * Worker threads for rule evaluation (`aud run --workers N`), with piscina.
 *
 * A partition's state lives in one thread, so the pool is N piscina pools of
 * exactly one thread each, and partition p always goes to thread p mod N:
 * piscina's own scheduling (any idle thread) would move a partition between
 * threads, and its RocksDB store with it. Each thread takes several
 * partitions' messages at once (`concurrentTasksPerWorker`) so that one
 * partition's RocksDB I/O does not hold up another's evaluation.
 * `atomics: 'disabled'`: a thread between messages must keep running its
 * event loop, where RocksDB's callbacks arrive.
 */
import { Piscina } from 'piscina';
import type { Plan } from '../../dsl/plan.js';
import type { CustomerWhy } from '../../engine/customer-why.js';
import type { CustomerView, PartitionTaskOptions } from '../../engine/partition-task.js';
import type { RecordBatch } from '../../engine/record-batch.js';
import { packedAt, type PackedSnapshot, type WorkerRequest, type WorkerResponse } from './messages.js';
import type { ChangelogCopy, DeployBegin, DeployFinish, PartitionRunner, PartitionSnapshot, RunnerStep } from './partition-runner.js';
import type { ChangelogChunk, RestoreTarget } from '../changelog.js';
import type { PartitionHost } from './partition-host.js';
import { DEFAULT_YOUNG_GENERATION_MB } from './young-generation.js';

const WORKER_FILE = new URL('./partition-worker.js', import.meta.url).href;

export class WorkerPool implements PartitionHost {
  private readonly threads: Piscina<WorkerRequest, WorkerResponse>[];

  /** `packOutput`: partitions return their enter/leave events packed as Kafka records (JSON output). */
  constructor(readonly size: number, youngGenerationMb = DEFAULT_YOUNG_GENERATION_MB, private readonly packOutput = false) {
    this.threads = Array.from({ length: size }, () => new Piscina<WorkerRequest, WorkerResponse>({
      filename: WORKER_FILE, minThreads: 1, maxThreads: 1, idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 64, atomics: 'disabled',
      resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb },
    }));
  }

  /**
   * Open a partition's store in its thread for a restore from the changelog;
   * `open` then runs the rules over it.
   */
  async openForRestore(partition: number, label: string, stateDir: string): Promise<RestoreTarget & { close(): Promise<void> }> {
    const thread = this.threads[partition % this.size]!;
    const res = expect(await thread.run({ op: 'restore-open', partition: label, stateDir }), 'restore-open');
    return new WorkerRestoreTarget(thread, label, res.checkpoint === null ? undefined : BigInt(res.checkpoint));
  }

  /** Open a partition's rules in its thread, over the store its restore opened or the one on disk. */
  async open(partition: number, label: string, stateDir: string, plan: Plan, taskOptions: PartitionTaskOptions): Promise<PartitionRunner> {
    const thread = this.threads[partition % this.size]!;
    const res = await thread.run({ op: 'open', partition: label, stateDir, plan, taskOptions, packOutput: this.packOutput });
    return new WorkerPartition(thread, label, unpackSnapshot(expect(res, 'open').snapshot));
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.close()));
  }
}

function expect<K extends WorkerResponse['op']>(res: WorkerResponse, op: K): Extract<WorkerResponse, { op: K }> {
  if (res.op !== op) throw new Error(`internal error: the partition worker answered ${res.op} to ${op}`);
  return res as Extract<WorkerResponse, { op: K }>;
}

function unpackSnapshot(s: PackedSnapshot): PartitionSnapshot {
  const { nextOffset, ...rest } = s;
  return { ...rest, nextOffset: nextOffset === null ? undefined : BigInt(nextOffset) };
}

/** A partition running in a worker thread, seen from the main thread. */
class WorkerPartition implements PartitionRunner {
  constructor(private readonly thread: Piscina<WorkerRequest, WorkerResponse>, private readonly label: string, public snapshot: PartitionSnapshot) {}

  async process(batch: RecordBatch): Promise<RunnerStep> {
    return this.step({ op: 'process', partition: this.label, batch });
  }

  async advanceTo(t: number): Promise<RunnerStep> {
    return this.step({ op: 'advance', partition: this.label, to: t });
  }

  async prepareCommit(nextOffset: bigint | undefined): Promise<ChangelogCopy> {
    const res = expect(await this.thread.run({ op: 'prepare', partition: this.label, nextOffset: nextOffset?.toString() ?? null }), 'prepare');
    this.snapshot = unpackSnapshot(res.snapshot);
    return res.changelog.keys.map((key, i) => ({ key, value: packedAt(res.changelog.values, i) }));
  }

  async writeCommit(changelogCheckpoint: bigint | undefined): Promise<void> {
    const res = expect(await this.thread.run({ op: 'write', partition: this.label, changelogCheckpoint: changelogCheckpoint?.toString() ?? null }), 'write');
    this.snapshot = unpackSnapshot(res.snapshot);
  }

  async view(customer: string): Promise<CustomerView | undefined> {
    return expect(await this.thread.run({ op: 'view', partition: this.label, customer }), 'view').view;
  }

  async why(customer: string): Promise<CustomerWhy | undefined> {
    return expect(await this.thread.run({ op: 'why', partition: this.label, customer }), 'why').why;
  }

  async deployBegin(plan: Plan): Promise<DeployBegin> {
    const res = expect(await this.thread.run({ op: 'deploy-begin', partition: this.label, plan }), 'deploy-begin');
    this.snapshot = unpackSnapshot(res.snapshot);
    return res.begin;
  }

  deployHistory(batch: RecordBatch): Promise<RunnerStep> {
    return this.step({ op: 'deploy-history', partition: this.label, batch });
  }

  async deployFinish(limit: number): Promise<DeployFinish> {
    const res = expect(await this.thread.run({ op: 'deploy-finish', partition: this.label, limit }), 'deploy-finish');
    this.snapshot = unpackSnapshot(res.snapshot);
    return res.finish;
  }

  async close(): Promise<void> {
    await this.thread.run({ op: 'close', partition: this.label });
  }

  private async step(req: WorkerRequest): Promise<RunnerStep> {
    const res = expect(await this.thread.run(req), 'step');
    this.snapshot = unpackSnapshot(res.snapshot);
    return res.step;
  }
}

/**
 * A restore into a store in a worker thread: each chunk crosses as it was
 * read, as columns (a few flat arrays, whatever the number of records), and
 * is applied there while this thread reads the next from Kafka.
 */
class WorkerRestoreTarget implements RestoreTarget {
  constructor(private readonly thread: Piscina<WorkerRequest, WorkerResponse>, private readonly label: string, readonly checkpoint: bigint | undefined) {}

  async apply(chunk: ChangelogChunk): Promise<void> {
    expect(await this.thread.run({
      op: 'restore-apply', partition: this.label, records: chunk.records, closedAt: chunk.closedAt.toString(),
    }), 'restore-apply');
  }

  async currentValues(keys: string[]): Promise<(Uint8Array | null)[]> {
    const res = expect(await this.thread.run({ op: 'restore-values', partition: this.label, keys }), 'restore-values');
    return keys.map((_, i) => packedAt(res.values, i));
  }

  /** Close the store (a restore that failed: the partition does not open). */
  async close(): Promise<void> {
    await this.thread.run({ op: 'close', partition: this.label });
  }
}
