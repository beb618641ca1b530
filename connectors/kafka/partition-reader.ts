/**
 * Reading one partition of a topic from an offset to its end, outside any
 * consumer group: what restoring a state store from its changelog needs.
 * Uses the client's lower-level consumer, which can be assigned a single
 * partition at an offset.
 */
import type { KafkaConsumer } from '@confluentinc/kafka-javascript';
import { createGroupConsumer, type GroupConsumer } from './client.js';
import { KafkaConnectorError } from './errors.js';
import type { KafkaOptions } from './options.js';
import { keyAt, sliceBatch, valueAt, type RecordBatch } from '../../engine/record-batch.js';
import { batchOfPacked, packedOfMessages, type PackedConsume } from './packed-consume.js';

export interface PartitionRecord {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

/** Low and high watermarks of one partition. */
export async function partitionBounds(consumer: KafkaConsumer, topic: string, partition: number): Promise<{ low: bigint; high: bigint }> {
  return new Promise((res, rej) => {
    consumer.queryWatermarkOffsets(topic, partition, 10_000, (err, offsets) => {
      if (err) rej(new KafkaConnectorError('consume', `reading the bounds of ${topic}/${partition}: ${err.message}`, { cause: err, retriable: true }));
      else res({ low: BigInt(offsets.lowOffset), high: BigInt(offsets.highOffset) });
    });
  });
}

/**
 * Calls `onBatch` with every record of `topic/partition` from `from` (or the
 * start of the log, whichever is later) up to the end as it was when reading
 * began. Resolves with the offset after the last record read.
 */
export async function readPartition(
  opts: KafkaOptions, topic: string, partition: number, from: bigint | undefined,
  onBatch: (records: PartitionRecord[], end: bigint) => Promise<void>,
): Promise<{ from: bigint; end: bigint }> {
  return readPartitionColumns(opts, topic, partition, from, async (c, end) => {
    const records: PartitionRecord[] = [];
    for (let i = 0; i < c.count; i++) {
      const key = keyAt(c, i);
      const value = valueAt(c, i);
      records.push({ offset: BigInt(c.offsets[i]!), key: key && viewOf(key), value: value && viewOf(value) });
    }
    await onBatch(records, end);
  });
}

function viewOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The consumer with the patched client's packed consume (patches/README.md). */
interface PackedConsumer extends GroupConsumer {
  consumePacked?(max: number, cb: (err: Error | null, batch: PackedConsume) => void): void;
}

/** The same as readPartition, each batch as a RecordBatch (engine/record-batch.ts): what a restore reads. */
export async function readPartitionColumns(
  opts: KafkaOptions, topic: string, partition: number, from: bigint | undefined,
  onBatch: (records: RecordBatch, end: bigint) => Promise<void>,
  /** Stop before this offset (default: the end as it was when reading began). */
  until?: bigint,
): Promise<{ from: bigint; end: bigint }> {
  const consumer: PackedConsumer = createGroupConsumer(opts, {
    'group.id': `aud-restore-${topic}-${partition}`,
    'enable.auto.commit': false,
    'enable.partition.eof': true,
    'isolation.level': 'read_committed',
    // A restore reads one partition from end to end as fast as it can:
    // large fetches, and a deep prefetch queue while the records are applied.
    'max.partition.fetch.bytes': 16 * 1024 * 1024,
    'fetch.max.bytes': 64 * 1024 * 1024,
    'queued.max.messages.kbytes': 65_536,
    'auto.offset.reset': 'earliest',
  });
  await new Promise<void>((res, rej) => {
    consumer.connect({ timeout: 30_000 }, (err) => (err ? rej(new KafkaConnectorError('consume', `connecting to read ${topic}/${partition}: ${err.message}`, { cause: err, retriable: true })) : res()));
  });
  // Packed by the binding when it is patched; from message objects otherwise.
  const consume = (): Promise<RecordBatch> => new Promise((res, rej) => {
    if (consumer.consumePacked) consumer.consumePacked(20_000, (err, batch) => (err ? rej(err) : res(batchOfPacked(batch))));
    else consumer.consume(20_000, (err, msgs) => (err ? rej(err) : res(batchOfPacked(packedOfMessages(msgs)))));
  });
  try {
    const bounds = await partitionBounds(consumer, topic, partition);
    const low = bounds.low;
    const high = until !== undefined && until < bounds.high ? until : bounds.high;
    const start = from === undefined || from < low ? low : from;
    if (start >= high) return { from: start, end: high };
    consumer.assign([{ topic, partition, offset: Number(start) }]);
    // Each read returns what has arrived once there is a first record, instead
    // of waiting the full second for 20,000 (the last read of every restore would).
    consumer.setDefaultConsumeTimeout(1000);
    consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
    const last = Number(high) - 1;
    let next = start;
    let idle = 0;
    while (next < high) {
      const read = await consume();
      // Offsets only grow within a partition: the records at or past the end are the last ones.
      let count = read.count;
      while (count > 0 && read.offsets[count - 1]! > last) count--;
      if (count > 0) {
        next = BigInt(read.offsets[count - 1]!) + 1n;
        await onBatch(count === read.count ? read : sliceBatch(read, 0, count), high);
      }
      // Compaction may leave gaps below the high watermark: once nothing more comes, the end is reached.
      if (read.count === 0) {
        const position = consumer.position([{ topic, partition }])[0]?.offset;
        if (position !== undefined && position >= 0 && BigInt(position) >= high) break;
        if (++idle >= 12) {
          throw new KafkaConnectorError('consume', `reading ${topic}/${partition} stalled at offset ${next} of ${high} for a minute`, { retriable: true });
        }
      } else {
        idle = 0;
      }
    }
    return { from: start, end: high };
  } finally {
    await new Promise<void>((res) => consumer.disconnect(() => res()));
  }
}
