/**
 * The worker thread: runs the partitions the main thread gives it, each a
 * LocalPartition over its own RocksDB store opened in this thread. Nothing is
 * shared with other threads: the main thread sends batches and gets back
 * enter/leave events and changelog bytes (messages.ts). Before a partition
 * opens, its store may be restored here from changelog chunks the main
 * thread reads (`restore-*`); the partition then opens over that store.
 *
 * Piscina calls the default export once per message. Several partitions'
 * messages may be in flight at once (their RocksDB calls interleave); one
 * partition's are serialised by the runtime, so they never overlap.
 */
import { StoreRestoreTarget } from '../changelog.js';
import { openRocksStore } from '../../engine/state/rocksdb-store.js';
import type { PartitionStore } from '../../engine/state/store.js';
import { LocalPartition } from './local-partition.js';
import { packBytes, type PackedSnapshot, type WorkerRequest, type WorkerResponse } from './messages.js';
import type { PartitionSnapshot, RunnerStep } from './partition-runner.js';
import type { BatchResult } from '../../engine/partition-task.js';
import { packOutput } from '../packed-output.js';

const partitions = new Map<string, LocalPartition>();
/** Partitions whose enter/leave events go back packed as Kafka records. */
const packing = new Set<string>();
/** Stores being restored from the changelog, before their partition opens over them. */
const restoring = new Map<string, { store: PartitionStore; target: StoreRestoreTarget }>();

function beingRestored(partition: string): StoreRestoreTarget {
  const r = restoring.get(partition);
  if (!r) throw new Error(`internal error: partition ${partition} is not being restored in this worker`);
  return r.target;
}

function owned(partition: string): LocalPartition {
  const p = partitions.get(partition);
  if (!p) throw new Error(`internal error: partition ${partition} is not open in this worker`);
  return p;
}

/** A step with its enter/leave events packed as Kafka records, when the partition's were asked so. */
function packed(partition: string, step: BatchResult): RunnerStep {
  if (!packing.has(partition) || step.outputs.length === 0) return step;
  return { ...step, outputs: [], packed: packOutput(step.outputs) };
}

function packSnapshot(s: PartitionSnapshot): PackedSnapshot {
  const { nextOffset, ...rest } = s;
  return { ...rest, nextOffset: nextOffset === undefined ? null : nextOffset.toString() };
}

export default async function handle(req: WorkerRequest): Promise<WorkerResponse> {
  switch (req.op) {
    case 'open': {
      if (partitions.has(req.partition)) throw new Error(`internal error: partition ${req.partition} is already open in this worker`);
      // The store its restore opened, or (no restore before) the store on disk.
      const store = restoring.get(req.partition)?.store ?? await openRocksStore(req.stateDir);
      restoring.delete(req.partition);
      try {
        const p = await LocalPartition.open(req.plan, store, req.taskOptions);
        partitions.set(req.partition, p);
        if (req.packOutput) packing.add(req.partition); else packing.delete(req.partition);
        return { op: 'open', snapshot: packSnapshot(p.snapshot) };
      } catch (err) {
        await store.close().catch(() => undefined);
        throw err;
      }
    }
    case 'process': {
      const p = owned(req.partition);
      const step = await p.process(req.batch);
      return { op: 'step', snapshot: packSnapshot(p.snapshot), step: packed(req.partition, step) };
    }
    case 'advance': {
      const p = owned(req.partition);
      const step = await p.advanceTo(req.to);
      return { op: 'step', snapshot: packSnapshot(p.snapshot), step: packed(req.partition, step) };
    }
    case 'prepare': {
      const p = owned(req.partition);
      const changelog = await p.prepareCommit(req.nextOffset === null ? undefined : BigInt(req.nextOffset));
      return {
        op: 'prepare', snapshot: packSnapshot(p.snapshot),
        changelog: { keys: changelog.map((c) => c.key), values: packBytes(changelog.map((c) => c.value)) },
      };
    }
    case 'write': {
      const p = owned(req.partition);
      await p.writeCommit(req.changelogCheckpoint === null ? undefined : BigInt(req.changelogCheckpoint));
      return { op: 'write', snapshot: packSnapshot(p.snapshot) };
    }
    case 'view':
      return { op: 'view', view: await owned(req.partition).view(req.customer) };
    case 'why':
      return { op: 'why', why: await owned(req.partition).why(req.customer) };
    case 'deploy-begin': {
      const p = owned(req.partition);
      const begin = await p.deployBegin(req.plan);
      return { op: 'deploy-begin', snapshot: packSnapshot(p.snapshot), begin: { ...begin, step: packed(req.partition, begin.step) } };
    }
    case 'deploy-history': {
      const p = owned(req.partition);
      const step = await p.deployHistory(req.batch);
      return { op: 'step', snapshot: packSnapshot(p.snapshot), step };
    }
    case 'deploy-finish': {
      const p = owned(req.partition);
      const finish = await p.deployFinish(req.limit);
      return { op: 'deploy-finish', snapshot: packSnapshot(p.snapshot), finish: { ...finish, step: packed(req.partition, finish.step) } };
    }
    case 'close': {
      const p = partitions.get(req.partition);
      const r = restoring.get(req.partition);
      partitions.delete(req.partition);
      packing.delete(req.partition);
      restoring.delete(req.partition);
      if (p) await p.close();
      if (r) await r.store.close();
      return { op: 'close' };
    }
    case 'restore-open': {
      if (partitions.has(req.partition) || restoring.has(req.partition)) throw new Error(`internal error: partition ${req.partition} is already open in this worker`);
      const store = await openRocksStore(req.stateDir);
      try {
        const target = await StoreRestoreTarget.open(store);
        restoring.set(req.partition, { store, target });
        return { op: 'restore-open', checkpoint: target.checkpoint === undefined ? null : target.checkpoint.toString() };
      } catch (err) {
        await store.close().catch(() => undefined);
        throw err;
      }
    }
    case 'restore-apply': {
      await beingRestored(req.partition).apply({ records: req.records, closedAt: BigInt(req.closedAt) });
      return { op: 'restore-apply' };
    }
    case 'restore-values':
      return { op: 'restore-values', values: packBytes(await beingRestored(req.partition).currentValues(req.keys)) };
  }
}
