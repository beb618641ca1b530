/**
 * Partitions in this thread (`aud run --workers 0`): each store is opened
 * here for its restore and handed to the partition's rules (LocalPartition).
 */
import type { Plan } from '../../dsl/plan.js';
import type { PartitionTaskOptions } from '../../engine/partition-task.js';
import { openRocksStore } from '../../engine/state/rocksdb-store.js';
import type { PartitionStore } from '../../engine/state/store.js';
import { StoreRestoreTarget, type RestoreTarget } from '../changelog.js';
import { LocalPartition } from './local-partition.js';
import type { PartitionHost } from './partition-host.js';
import type { PartitionRunner } from './partition-runner.js';

export class LocalHost implements PartitionHost {
  /** Stores opened for a restore, by label, until the rules take them over. */
  private readonly restoring = new Map<string, PartitionStore>();

  async openForRestore(_partition: number, label: string, stateDir: string): Promise<RestoreTarget & { close(): Promise<void> }> {
    const store = await openRocksStore(stateDir);
    const target = await StoreRestoreTarget.open(store).catch(async (err: unknown) => { await store.close().catch(() => undefined); throw err; });
    this.restoring.set(label, store);
    const close = async (): Promise<void> => {
      if (this.restoring.get(label) === store) this.restoring.delete(label);
      await store.close();
    };
    return Object.assign(target, { close });
  }

  async open(_partition: number, label: string, stateDir: string, plan: Plan, taskOptions: PartitionTaskOptions): Promise<PartitionRunner> {
    const store = this.restoring.get(label) ?? await openRocksStore(stateDir);
    this.restoring.delete(label);
    try {
      return await LocalPartition.open(plan, store, taskOptions);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const store of this.restoring.values()) await store.close().catch(() => undefined);
    this.restoring.clear();
  }
}
