/**
 * The group source with `headers: false`, as the engine runs it: it fetches
 * with the patched client's packed consume, and its batches are made from
 * the fetches' bytes (connectors/kafka/pending-records.ts). It must deliver
 * what a source that reads message objects (with headers) delivers, and
 * redeliver a failed batch the same way. Needs the broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientPatches } from '../../connectors/kafka/client-patches.js';
import { KafkaSource } from '../../connectors/kafka/source.js';
import { createTopic, produceBytes, readRecords, testBrokers, uniqueTopic, type ReadRecord } from '../support/broker.js';

const PARTITIONS = 3;

/** Everything a source of its own group reads from `topic` until `expected` records were handled; `failOnce` makes that batch's handler throw the first time. */
async function readAll(topic: string, headers: boolean, expected: number, failOnce?: (r: ReadRecord) => boolean): Promise<{ handled: ReadRecord[]; failed: number; withHeaders: number }> {
  const handled: ReadRecord[] = [];
  let failed = 0;
  let withHeaders = 0;
  let done: () => void = () => undefined;
  const enough = new Promise<void>((res) => { done = res; });
  const source = new KafkaSource({ brokers: testBrokers(), clientId: 'aud-test-source', groupId: `${topic}.${headers ? 'objects' : 'columns'}`, topics: [topic], headers });
  await source.start({
    onAssign: async () => undefined,
    onRevoke: async () => undefined,
    onBatch: async (batch) => {
      const records = readRecords(batch);
      if (failOnce && failed === 0 && records.some(failOnce)) {
        failed++;
        throw new Error('handler failed once');
      }
      assert.deepEqual(batch.records.origin, { topic, partition: batch.partition });
      if (batch.headers) {
        withHeaders++;
        assert.equal(batch.headers.length, batch.records.count);
      }
      handled.push(...records);
      if (handled.length >= expected) done();
    },
  });
  const timer = setTimeout(done, 60_000);
  await enough;
  clearTimeout(timer);
  await new Promise((res) => setTimeout(res, 500)); // nothing more may come
  await source.stop();
  return { handled, failed, withHeaders };
}

function byPartition(records: ReadRecord[]): Map<number, ReadRecord[]> {
  const out = new Map<number, ReadRecord[]>();
  for (const r of records) out.set(r.partition, [...(out.get(r.partition) ?? []), r]);
  return out;
}

async function someTopic(prefix: string): Promise<{ topic: string; count: number }> {
  const topic = uniqueTopic(prefix);
  await createTopic(topic, PARTITIONS);
  const records = Array.from({ length: 3000 }, (_, i) => ({
    key: i % 17 === 4 ? null : `customer-${i % 400}-é`,
    value: i % 23 === 9 ? null : Buffer.from(`{"i":${i},"pad":"${'z'.repeat(i * 7 % 300)}"}`),
  }));
  await produceBytes(topic, records);
  return { topic, count: records.length };
}

test('source without headers (packed consume): every record once, in offset order per partition, the same keys, values, offsets and timestamps as with headers', async () => {
  const { topic, count } = await someTopic('source-columns');
  const objects = await readAll(topic, true, count);
  const columns = await readAll(topic, false, count);
  assert.equal(columns.handled.length, count);
  assert.equal(objects.handled.length, count);
  // The packed path reads no headers; the object path gives every record its own.
  assert.equal(columns.withHeaders, 0);
  assert.ok(objects.withHeaders > 0);
  assert.ok(clientPatches()['consume-packed'],
    'the installed @confluentinc/kafka-javascript lacks aud\'s consume-packed patch; run bash scripts/patch-kafka-client.sh');
  const a = byPartition(objects.handled);
  const b = byPartition(columns.handled);
  for (let p = 0; p < PARTITIONS; p++) {
    const x = a.get(p) ?? [];
    const y = b.get(p) ?? [];
    assert.equal(y.length, x.length, `records of partition ${p}`);
    y.forEach((r, i) => {
      assert.equal(r.offset, BigInt(i), `partition ${p}: offsets in order, none twice`);
      assert.deepEqual(r.key, x[i]!.key, `partition ${p} offset ${i}: key`);
      assert.deepEqual(r.value, x[i]!.value, `partition ${p} offset ${i}: value`);
      assert.equal(r.timestamp, x[i]!.timestamp, `partition ${p} offset ${i}: timestamp`);
      assert.deepEqual(r.headers, {});
    });
  }
});

test('source without headers: a batch whose handler throws is read again from its first record; nothing is lost or handled twice', async () => {
  const { topic, count } = await someTopic('source-columns-again');
  const { handled, failed } = await readAll(topic, false, count, (r) => r.partition === 1 && r.offset === 500n);
  assert.equal(failed, 1);
  assert.equal(handled.length, count);
  for (const [p, records] of byPartition(handled)) {
    records.forEach((r, i) => assert.equal(r.offset, BigInt(i), `partition ${p}: offsets in order, none twice`));
  }
  assert.ok(handled.some((r) => r.partition === 1 && r.offset === 500n));
});
