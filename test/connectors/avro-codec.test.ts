/**
 * The Avro connector without a registry: the Confluent wire format, decoding
 * bare Avro against .avsc schemas (a record, a union of records, logical types,
 * nullable unions), schema resolution in the registry mode (writer schemas
 * from an in-memory map: the client itself is tested against a real registry
 * in avro-registry.test.ts), the start-up check of declared events and its
 * messages, and the enter/leave output encoder.
 *
 * Values are encoded with avsc directly (without our logical types), so the
 * decoder is checked against bytes it did not write itself; a few are checked
 * against byte strings worked out by hand from the Avro specification.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import type { EventPlan, Plan, SourcePlan } from '../../dsl/plan.js';
import { RecordDecoder } from '../../engine/input-record.js';
import type { MembershipEvent } from '../../engine/output-event.js';
import {
  AvroDecodeError, AvroInputDecoder, AvroOutputEncoder, AvroSchemaError, checkEventFields, checkEventSchema,
  decodeConfluent, encodeConfluent, fromAvroEvent, openAvroInput, openAvroOutput, parseAvroSchema, RegistryError,
  SEGMENT_EVENT_SCHEMA, type AvroType, type WriterSchemas,
} from '../../connectors/avro/index.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..');

/** The retail example: one record per event type, told apart by the default of `type`. */
const RETAIL_UNION = [
  {
    type: 'record', name: 'Purchase', namespace: 'retail',
    fields: [
      { name: 'type', type: 'string', default: 'purchase' },
      { name: 'customer_id', type: 'string' },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'amount', type: 'double' },
      { name: 'coupon', type: ['null', 'string'], default: null },
      { name: 'paid_on', type: ['null', { type: 'int', logicalType: 'date' }], default: null },
      { name: 'total', type: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } },
      { name: 'items', type: { type: 'array', items: { type: 'record', name: 'Item', fields: [{ name: 'sku', type: 'string' }, { name: 'qty', type: 'int' }] } } },
    ],
  },
  {
    type: 'record', name: 'PageView', namespace: 'retail',
    fields: [
      { name: 'type', type: 'string', default: 'page_view' },
      { name: 'customer_id', type: 'string' },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-micros' } },
      { name: 'url', type: 'string' },
      { name: 'logged_in', type: 'boolean' },
    ],
  },
];

const RETAIL_RECORD = {
  type: 'record', name: 'Event', namespace: 'retail',
  fields: [
    { name: 'type', type: { type: 'enum', name: 'Kind', symbols: ['purchase', 'page_view', 'signup'] } },
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'amount', type: ['null', 'string'], default: null },
    { name: 'url', type: ['null', 'string'], default: null },
    { name: 'count', type: 'long' },
  ],
};

function source(extra: Partial<SourcePlan> = {}): SourcePlan {
  return { topic: 'retail.events', keyField: 'customer_id', typeField: 'type', timeField: 'ts', format: 'avro', ...extra };
}

function plan(events: EventPlan[], src: SourcePlan = source()): Plan {
  return { fingerprint: 'test', source: src, events, slots: [], traits: [], audiences: [], feeds: {} };
}

/** avsc without our logical types: what any other producer would write. */
function rawType(schema: unknown): AvroType {
  return avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'always' });
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'aud-avro-'));
  try { return await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

async function rejectsWith<E extends Error>(p: Promise<unknown> | (() => unknown), cls: new (...a: never[]) => E): Promise<E> {
  try {
    if (typeof p === 'function') await p(); else await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    return err as E;
  }
  assert.fail(`expected ${cls.name}, nothing was thrown`);
}

// ---------------------------------------------------------------- wire format

test('wire format: magic byte 0, 4-byte big-endian id, Avro binary (byte for byte)', () => {
  const type = parseAvroSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'long' }, { name: 'b', type: 'string' }] });
  const buf = encodeConfluent(0x01020304, type, { a: 1, b: 'hi' });
  // long 1 → zigzag 2; string "hi" → length 2 (zigzag 4), 'h', 'i'.
  assert.deepEqual([...buf], [0x00, 0x01, 0x02, 0x03, 0x04, 0x02, 0x04, 0x68, 0x69]);
  const { schemaId, payload } = decodeConfluent(buf);
  assert.equal(schemaId, 0x01020304);
  assert.deepEqual({ ...type.fromBuffer(payload) }, { a: 1, b: 'hi' });
});

test('wire format: round trip of many ids and values, from Uint8Array too', () => {
  const type = parseAvroSchema({ type: 'record', name: 'R', fields: [{ name: 'n', type: 'long' }, { name: 's', type: ['null', 'string'] }] });
  for (const id of [0, 1, 255, 256, 65_536, 2 ** 31, 2 ** 32 - 1]) {
    for (const value of [{ n: -1, s: null }, { n: 2 ** 52, s: 'ü€😀' }, { n: -(2 ** 52), s: 'x' }, { n: 0, s: '' }]) {
      const buf = encodeConfluent(id, type, value);
      const u8 = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      const { schemaId, payload } = decodeConfluent(u8);
      assert.equal(schemaId, id);
      assert.deepEqual({ ...type.fromBuffer(payload) }, value);
    }
  }
});

test('wire format: clear errors for a short buffer, a bad magic byte, JSON, a bad id', () => {
  assert.throws(() => decodeConfluent(Buffer.from([0, 0, 0])), (e: unknown) => {
    assert.ok(e instanceof AvroDecodeError);
    assert.equal(e.code, 'short');
    assert.match(e.reason, /3 bytes is too short for the Confluent wire format/);
    return true;
  });
  assert.throws(() => decodeConfluent(Buffer.alloc(0)), /0 bytes is too short/);
  assert.throws(() => decodeConfluent(Buffer.from('{"type":"purchase"}')), (e: unknown) => {
    assert.ok(e instanceof AvroDecodeError);
    assert.equal(e.code, 'bad-magic');
    assert.equal(e.reason, "Avro: not Confluent wire format: first byte is 0x7b ('{'), expected 0x00: it looks like JSON, but the source says format avro");
    return true;
  });
  assert.throws(() => decodeConfluent(Buffer.from([0x01, 0, 0, 0, 1, 2])), /first byte is 0x01, expected 0x00$/);
  const type = parseAvroSchema('"string"');
  assert.throws(() => encodeConfluent(-1, type, 'x'), /schema id -1 is not an unsigned 32-bit integer/);
  assert.throws(() => encodeConfluent(2 ** 32, type, 'x'), /not an unsigned 32-bit integer/);
  assert.throws(() => encodeConfluent(1, type, 42), /does not fit the Avro schema string/);
});

// ------------------------------------------------------------ .avsc decoding

test('.avsc union of records: each event type decodes to a plain object with logical types as numbers', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'retail.avsc');
    await writeFile(file, JSON.stringify(RETAIL_UNION, null, 2));
    const { decoder, warnings, checkedAgainst } = await openAvroInput(plan([
      { name: 'purchase', fields: [{ name: 'amount', type: 'number' }, { name: 'coupon', type: 'string' }, { name: 'paid_on', type: 'time' }, { name: 'total', type: 'number' }] },
      { name: 'page_view', fields: [{ name: 'url', type: 'string' }, { name: 'logged_in', type: 'bool' }] },
    ]), { schemaFile: file });
    assert.deepEqual(warnings, []);
    assert.equal(checkedAgainst, file);
    assert.equal(decoder.mode, 'plain');

    const writer = rawType(RETAIL_UNION);
    // 12345.67 as a decimal(12,2): unscaled 1234567 = 0x12d687.
    const purchase = writer.toBuffer({ 'retail.Purchase': {
      type: 'purchase', customer_id: 'c-1', ts: 1_763_800_000_123, amount: 19.5, coupon: { string: 'WINTER' },
      paid_on: { int: 20_414 }, total: Buffer.from([0x12, 0xd6, 0x87]), items: [{ sku: 'a', qty: 2 }, { sku: 'b', qty: 1 }],
    } });
    const p = await decoder.decode(purchase);
    assert.deepStrictEqual(p, {
      type: 'purchase', customer_id: 'c-1', ts: 1_763_800_000_123, amount: 19.5, coupon: 'WINTER',
      paid_on: 20_414 * 86_400_000, total: 12345.67, items: [{ sku: 'a', qty: 2 }, { sku: 'b', qty: 1 }],
    });
    const view = writer.toBuffer({ 'retail.PageView': { type: 'page_view', customer_id: 'c-2', ts: 1_763_800_000_123_456, url: '/cart', logged_in: true } });
    assert.deepStrictEqual(decoder.decodeSync(view), { type: 'page_view', customer_id: 'c-2', ts: 1_763_800_000_123, url: '/cart', logged_in: true });
    const nulls = writer.toBuffer({ 'retail.Purchase': {
      type: 'purchase', customer_id: 'c-3', ts: 0, amount: -0.25, coupon: null, paid_on: null, total: Buffer.from([0xff, 0x38]), items: [],
    } });
    const n = await decoder.decode(nulls);
    assert.equal(n['coupon'], null);
    assert.equal(n['paid_on'], null);
    assert.equal(n['total'], -2, 'decimal 0xff38 = -200 unscaled, scale 2');
  });
});

test('.avsc decode feeds the engine\'s RecordDecoder as is', async () => {
  const p = plan([{ name: 'purchase', fields: [{ name: 'amount', type: 'number' }, { name: 'coupon', type: 'string' }, { name: 'paid_on', type: 'time' }] }]);
  const decoder = AvroInputDecoder.plain(RETAIL_UNION);
  assert.deepEqual(checkEventFields(p, decoder.readerType!), []);
  const bytes = rawType(RETAIL_UNION).toBuffer({ 'retail.Purchase': {
    type: 'purchase', customer_id: 'c-9', ts: 1_763_800_000_000, amount: 120, coupon: null, paid_on: { int: 1 }, total: Buffer.from([0x01]), items: [],
  } });
  const decoded = new RecordDecoder(p).decode(await decoder.decode(bytes));
  assert.deepEqual(decoded, {
    kind: 'event',
    event: { customer: 'c-9', type: 'purchase', time: 1_763_800_000_000, fields: { amount: 120, coupon: null, paid_on: 86_400_000 } },
  });
});

test('bad payloads are AvroDecodeErrors with a reason for the dead-letter header', () => {
  const type = { type: 'record', name: 'R', namespace: 'x', fields: [{ name: 'n', type: 'long' }, { name: 's', type: 'string' }] };
  const decoder = AvroInputDecoder.plain(type);
  const good = rawType(type).toBuffer({ n: 5, s: 'hello' });
  const cases: [Buffer, RegExp][] = [
    [good.subarray(0, good.length - 2), /^Avro: does not decode with the schema x\.R: truncated buffer/],
    [Buffer.concat([good, Buffer.from([1, 2])]), /^Avro: does not decode with the schema x\.R: trailing data/],
  ];
  for (const [bytes, reason] of cases) {
    assert.throws(() => decoder.decodeSync(bytes), (e: unknown) => {
      assert.ok(e instanceof AvroDecodeError, String(e));
      assert.equal(e.code, 'bad-payload');
      assert.match(e.reason, reason);
      assert.ok(!e.reason.includes('\n'), 'one line');
      return true;
    });
  }
  // 2^60 as a zigzag varint: 0x80 ×8, 0x20 … written by hand: zigzag(2^60) = 2^61.
  const big = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x00]);
  assert.throws(() => decoder.decodeSync(big), /potential precision loss/);
  // A schema that is not a record.
  assert.throws(() => AvroInputDecoder.plain('"string"').decodeSync(rawType('string').toBuffer('x')), (e: unknown) => {
    assert.ok(e instanceof AvroDecodeError);
    assert.equal(e.code, 'not-a-record');
    assert.equal(e.reason, 'Avro: the value decoded with string is string, not a record');
    return true;
  });
});

// ------------------------------------------ registry mode, writers in memory

/** Writer schemas by id, in memory: exercises the decoder's caching and resolution, not the HTTP client. */
function writers(schemas: Record<number, unknown>): WriterSchemas & { fetches: number[] } {
  const fetches: number[] = [];
  const types = new Map<number, AvroType>();
  return {
    url: 'memory://writers',
    fetches,
    cachedType: (id) => types.get(id),
    async getSchemaById(id) {
      fetches.push(id);
      const s = schemas[id];
      if (s === undefined) throw new RegistryError('not-found', `schema ${id} not found`, { status: 404, errorCode: 40403, retriable: false });
      const type = parseAvroSchema(s as object);
      types.set(id, type);
      return { type };
    },
  };
}

const V1 = { type: 'record', name: 'Event', namespace: 'retail', fields: [
  { name: 'type', type: 'string' }, { name: 'customer_id', type: 'string' }, { name: 'ts', type: 'long' }, { name: 'amount', type: 'int' },
] };
const V2 = { type: 'record', name: 'Event', namespace: 'retail', fields: [
  { name: 'type', type: 'string' }, { name: 'customer_id', type: 'string' }, { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  { name: 'amount', type: 'double' }, { name: 'channel', type: 'string', default: 'web' },
] };

test('registry mode: writer schemas by id, cached; without a reader schema each record has its writer\'s shape', async () => {
  const w = writers({ 1: V1, 2: V2 });
  const decoder = AvroInputDecoder.withRegistry(w);
  const r1 = encodeConfluent(1, rawType(V1), { type: 'purchase', customer_id: 'a', ts: 10, amount: 3 });
  const r2 = encodeConfluent(2, rawType(V2), { type: 'purchase', customer_id: 'b', ts: 20, amount: 2.5, channel: 'app' });
  assert.equal(decoder.decodeSync(r1), undefined, 'not loaded yet');
  assert.deepStrictEqual(await decoder.decode(r1), { type: 'purchase', customer_id: 'a', ts: 10, amount: 3 });
  assert.deepStrictEqual(decoder.decodeSync(r1), { type: 'purchase', customer_id: 'a', ts: 10, amount: 3 });
  await decoder.prefetch([r2, r1, r2, null, Buffer.from('{}')]);
  assert.deepStrictEqual(decoder.decodeSync(r2), { type: 'purchase', customer_id: 'b', ts: 20, amount: 2.5, channel: 'app' });
  assert.deepEqual(w.fetches, [1, 2], 'one fetch per id');
});

test('registry mode with a reader schema: old writers are resolved to it (defaults, promotions)', async () => {
  const w = writers({ 1: V1, 2: V2, 3: { type: 'record', name: 'Event', namespace: 'retail', fields: [{ name: 'type', type: 'int' }] } });
  const decoder = AvroInputDecoder.withRegistry(w, V2);
  const r1 = encodeConfluent(1, rawType(V1), { type: 'purchase', customer_id: 'a', ts: 10, amount: 3 });
  assert.deepStrictEqual(await decoder.decode(r1), { type: 'purchase', customer_id: 'a', ts: 10, amount: 3, channel: 'web' });
  const r3 = encodeConfluent(3, rawType({ type: 'record', name: 'Event', namespace: 'retail', fields: [{ name: 'type', type: 'int' }] }), { type: 1 });
  const e = await rejectsWith(decoder.decode(r3), AvroDecodeError);
  assert.equal(e.code, 'incompatible-schema');
  assert.equal(e.schemaId, 3);
  assert.match(e.reason, /^Avro: writer schema id 3 \(retail\.Event\) cannot be read as the reader schema retail\.Event: /);
  const r9 = encodeConfluent(9, rawType(V1), { type: 'purchase', customer_id: 'a', ts: 10, amount: 3 });
  const e9 = await rejectsWith(decoder.decode(r9), AvroDecodeError);
  assert.equal(e9.code, 'unknown-schema');
  assert.equal(e9.reason, 'Avro: schema id 9 is not in the registry at memory://writers');
  await rejectsWith(decoder.decode(r9), AvroDecodeError);
  assert.deepEqual(w.fetches.filter((id) => id === 9), [9], 'an unknown id is not asked again at once');
});

test('registry mode: a registry that cannot answer is a RegistryError, not a bad record', async () => {
  const down: WriterSchemas = {
    url: 'http://127.0.0.1:1',
    cachedType: () => undefined,
    getSchemaById: async () => { throw new RegistryError('unreachable', 'down', { retriable: true }); },
  };
  const decoder = AvroInputDecoder.withRegistry(down);
  const e = await rejectsWith(decoder.decode(encodeConfluent(1, rawType(V1), { type: 't', customer_id: 'a', ts: 1, amount: 1 })), RegistryError);
  assert.equal(e.retriable, true);
  await rejectsWith(decoder.prefetch([encodeConfluent(1, rawType(V1), { type: 't', customer_id: 'a', ts: 1, amount: 1 })]), RegistryError);
});

// --------------------------------------------------------- the schema check

test('schema check: a fitting record schema gives no errors; nullable unions, enums, long time fields', () => {
  const check = checkEventSchema(plan([
    { name: 'purchase', fields: [{ name: 'amount', type: 'string' }, { name: 'count', type: 'number' }] },
    { name: 'page_view', fields: [{ name: 'url', type: 'string' }] },
  ]), parseAvroSchema(RETAIL_RECORD));
  assert.deepEqual(check, { errors: [], warnings: [] });
});

test('schema check: a wrong type names the event, the field, both types and what would fit', () => {
  const errors = checkEventFields(plan([
    { name: 'purchase', fields: [{ name: 'amount', type: 'number' }, { name: 'count', type: 'bool' }, { name: 'url', type: 'time' }] },
  ]), parseAvroSchema(RETAIL_RECORD));
  assert.deepEqual(errors, [
    'event purchase declares amount: number, but the Avro schema "retail.Event" has amount as union [null, string] (a number needs int, long, float, double or decimal)',
    'event purchase declares count: bool, but the Avro schema "retail.Event" has count as long (a bool needs boolean)',
  ], 'url: time fits the nullable string (ISO-8601)');
});

test('schema check: missing fields, and the source block\'s type, key and time fields', () => {
  const schema = parseAvroSchema({ type: 'record', name: 'Event', namespace: 'retail', fields: [
    { name: 'kind', type: 'string' }, { name: 'user', type: 'bytes' }, { name: 'when', type: 'double' }, { name: 'amount', type: 'float' },
  ] });
  const check = checkEventSchema(plan([{ name: 'purchase', fields: [{ name: 'amount', type: 'number' }, { name: 'sku', type: 'string' }] }],
    source({ keyField: 'user', timeField: 'when' })), schema);
  assert.deepEqual(check.errors, [
    'source: the type field "type" is not in the Avro schema "retail.Event" (its fields: kind, user, when, amount); name the right one with `type <field>` in the source block',
    'source: the key field "user" must be a string, an enum or a number, but the Avro schema "retail.Event" has it as bytes',
    'source: the time field "when" must be a time (long timestamp-millis, or a string in ISO-8601), but the Avro schema "retail.Event" has it as double',
    'event purchase declares sku: string, but the Avro schema "retail.Event" has no field sku (its fields: kind, user, when, amount)',
  ]);
  const noKey = checkEventSchema(plan([], source({ keyField: 'customer', timeField: 'ts', typeField: 'kind' })), schema);
  assert.deepEqual(noKey.errors, [
    'source: the key field "customer" is not in the Avro schema "retail.Event" (its fields: kind, user, when, amount); name the right one with `key <field>`, or drop `key` to use the Kafka message key',
  ]);
  assert.deepEqual(noKey.warnings, ['source: the time field "ts" is not in the Avro schema "retail.Event": event times will be the Kafka record timestamps']);
  const plainLong = checkEventSchema(plan([], source({ keyField: undefined, typeField: 'kind', timeField: 'ts' })),
    parseAvroSchema({ type: 'record', name: 'E', fields: [{ name: 'kind', type: 'string' }, { name: 'ts', type: 'long' }] }));
  assert.deepEqual(plainLong, { errors: [], warnings: ['source: the time field "ts" of the Avro schema "E" is a long without a logical type: read as epoch milliseconds'] });
});

test('schema check: unions of records find each event\'s record by type default, enum symbol or name', () => {
  const schema = parseAvroSchema(RETAIL_UNION);
  assert.deepEqual(checkEventFields(plan([
    { name: 'purchase', fields: [{ name: 'amount', type: 'number' }, { name: 'url', type: 'string' }] },
    { name: 'page_view', fields: [{ name: 'url', type: 'number' }, { name: 'logged_in', type: 'bool' }] },
    { name: 'signup', fields: [{ name: 'referrer', type: 'string' }, { name: 'url', type: 'string' }] },
  ]), schema), [
    'event purchase declares url: string, but the Avro record "retail.Purchase" has no field url (its fields: type, customer_id, ts, amount, coupon, paid_on, total, items)',
    'event page_view declares url: number, but the Avro record "retail.PageView" has url as string (a number needs int, long, float, double or decimal)',
    'event signup declares referrer: string, but no record of the Avro union (retail.Purchase, retail.PageView) has a field referrer (name a record Signup, or give its "type" field the default "signup", to say which record is a signup)',
  ]);
  // By record name when `type` has no default; an enum type field without the event's symbol.
  const byName = parseAvroSchema([
    { type: 'record', name: 'shop.AddToCart', fields: [{ name: 'type', type: 'string' }, { name: 'customer_id', type: 'string' }, { name: 'sku', type: 'string' }] },
    { type: 'record', name: 'shop.Refund', fields: [
      { name: 'type', type: { type: 'enum', name: 'RefundKind', symbols: ['refund'] } }, { name: 'customer_id', type: 'string' }, { name: 'sku', type: 'int' }] },
  ]);
  assert.deepEqual(checkEventFields(plan([
    { name: 'add_to_cart', fields: [{ name: 'sku', type: 'string' }] },
    { name: 'refund', fields: [{ name: 'sku', type: 'string' }] },
  ], source({ timeField: 'ts' })), byName), [
    'event refund declares sku: string, but the Avro record "shop.Refund" has sku as int (a string needs string or enum)',
  ]);
  const enumRecord = parseAvroSchema(RETAIL_RECORD);
  assert.deepEqual(checkEventFields(plan([{ name: 'refund', fields: [] }]), enumRecord), [
    'event refund: the type field "type" of the Avro schema "retail.Event" is an enum without the symbol "refund" (it has purchase, page_view, signup), so no record can be a refund',
  ]);
});

test('schema check: the schema must be a record or a union of records', () => {
  assert.deepEqual(checkEventFields(plan([]), parseAvroSchema('"string"')), [
    'the Avro schema must be a record, or a union of records (one per event type), but it is string',
  ]);
  assert.deepEqual(checkEventFields(plan([]), parseAvroSchema(['null', 'string'])), [
    'the Avro schema must be a record, or a union of records (one per event type), but it is union [null, string]',
  ]);
});

test('openAvroInput: mismatches stop start-up with every problem listed; bad files are named', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'event.avsc');
    await writeFile(file, JSON.stringify(RETAIL_RECORD));
    const e = await rejectsWith(openAvroInput(plan([
      { name: 'purchase', fields: [{ name: 'amount', type: 'number' }, { name: 'missing', type: 'string' }] },
    ]), { schemaFile: file }), AvroSchemaError);
    assert.equal(e.code, 'mismatch');
    assert.equal(e.problems.length, 2);
    assert.equal(e.message, `the declared events do not fit the Avro schema (${file}): 2 problems:\n  - ${e.problems[0]}\n  - ${e.problems[1]}`);

    const broken = join(dir, 'broken.avsc');
    await writeFile(broken, '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "strin"}]}');
    const b = await rejectsWith(openAvroInput(plan([]), { schemaFile: broken }), AvroSchemaError);
    assert.equal(b.code, 'bad-schema');
    assert.match(b.message, /broken\.avsc is not a valid Avro schema: undefined type name: strin/);
    const gone = await rejectsWith(openAvroInput(plan([]), { schemaFile: join(dir, 'nope.avsc') }), AvroSchemaError);
    assert.match(gone.message, /^cannot read the Avro schema file .*nope\.avsc: ENOENT/);
    const none = await rejectsWith(openAvroInput(plan([]), {}), AvroSchemaError);
    assert.equal(none.code, 'no-schema');
  });
});

// ------------------------------------------------------------------- output

const EVENTS: MembershipEvent[] = [
  { type: 'enter', audience: 'vip', customer: 'c-123', at: '2026-11-22T10:00:00.000Z', version: 1, reason: 'event', cause: { topic: 'retail.events', partition: 3, offset: '812' } },
  { type: 'leave', audience: 'vip', customer: 'c-123', at: '2026-11-23T10:00:00.000Z', version: 2, reason: 'timer' },
  { type: 'enter', audience: 'lapsed', customer: 'ü', at: '2026-11-22T10:00:00.000Z', version: 7, reason: 'event', cause: { line: 42 } },
];

test('segment-event.avsc is the schema the encoder uses', async () => {
  const file = JSON.parse(await readFile(join(repoRoot, 'connectors', 'avro', 'segment-event.avsc'), 'utf8'));
  assert.deepEqual(file, SEGMENT_EVENT_SCHEMA);
});

test('output encoder without a registry: bare Avro that any reader of segment-event.avsc decodes', async () => {
  const encoder = await openAvroOutput({ topic: 'audiences' });
  assert.equal(encoder.schemaId, undefined);
  const independent = rawType(SEGMENT_EVENT_SCHEMA);
  const decoder = AvroInputDecoder.plain(SEGMENT_EVENT_SCHEMA);
  for (const e of EVENTS) {
    const bytes = encoder.encode(e);
    assert.deepStrictEqual(fromAvroEvent(await decoder.decode(bytes)), e);
    const raw = independent.fromBuffer(bytes) as Record<string, unknown>;
    assert.equal(raw['audience'], e.audience);
    assert.equal(raw['version'], e.version);
  }
  // Byte for byte, the timer leave: enum index 1, "vip", "c-123", the date, int 2, enum 1, union index 0 (null).
  const leave = encoder.encode(EVENTS[1]!);
  const at = Buffer.from('2026-11-23T10:00:00.000Z');
  assert.deepEqual([...leave], [0x02, 0x06, ...Buffer.from('vip'), 0x0a, ...Buffer.from('c-123'), at.length * 2, ...at, 0x04, 0x02, 0x00]);
});

test('output encoder: an event that does not fit says which field', async () => {
  const encoder = await AvroOutputEncoder.create();
  assert.throws(() => encoder.encode({ ...EVENTS[0]!, type: 'stay' as 'enter' }), /value does not fit the Avro schema aud\.SegmentEvent: type = "stay" does not fit/);
  assert.throws(() => encoder.encode({ ...EVENTS[0]!, version: 1.5 }), /version = 1\.5 does not fit/);
});
