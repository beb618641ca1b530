/**
 * The installed Kafka client carries aud's patches (patches/README.md):
 * a consumed batch's keys and values are views of one ArrayBuffer, and they
 * read back byte for byte, nulls included; a restore's read comes as columns
 * packed by the binding, and reads back the same; the sink produces through the
 * binding's batch call, and what it produced reads back the same, in the
 * partitions asked for. Needs the broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaConnectorError } from '../../connectors/kafka/errors.js';
import kafkaJavascript, { type Message } from '@confluentinc/kafka-javascript';
import { createGroupConsumer } from '../../connectors/kafka/client.js';
import { clientPatches } from '../../connectors/kafka/client-patches.js';
import { readPartition, readPartitionColumns, type PartitionRecord } from '../../connectors/kafka/partition-reader.js';
import { concatBatches, emptyBatch, keyAt, valueAt } from '../../engine/record-batch.js';
import { partitionFor } from '../../connectors/kafka/partitioner.js';
import { KafkaSink, type SinkRecord } from '../../connectors/kafka/sink.js';
import { createTopic, produceBytes, testBrokers, uniqueTopic } from '../support/broker.js';

/** Every record of partition 0 through the client's consume(n, cb), the group consumer's path (source.ts). */
async function consumeAll(topic: string, count: number): Promise<Message[][]> {
  const consumer = createGroupConsumer({ brokers: testBrokers() }, { 'group.id': `${topic}.read`, 'enable.auto.commit': false });
  await new Promise<void>((res, rej) => consumer.connect({ timeout: 30_000 }, (err) => (err ? rej(err) : res())));
  try {
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    consumer.setDefaultConsumeTimeout(1000);
    consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
    const batches: Message[][] = [];
    for (let tries = 0; batches.flat().length < count && tries < 30; tries++) {
      batches.push(await new Promise<Message[]>((res, rej) => consumer.consume(1000, (err, ms) => (err ? rej(err) : res(ms)))));
    }
    return batches;
  } finally {
    await new Promise<void>((res) => consumer.disconnect(() => res()));
  }
}

function someRecords(): { key: string | null; value: Buffer | null }[] {
  return Array.from({ length: 300 }, (_, i) => ({
    key: i % 7 === 3 ? null : `customer-${i}-ü`,
    value: i % 11 === 5 ? null : i % 11 === 6 ? Buffer.alloc(0) : Buffer.from(`{"n":${i},"pad":"${'x'.repeat(i * 13 % 900)}"}`),
  }));
}

test('the probe the engine reports at start-up (aud_kafka_client_patched) finds both calls the patches add', () => {
  assert.deepEqual(clientPatches(), { 'consume-packed': true, 'produce-batch': true });
});

test('consumed records: every key and value as produced, one ArrayBuffer per consumed batch (the client is patched)', async () => {
  const topic = uniqueTopic('client-patch');
  await createTopic(topic, 1);
  const produced = someRecords();
  await produceBytes(topic, produced);

  const batches = await consumeAll(topic, produced.length);
  const read = batches.flat();
  assert.equal(read.length, produced.length);
  read.forEach((m, i) => {
    assert.equal(m.offset, i);
    assert.equal(m.key === null || m.key === undefined ? null : (m.key as Buffer).toString('utf8'), produced[i]!.key, `key ${i}`);
    assert.deepEqual(m.value, produced[i]!.value, `value ${i}`);
  });
  const biggest = batches.reduce((a, b) => (b.length > a.length ? b : a));
  const buffers = new Set(biggest.flatMap((m) => [m.key as Buffer | null | undefined, m.value]).filter((b): b is Buffer => !!b && b.length > 0).map((b) => b.buffer));
  assert.equal(buffers.size, 1,
    `a batch of ${biggest.length} records came in ${buffers.size} ArrayBuffers: the installed @confluentinc/kafka-javascript lacks aud's consume patch; run bash scripts/patch-kafka-client.sh`);
});

test('consumed as columns (a restore\'s read): the binding packs each batch (the client is patched); keys, values, nulls and offsets read back as produced', async () => {
  assert.equal(typeof (kafkaJavascript.KafkaConsumer.prototype as { consumePacked?: unknown }).consumePacked, 'function',
    'the installed @confluentinc/kafka-javascript lacks aud\'s consume-packed patch; run bash scripts/patch-kafka-client.sh');
  const topic = uniqueTopic('client-patch-columns');
  await createTopic(topic, 1);
  const produced = someRecords();
  await produceBytes(topic, produced);

  let read = emptyBatch();
  let batches = 0;
  const range = await readPartitionColumns({ brokers: testBrokers() }, topic, 0, 100n, async (c, end) => {
    assert.equal(end, 300n);
    read = concatBatches(read, c);
    batches++;
  });
  assert.deepEqual(range, { from: 100n, end: 300n });
  assert.ok(batches >= 1);
  assert.equal(read.count, 200);
  for (let i = 0; i < read.count; i++) {
    const p = produced[100 + i]!;
    assert.equal(read.offsets[i], 100 + i, `offset of record ${i}`);
    const key = keyAt(read, i);
    assert.equal(key === null ? null : Buffer.from(key).toString('utf8'), p.key, `key ${i}`);
    const value = valueAt(read, i);
    assert.deepEqual(value === null ? null : Buffer.from(value), p.value, `value ${i}`);
  }
});

test('produced records: one call into the binding per topic, every key, value, null and partition as given (the client is patched)', async () => {
  const topic = uniqueTopic('client-patch-produce');
  await createTopic(topic, 3);
  const sink = new KafkaSink({ brokers: testBrokers() });
  await sink.connect();
  try {
    assert.ok(sink.producesInBatches,
      'the installed @confluentinc/kafka-javascript lacks aud\'s produce-batch patch; run bash scripts/patch-kafka-client.sh');
    const placed: SinkRecord[] = Array.from({ length: 200 }, (_, i) => ({
      topic, partition: i % 3,
      key: i % 9 === 4 ? null : `customer-${i}-ü`,
      value: i % 13 === 6 ? null : i % 13 === 7 ? '' : i % 2 === 0 ? `{"n":${i},"pad":"${'y'.repeat(i * 7 % 500)}"}` : Buffer.from([i, 0, 255, i >> 1]),
    }));
    const firsts = await sink.send(placed);
    assert.deepEqual([...firsts].sort(), [[`${topic}/0`, 0n], [`${topic}/1`, 0n], [`${topic}/2`, 0n]]);
    // No partition: the producer's partitioner (murmur2, as the Java client's).
    const keyed: SinkRecord[] = Array.from({ length: 60 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` }));
    const firsts2 = await sink.send(keyed);
    for (const [tp, offset] of firsts2) {
      const p = Number(tp.split('/').pop());
      assert.equal(offset, BigInt(placed.filter((r) => r.partition === p).length), `first offset of ${tp}`);
    }

    for (let p = 0; p < 3; p++) {
      const expected = [...placed.filter((r) => r.partition === p), ...keyed.filter((r) => partitionFor('murmur2', r.key as string, 3) === p)];
      const read: PartitionRecord[] = [];
      await readPartition({ brokers: testBrokers() }, topic, p, undefined, async (records) => { read.push(...records); });
      assert.equal(read.length, expected.length, `records in partition ${p}`);
      read.forEach((r, i) => {
        const e = expected[i]!;
        assert.equal(r.key === null ? null : r.key.toString('utf8'), e.key, `partition ${p} record ${i}: key`);
        assert.deepEqual(r.value, e.value === null ? null : Buffer.from(e.value as string | Buffer), `partition ${p} record ${i}: value`);
      });
    }

    // A record the producer cannot queue fails the whole send, with librdkafka's reason.
    await assert.rejects(sink.send([{ topic, partition: 0, key: 'a', value: 'b' }, { topic, partition: 7, key: 'a', value: 'b' }]),
      (err: Error) => err instanceof KafkaConnectorError && err.code === 'produce' && /partition/i.test(err.message));
  } finally {
    await sink.disconnect();
  }
});

test('packed records (a rule worker\'s enter/leave events) land as given, through the binding and through the client\'s own path', async () => {
  const topic = uniqueTopic('client-patch-packed');
  const dlq = uniqueTopic('client-patch-packed-dlq');
  await createTopic(topic, 3);
  await createTopic(dlq, 1);
  const sink = new KafkaSink({ brokers: testBrokers() });
  await sink.connect();
  try {
    const texts = (round: number): (string | null)[] => Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? `k${i % 7}` : i % 11 === 3 ? null : `v${round}-${i}-ü`));
    const pack = (round: number) => {
      const parts = texts(round).map((t) => (t === null ? null : Buffer.from(t)));
      const present = parts.flatMap((p) => (p === null ? [] : [p]));
      return { count: parts.length / 2, data: new Uint8Array(Buffer.concat(present)), lengths: Int32Array.from(parts, (p) => (p === null ? -1 : p.length)) };
    };
    await sink.send([], [{ topic, records: pack(1) }]);
    // A record with headers sends everything through the client's own path: the packed records are unpacked for it.
    await sink.send([{ topic: dlq, key: 'x', value: 'y', headers: { 'aud.error': 'test' } }], [{ topic, records: pack(2) }]);
    const expected = [1, 2].flatMap((round) => {
      const t = texts(round);
      return Array.from({ length: t.length / 2 }, (_, i) => ({ key: t[2 * i]!, value: t[2 * i + 1] ?? null }));
    });
    const read: PartitionRecord[] = [];
    for (let p = 0; p < 3; p++) await readPartition({ brokers: testBrokers() }, topic, p, undefined, async (records) => { read.push(...records); });
    assert.equal(read.length, expected.length);
    for (let p = 0; p < 3; p++) {
      const mine = expected.filter((e) => partitionFor('murmur2', e.key, 3) === p);
      const got = read.filter((r) => partitionFor('murmur2', r.key!.toString('utf8'), 3) === p);
      assert.deepEqual(got.map((r) => [r.key!.toString('utf8'), r.value === null ? null : r.value.toString('utf8')]), mine.map((e) => [e.key, e.value]), `partition ${p}`);
    }
  } finally {
    await sink.disconnect();
  }
});
