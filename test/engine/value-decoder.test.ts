/**
 * engine/value-decoder.ts without a broker: Avro values (plain binary, and
 * the Confluent wire format with writer schemas from memory) decoded before a
 * real PartitionTask over a memory store. Bad records of both kinds keep
 * their bytes and come out in input order; a registry that fails is retried
 * and then gives the batch back, never making a bad record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import { AvroInputDecoder, AvroValueDecoder, frameConfluent, parseAvroSchema, RegistryError, type WriterSchemas } from '../../connectors/avro/index.js';
import { compileSources } from '../../dsl/compile.js';
import type { InputRecord } from '../../engine/input-record.js';
import { batchOfRecords, type RecordBatch } from '../../engine/record-batch.js';
import { createLogger } from '../../engine/log.js';
import { PartitionTask, type BatchResult } from '../../engine/partition-task.js';
import { MemoryStore } from '../../engine/state/memory-store.js';
import { decodeThenProcess, ValueDecoderUnavailableError } from '../../engine/value-decoder.js';

const compiled = compileSources(new Map([['r.aud', [
  'source "t" { key customer_id  format avro }',
  'event purchase { amount: number }',
  'audience big { sum(purchase.amount) >= 100 }',
].join('\n')]]));
assert.deepEqual(compiled.diagnostics, []);
const plan = compiled.plan!;

const SCHEMA = { type: 'record', name: 'Purchase', namespace: 't', fields: [
  { name: 'customer_id', type: ['null', 'string'], default: null },
  { name: 'type', type: 'string' },
  { name: 'ts', type: 'long' },
  { name: 'amount', type: 'double' },
] };
const raw = avro.Type.forSchema(SCHEMA as avro.Schema);
const silent = createLogger({ write: () => undefined });

function records(values: (Buffer | null)[]): InputRecord[] {
  return values.map((value, i) => ({ value, cause: { topic: 't', partition: 0, offset: String(i) } }));
}

test('plain Avro: decoded values reach the task; undecodable and invalid records are bad, with their bytes, in input order', async () => {
  const task = await PartitionTask.open(plan, new MemoryStore());
  const decoder = new AvroValueDecoder(AvroInputDecoder.plain(SCHEMA), 'Avro (test)');
  const good = raw.toBuffer({ customer_id: 'a', type: 'purchase', ts: 1000, amount: 120 });
  const truncated = good.subarray(0, good.length - 2);
  const noCustomer = raw.toBuffer({ customer_id: null, type: 'purchase', ts: 2000, amount: 1 });
  const input = records([truncated, good, null, noCustomer]);
  const result = await decodeThenProcess(decoder, batchOfRecords(input), (r) => task.process(r), silent);
  assert.equal(result.applied, 1);
  assert.deepEqual(result.outputs.map((o) => [o.type, o.audience, o.customer, o.version]), [['enter', 'big', 'a', 1]]);
  // Bad records by position in the input: the caller dead-letters input[index], the bytes it read.
  assert.deepEqual(result.bad.map((b) => [input[b.index]!.cause, b.reason]), [
    [{ topic: 't', partition: 0, offset: '0' }, 'Avro: does not decode with the schema t.Purchase: truncated buffer'],
    [{ topic: 't', partition: 0, offset: '2' }, 'empty record (no value)'],
    [{ topic: 't', partition: 0, offset: '3' }, 'no customer id: field "customer_id" is missing'],
  ]);
  assert.equal(input[result.bad[0]!.index]!.value, truncated, 'the bytes read, not a decoded object');
  assert.equal(input[result.bad[2]!.index]!.value, noCustomer, 'a record the task refuses keeps its Avro bytes too');
});

test('registry mode: a registry that fails is retried (no bad record); one that stays down gives the batch back without processing it', async () => {
  let failures = 2;
  const writers: WriterSchemas = {
    url: 'memory://writers',
    cachedType: () => undefined,
    async getSchemaById() {
      if (failures-- > 0) throw new RegistryError('unreachable', 'connect ECONNREFUSED', { retriable: true });
      return { type: parseAvroSchema(SCHEMA) };
    },
  };
  const warnings: string[] = [];
  const log = createLogger({ write: (l) => warnings.push(l) });
  const decoder = new AvroValueDecoder(AvroInputDecoder.withRegistry(writers), 'Avro (test registry)');
  const input = records([frameConfluent(4, raw.toBuffer({ customer_id: 'a', type: 'purchase', ts: 1, amount: 5 }))]);
  const task = await PartitionTask.open(plan, new MemoryStore());
  const result = await decodeThenProcess(decoder, batchOfRecords(input), (r) => task.process(r), log, { delaysMs: [1, 1, 1] });
  assert.equal(result.applied, 1);
  assert.deepEqual(result.bad, []);
  assert.equal(warnings.filter((w) => w.includes('cannot decode Avro (test registry) values now; retrying the batch')).length, 2);

  failures = Infinity;
  const down = new AvroValueDecoder(AvroInputDecoder.withRegistry(writers), 'Avro (down)');
  let processed = false;
  const process = async (r: RecordBatch): Promise<BatchResult> => { processed = true; return task.process(r); };
  await assert.rejects(decodeThenProcess(down, batchOfRecords(records([frameConfluent(5, Buffer.from([0]))])), process, silent, { delaysMs: [1, 1] }), (err: unknown) => {
    assert.ok(err instanceof ValueDecoderUnavailableError);
    assert.equal(err.message, 'cannot decode Avro (down) values: connect ECONNREFUSED; the batch is given back to the consumer and read again');
    assert.ok(err.cause instanceof RegistryError);
    return true;
  });
  assert.equal(processed, false, 'nothing of the batch reached the task');
});

test('no decoder: the records go to the task unchanged', async () => {
  const task = await PartitionTask.open(plan, new MemoryStore());
  const input = batchOfRecords(records([Buffer.from('{"customer_id":"a","type":"purchase","ts":1,"amount":200}')]));
  let seen: RecordBatch | undefined;
  const result = await decodeThenProcess(undefined, input, (r) => { seen = r; return task.process(r); }, silent);
  assert.equal(seen, input);
  assert.equal(result.outputs.length, 1);
});

test('Avro: a record too far ahead of the clock is refused as a clock refusal, at its position in the input', async () => {
  const task = await PartitionTask.open(plan, new MemoryStore(), { clockGuard: { maxJumpMs: 60_000 } });
  const decoder = new AvroValueDecoder(AvroInputDecoder.plain(SCHEMA), 'Avro (test)');
  const first = raw.toBuffer({ customer_id: 'a', type: 'purchase', ts: 1_000_000, amount: 10 });
  const undecodable = Buffer.from([0xff]);
  const ahead = raw.toBuffer({ customer_id: 'b', type: 'purchase', ts: 1_000_000 + 365 * 86_400_000, amount: 500 });
  const input = records([first, undecodable, ahead]);
  const result = await decodeThenProcess(decoder, batchOfRecords(input), (r) => task.process(r), silent);
  assert.equal(result.applied, 1);
  assert.deepEqual(result.outputs, [], 'the year-ahead purchase makes nobody big');
  assert.deepEqual(result.bad.map((b) => [b.index, b.clock === true]), [[1, false], [2, true]]);
});
