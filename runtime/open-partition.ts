/**
 * Opening a partition, the same way whichever thread hosts it
 * (worker/partition-host.ts):
 *   1. exactly-once: its transactional producer, whose initialisation
 *      fences a zombie (a process that lost the partition but still runs)
 *      and aborts the open transaction of a killed one, so that the restore
 *      reads the final outcome;
 *   2. its store, opened where it will be used, brought level with the
 *      changelog (runtime/changelog.ts): what the store missed is applied;
 *   3. a changelog that ends with an unfinished batch (the last process
 *      stopped while writing it) is repaired: the store's values of its keys
 *      are produced again, cancelling the unfinished records for every later
 *      reader;
 *   4. the rules over the restored store.
 */
import { readPartitionColumns } from '../connectors/kafka/partition-reader.js';
import { KafkaSink } from '../connectors/kafka/sink.js';
import type { KafkaOptions } from '../connectors/kafka/options.js';
import type { GroupMember } from '../connectors/kafka/source.js';
import type { Plan } from '../dsl/plan.js';
import type { Logger } from '../engine/log.js';
import type { PartitionTaskOptions } from '../engine/partition-task.js';
import { checkpointOnly, repairWrites, restoreFromChangelog } from './changelog.js';
import { partitionStateDir, transactionalIdFor } from './naming.js';
import { produceInTransaction } from './partition-commits.js';
import type { PartitionHost } from './worker/partition-host.js';
import type { PartitionRunner } from './worker/partition-runner.js';

export interface OpenContext {
  kafka: KafkaOptions;
  groupId: string;
  stateDir: string;
  changelogTopic: string;
  exactlyOnce: boolean;
  plan: Plan;
  taskOptions: PartitionTaskOptions;
  host: PartitionHost;
  /** At-least-once: the process's producer, for the repair writes. */
  sink: KafkaSink;
  groupMember: () => GroupMember;
  log: Logger;
}

export interface OpenedPartition {
  runner: PartitionRunner;
  /** Exactly-once: the partition's transactional producer. */
  producer: KafkaSink | undefined;
  restoredRecords: number;
}

export async function openPartition(ctx: OpenContext, topic: string, partition: number): Promise<OpenedPartition> {
  let producer: KafkaSink | undefined;
  if (ctx.exactlyOnce) {
    producer = new KafkaSink({ ...ctx.kafka, transactionalId: transactionalIdFor(ctx.groupId, topic, partition) });
    await producer.connect();
  }
  const stateDir = partitionStateDir(ctx.stateDir, topic, partition);
  const label = `${topic}/${partition}`;
  let target: Awaited<ReturnType<PartitionHost['openForRestore']>>;
  try {
    target = await ctx.host.openForRestore(partition, label, stateDir);
  } catch (err) {
    await producer?.disconnect().catch(() => undefined);
    throw err;
  }
  try {
    const restored = await restoreFromChangelog(target, label, ctx.log,
      (from, onBatch) => readPartitionColumns(ctx.kafka, ctx.changelogTopic, partition, from, onBatch));
    if (restored.unfinishedKeys.length > 0) {
      const repair = (await repairWrites(target, restored.unfinishedKeys)).map((w) => ({
        topic: ctx.changelogTopic, partition, key: w.key, value: w.value === null ? null : Buffer.from(w.value),
      }));
      const firsts = producer ? await produceInTransaction(producer, repair, undefined, ctx.groupMember()) : await ctx.sink.send(repair);
      const first = firsts.get(`${ctx.changelogTopic}/${partition}`);
      if (first !== undefined) await target.apply(checkpointOnly(first + BigInt(repair.length) - 1n));
    }
    const runner = await ctx.host.open(partition, label, stateDir, ctx.plan, ctx.taskOptions);
    return { runner, producer, restoredRecords: restored.records };
  } catch (err) {
    await target.close().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    throw err;
  }
}
