/**
 * Reading an input record's time and value: the digit-by-digit reading of
 * canonical ISO times gives Date.parse's answer for every string, valid or
 * not; a batch crossing to a worker decodes to the same events whether its
 * values are all ASCII (one string, sliced) or not (a view per value).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSources } from '../../dsl/compile.js';
import { parseTime, RecordDecoder, type InputRecord } from '../../engine/input-record.js';
import { batchOfRecords, BatchReader, causeAt } from '../../engine/record-batch.js';

/** The decoder of a rule file given as lines (which must check clean). */
function decoderFor(...lines: string[]): RecordDecoder {
  const compiled = compileSources(new Map([['r.aud', lines.join('\n')]]));
  assert.deepEqual(compiled.diagnostics, []);
  return new RecordDecoder(compiled.plan!);
}

/** What parseTime answered before the fast path: the ISO check, then Date.parse. */
function byDateParse(s: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms;
}

test('parseTime: canonical UTC times read digit by digit agree with Date.parse, in range and out of it', () => {
  const pad = (n: number, w: number): string => String(n).padStart(w, '0');
  let seed = 7;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const cases = [
    '2024-02-29T23:59:59.999Z', '2023-02-29T00:00:00.000Z', '2024-02-30T00:00:00.000Z', '2024-04-31T12:00:00.000Z',
    '2024-12-31T24:00:00.000Z', '2024-13-01T00:00:00.000Z', '2024-00-10T00:00:00.000Z', '2024-01-00T00:00:00.000Z',
    '2024-01-01T00:60:00.000Z', '2024-01-01T00:00:60.000Z', '0050-06-01T00:00:00.000Z', '0100-03-01T00:00:00.000Z',
    '1900-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z', '2024-01-01T00:00:00.000+', '2024-01-01 00:00:00.000Z',
    '2024-1a-01T00:00:00.000Z', '2024-01-01T00:00:00.0001', '2024-01-01T00:00:00Z', '2024-01-01',
  ];
  for (let i = 0; i < 20_000; i++) {
    cases.push(`${pad(rand(3000), 4)}-${pad(rand(14), 2)}-${pad(rand(33), 2)}T${pad(rand(26), 2)}:${pad(rand(62), 2)}:${pad(rand(62), 2)}.${pad(rand(1000), 3)}Z`);
  }
  for (const c of cases) assert.equal(parseTime(c), byDateParse(c), c);
  assert.equal(parseTime('2026-12-01T23:20:13.116Z'), Date.UTC(2026, 11, 1, 23, 20, 13, 116));
});

test('a batch crossing to a worker: ASCII values (one string, sliced) and others (views) give the same events', () => {
  const decoder = decoderFor(
    'source "t" { key customer_id }',
    'event purchase { amount: number  note: string }',
    'audience big { sum(purchase.amount) >= 100 }',
  );
  const value = (i: number, note: string): Uint8Array => Buffer.from(JSON.stringify({ customer_id: `c${i}`, type: 'purchase', ts: '2026-01-02T03:04:05.678Z', amount: i, note }));
  const batch = (notes: string[]): InputRecord[] => notes.map((note, i) => ({
    value: i === 2 ? null : value(i, note), key: `c${i}`, timestamp: 1000 + i, cause: { topic: 't', partition: 0, offset: String(i) },
  }));
  const ascii = batch(['plain', 'also plain', 'x', 'last']);
  const mixed = batch(['plain', 'grüße', 'x', 'last']);
  for (const records of [ascii, mixed]) {
    const crossed = structuredClone(batchOfRecords(records));
    const read = new BatchReader(crossed);
    assert.equal(crossed.count, records.length);
    records.forEach((r, i) => {
      assert.deepEqual(decoder.decode(read.value(i), read.key(i), read.timestamp(i)), decoder.decode(r.value, r.key, r.timestamp), `record ${i}`);
      assert.equal(read.key(i), r.key);
      assert.equal(read.timestamp(i), r.timestamp);
      assert.deepEqual(causeAt(crossed, i), r.cause);
    });
    assert.equal(read.value(2), null);
  }
  // The note survives the crossing as written (UTF-8, not bytes read as Latin-1).
  const read = new BatchReader(batchOfRecords(mixed));
  const grüße = decoder.decode(read.value(1), read.key(1), read.timestamp(1));
  assert.equal(grüße.kind === 'event' ? grüße.event.fields['note'] : undefined, 'grüße');
});

test('a batch whose bytes are not all ASCII: a value that is not UTF-8 is bad, as it is on its own', () => {
  const decoder = decoderFor(
    'source "t" { key customer_id }',
    'event purchase { amount: number }',
    'audience big { sum(purchase.amount) >= 100 }',
  );
  // 0xE9 then an ASCII byte: one replacement character for two bytes would look like ASCII by length.
  const latin1 = Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]);
  const read = new BatchReader(batchOfRecords([{ value: latin1 }]));
  assert.deepEqual(decoder.decode(read.value(0)), { kind: 'bad', reason: 'not UTF-8 text' });
});

test('a declared field named like an Object.prototype member is the record\'s own or null, never the prototype\'s', () => {
  const decoder = decoderFor(
    'source "t" { key customer_id }',
    'event visit { constructor: string  toString: number }',
    'audience visitor { count(visit) >= 1 }',
  );
  const decode = (o: Record<string, unknown>) => decoder.decode(JSON.stringify({ customer_id: 'c1', type: 'visit', ts: 1000, ...o }));
  const absent = decode({});
  assert.equal(absent.kind, 'event', JSON.stringify(absent));
  assert.deepEqual(absent.kind === 'event' ? absent.event.fields : undefined, { constructor: null, toString: null });
  const present = decode({ constructor: 'x', toString: 3 });
  assert.deepEqual(present.kind === 'event' ? present.event.fields : undefined, { constructor: 'x', toString: 3 });
  // A wrong type of the record's own is still bad.
  const wrong = decode({ constructor: { nested: true } });
  assert.deepEqual(wrong, { kind: 'bad', reason: 'field "constructor" of visit must be a string, got {"nested":true}' });
});

test('a source time field named like an Object.prototype member falls back to the Kafka timestamp when the record lacks it', () => {
  const decoder = decoderFor(
    'source "t" { key customer_id  time valueOf }',
    'event visit { }',
    'audience visitor { count(visit) >= 1 }',
  );
  const absent = decoder.decode(JSON.stringify({ customer_id: 'c1', type: 'visit' }), undefined, 1234);
  assert.deepEqual(absent.kind === 'event' ? absent.event.time : absent, 1234);
  const own = decoder.decode(JSON.stringify({ customer_id: 'c1', type: 'visit', valueOf: 5678 }), undefined, 1234);
  assert.deepEqual(own.kind === 'event' ? own.event.time : own, 5678);
});

test('hostile records are bad records with a reason, in bounded memory, and never crash the decoder', () => {
  const d = decoderFor('source "x" { key customer_id }', 'event view { url: string, price: number, at: time }');
  const reason = (value: InputRecord['value']): string => {
    const r = d.decode(value);
    assert.equal(r.kind, 'bad', `accepted: ${typeof value === 'string' ? value.slice(0, 80) : String(value)}`);
    return (r as { reason: string }).reason;
  };
  const base = { customer_id: 'c1', type: 'view', ts: '2026-01-01T00:00:00Z', url: '/home', price: 1 };
  const json = (o: object): string => JSON.stringify(o);
  assert.equal(d.decode(json(base)).kind, 'event', 'the record the others are made from is good');

  assert.match(reason(json({ ...base, url: 'x'.repeat(2 * 1024 * 1024) })), /^record of \d+ bytes is larger than the 1048576 a record may have$/);
  assert.match(reason(json({ ...base, url: 'x'.repeat(100_000) })), /^field "url" of view is a string of 100000 characters, more than the 65536 a field may have$/);
  assert.equal(reason(Buffer.from('{"customer_id":"c\xff","type":"view"}', 'latin1')), 'not UTF-8 text');
  assert.match(reason(json(base).replace('"price":1', '"price":1e400')), /^field "price" of view must be a number, got Infinity$/);
  assert.match(reason(json({ ...base, ts: 1e300 })), /^time 1e\+300 in field "ts" does not parse/);
  assert.match(reason(json({ ...base, at: -9e15 })), /^field "at" of view must be a time/);
  assert.match(reason(json({ ...base, customer_id: ['c1'] })), /^customer id field "customer_id" must be a string or number, got \["c1"\]$/);
  assert.match(reason(json({ ...base, customer_id: true })), /must be a string or number, got true$/);
  // Nesting as deep as a record may hold: parsed or refused, without a stack overflow escaping.
  const deep = '{"customer_id":"c1","type":"view","ts":"2026-01-01T00:00:00Z","url":' + '['.repeat(400_000) + ']'.repeat(400_000) + '}';
  assert.match(reason(deep), /^(not JSON|field "url" of view must be a string)/);
  assert.match(reason('{"customer_id":"c1","type":"view","ts":"2026-01-01T00:00:00Z","url":' + '{"a":'.repeat(150_000) + '1' + '}'.repeat(150_001)), /^(not JSON|field "url")/);
});

test('identity sources: identifiers by field, numbers as text, blocked and null ones none; none at all, or of a wrong kind, is a bad record; aud.forget records', () => {
  const d = decoderFor(
    'source "s" { identity user_id, email, anon block "", "0"  type type  time ts }',
    'event view { url: string }',
  );
  assert.equal(d.readsKey, false);
  const ts = '2026-01-01T00:00:00Z';
  const ids = (r: object) => { const x = d.decode(JSON.stringify(r)); return x.kind === 'event' ? x.event.ids : x; };
  assert.deepEqual(ids({ type: 'view', ts, url: '/', anon: 'a1' }), [null, null, 'a1']);
  assert.deepEqual(ids({ type: 'view', ts, url: '/', user_id: 42, email: null, anon: '0' }), ['42', null, null]);
  assert.deepEqual(ids({ type: 'view', ts, url: '/', anon: '' }), { kind: 'bad', reason: 'no customer identifier: none of the identity fields "user_id", "email", "anon" holds a value that is not blocked' });
  assert.deepEqual(ids({ type: 'view', ts, url: '/', email: { x: 1 } }), { kind: 'bad', reason: 'identifier field "email" must be a string or number, got {"x":1}' });
  // Undeclared types are skipped, as for a keyed source; aud.forget is not an event of the rules but an erasure.
  assert.equal(d.decode(JSON.stringify({ type: 'click', ts, anon: 'a1' })).kind, 'skipped');
  assert.deepEqual(d.decode(JSON.stringify({ type: 'aud.forget', ts, email: 'e1' })), { kind: 'forget', forget: { ids: [null, 'e1', null], time: Date.parse(ts) } });
  const keyed = decoderFor('source "s" { key c  type type  time ts }', 'event view { url: string }');
  assert.deepEqual(keyed.decode(JSON.stringify({ type: 'aud.forget', ts, c: 7 })), { kind: 'forget', forget: { customer: '7', time: Date.parse(ts) } });
});
