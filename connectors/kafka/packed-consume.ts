/**
 * What a fetch from librdkafka is, whichever way it was read: the patched
 * client's packed consume (`consumePacked`, patches/README.md), which hands
 * back every message of the fetch in one byte array and two typed arrays,
 * or the same made from the message objects of an unpatched client (or of a
 * source that reads headers, which the packed consume does not carry). The
 * source and the partition reader take fetches in this one shape and make
 * RecordBatches (engine/record-batch.ts) of them.
 */
import type { Message } from '@confluentinc/kafka-javascript';
import { allocateBatch, type RecordBatch } from '../../engine/record-batch.js';

/** What the patched client's consumePacked hands back (lib/kafka-consumer.js, as patched). */
export interface PackedConsume {
  /** Each message's key then its value, message after message. */
  data: Buffer;
  /** Per message: topic index, partition, key length, value length (-1: null). */
  meta: Int32Array;
  /** Per message: offset, timestamp. */
  positions: Float64Array;
  topics: string[];
}

/** Each message's key start in `data` (each key is followed by its value). */
export function keyStartsOf(meta: Int32Array): Int32Array {
  const count = meta.length / 4;
  const starts = new Int32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    starts[i] = at;
    at += Math.max(0, meta[i * 4 + 2]!) + Math.max(0, meta[i * 4 + 3]!);
  }
  return starts;
}

/** A message as the client's message objects (and tests) have it. */
export type MessageObject = Pick<Message, 'topic' | 'partition' | 'value'> & {
  key?: Buffer | string | null;
  offset: number | bigint;
  timestamp?: number;
};

/** Message objects as a packed consume, their bytes copied: how a fetch read as objects joins the one path. */
export function packedOfMessages(messages: readonly MessageObject[]): PackedConsume {
  const topics: string[] = [];
  const topicIndex = new Map<string, number>();
  const keys = messages.map((m) => (m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(String(m.key))));
  let bytes = 0;
  messages.forEach((m, i) => { bytes += (keys[i]?.length ?? 0) + (m.value?.length ?? 0); });
  const data = Buffer.allocUnsafe(bytes);
  const meta = new Int32Array(messages.length * 4);
  const positions = new Float64Array(messages.length * 2);
  let at = 0;
  messages.forEach((m, i) => {
    let t = topicIndex.get(m.topic);
    if (t === undefined) { t = topics.push(m.topic) - 1; topicIndex.set(m.topic, t); }
    const key = keys[i];
    meta[i * 4] = t;
    meta[i * 4 + 1] = m.partition;
    meta[i * 4 + 2] = key ? key.length : -1;
    meta[i * 4 + 3] = m.value ? m.value.length : -1;
    if (key) at += key.copy(data, at);
    if (m.value) at += m.value.copy(data, at);
    positions[i * 2] = Number(m.offset);
    positions[i * 2 + 1] = m.timestamp ?? 0;
  });
  return { data, meta, positions, topics };
}

/** A packed consume of one partition as a batch: its bytes as they are, not copied. */
export function batchOfPacked(p: PackedConsume): RecordBatch {
  const count = p.meta.length / 4;
  const b = allocateBatch(count, p.data);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const keyLength = p.meta[i * 4 + 2]!;
    const valueLength = p.meta[i * 4 + 3]!;
    b.keyStarts[i] = at;
    b.keyLengths[i] = keyLength;
    b.valueStarts[i] = at + Math.max(0, keyLength);
    b.valueLengths[i] = valueLength;
    at += Math.max(0, keyLength) + Math.max(0, valueLength);
    b.offsets[i] = p.positions[i * 2]!;
    b.timestamps[i] = p.positions[i * 2 + 1]!;
  }
  if (count > 0) b.origin = { topic: p.topics[p.meta[0]!]!, partition: p.meta[1]! };
  return b;
}
