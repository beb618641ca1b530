/**
 * The schema registry client, and the Avro connector in its registry mode,
 * against a real Confluent-compatible registry.
 *
 * Which registry: AUD_TEST_REGISTRY_URL if set (Confluent Schema Registry,
 * Karapace, Redpanda, or Apicurio at http://host:8080/apis/ccompat/v7), else
 * whatever answers GET /subjects on 127.0.0.1:${AUD_REGISTRY_PORT:-8081}.
 * With neither, those tests are skipped with the reason: this machine has no
 * registry server (see connectors/avro/README.md for what was tried).
 *
 * The client's behaviour when no registry answers (connection refused, a
 * server that accepts and never replies, bad options) needs no registry and
 * always runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import avro from 'avsc';
import type { EventPlan, Plan } from '../../dsl/plan.js';
import type { OutputEvent } from '../../engine/output-event.js';
import {
  AvroDecodeError, AvroInputDecoder, AvroSchemaError, decodeConfluent, encodeConfluent, fromAvroEvent, openAvroInput,
  openAvroOutput, RegistryError, SchemaRegistryClient,
} from '../../connectors/avro/index.js';

async function findRegistry(): Promise<{ url?: string; why: string }> {
  const given = process.env['AUD_TEST_REGISTRY_URL'];
  const url = given ?? `http://127.0.0.1:${process.env['AUD_REGISTRY_PORT'] ?? '8081'}`;
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/subjects`, { signal: AbortSignal.timeout(2000), headers: { accept: 'application/vnd.schemaregistry.v1+json, application/json' } });
    const body: unknown = await res.json();
    if (res.ok && Array.isArray(body)) return { url, why: '' };
    return { why: `${url} answered GET /subjects with ${res.status}, not a list of subjects: not a Confluent-compatible registry` };
  } catch (err) {
    return given
      ? { why: `AUD_TEST_REGISTRY_URL=${given} does not answer: ${(err as Error).message}` }
      : { why: `no Confluent-compatible schema registry on ${url} (none can be installed on this machine: see connectors/avro/README.md); set AUD_TEST_REGISTRY_URL to run these tests against one` };
  }
}

const registry = await findRegistry();
const skip = registry.url === undefined ? registry.why : false;
const run = `${Date.now().toString(36)}-${process.pid}`;

function client(): SchemaRegistryClient {
  return new SchemaRegistryClient({ url: registry.url!, fetchTimeoutMs: 10_000 });
}

async function rejectsWith<E extends Error>(p: Promise<unknown>, cls: new (...a: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    return err as E;
  }
  assert.fail(`expected ${cls.name}, nothing was thrown`);
}

const V1 = { type: 'record', name: 'Event', namespace: 'retail', fields: [
  { name: 'type', type: 'string' }, { name: 'customer_id', type: 'string' },
  { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } }, { name: 'amount', type: 'double' },
] };
const V2 = { type: 'record', name: 'Event', namespace: 'retail', fields: [
  ...V1.fields, { name: 'channel', type: ['null', 'string'], default: null },
] };

function plan(events: EventPlan[], topic: string): Plan {
  return {
    fingerprint: 'test', events, slots: [], traits: [], audiences: [], feeds: {},
    source: { topic, keyField: 'customer_id', typeField: 'type', timeField: 'ts', format: 'avro' },
  };
}

// ------------------------------------------------------- against a registry

test('registry: register, fetch by id, latest; registering again gives the same id', { skip }, async () => {
  const c = client();
  const subject = `aud-test-${run}-a-value`;
  const id1 = await c.register(subject, V1);
  assert.equal(await c.register(subject, JSON.stringify(V1)), id1, 'cached');
  assert.equal(await client().register(subject, V1), id1, 'the registry finds the same schema');
  const byId = await client().getSchemaById(id1);
  assert.equal(byId.id, id1);
  assert.equal(byId.type.name, 'retail.Event');
  assert.deepEqual(byId.type.schema(), avro.Type.forSchema(V1 as avro.Schema).schema());
  const latest = await client().latest(subject);
  assert.equal(latest.subject, subject);
  assert.equal(latest.version, 1);
  assert.equal(latest.id, id1);

  const id2 = await c.register(subject, V2);
  assert.notEqual(id2, id1);
  const l2 = await c.latest(subject);
  assert.equal(l2.version, 2);
  assert.equal(l2.id, id2);
});

test('registry: unknown ids and subjects are not-found errors that say what to check', { skip }, async () => {
  const c = client();
  const e = await rejectsWith(c.getSchemaById(2_000_000_000), RegistryError);
  assert.equal(e.code, 'not-found');
  assert.equal(e.status, 404);
  assert.equal(e.retriable, false);
  assert.match(e.message, /answered 404 to fetching schema id 2000000000/);
  const s = await rejectsWith(c.latest(`aud-test-${run}-nothing-value`), RegistryError);
  assert.equal(s.code, 'not-found');
  assert.match(s.message, /fetching version latest of subject "aud-test-.*-nothing-value"/);
});

test('registry: an incompatible schema is refused under BACKWARD compatibility', { skip }, async () => {
  const c = client();
  const subject = `aud-test-${run}-compat-value`;
  await c.register(subject, V1);
  const put = await fetch(`${c.url}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT', headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify({ compatibility: 'BACKWARD' }),
  });
  assert.ok(put.ok, `PUT /config/${subject}: ${put.status}`);
  // A new required field without a default: v1 records cannot be read with it.
  const bad = { ...V1, fields: [...V1.fields, { name: 'store', type: 'string' }] };
  const e = await rejectsWith(c.register(subject, bad), RegistryError);
  assert.equal(e.code, 'incompatible');
  assert.equal(e.status, 409);
});

test('registry: output events register under <topic>-value and decode through the registry', { skip }, async () => {
  const topic = `aud-test-${run}-out`;
  const encoder = await openAvroOutput({ topic, registry: { url: registry.url! } });
  assert.equal(encoder.subject, `${topic}-value`);
  const events: OutputEvent[] = [
    { type: 'enter', audience: 'vip', customer: 'c-1', at: '2026-11-22T10:00:00.000Z', version: 1, reason: 'event', cause: { topic: 'retail.events', partition: 0, offset: '5' } },
    { type: 'leave', audience: 'vip', customer: 'c-1', at: '2026-11-22T11:00:00.000Z', version: 2, reason: 'timer' },
  ];
  const decoder = AvroInputDecoder.withRegistry(client());
  for (const e of events) {
    const bytes = encoder.encode(e);
    assert.equal(bytes[0], 0);
    assert.equal(decodeConfluent(bytes).schemaId, encoder.schemaId);
    assert.deepStrictEqual(fromAvroEvent(await decoder.decode(bytes)), e);
  }
  assert.equal((await client().latest(`${topic}-value`)).id, encoder.schemaId);
});

test('registry: records of two writer versions read with one reader schema; unknown ids dead-letter', { skip }, async () => {
  const topic = `aud-test-${run}-in`;
  const producer = client();
  const id1 = await producer.register(`${topic}-value`, V1);
  const id2 = await producer.register(`${topic}-value`, V2);
  const w1 = avro.Type.forSchema(V1 as avro.Schema);
  const w2 = avro.Type.forSchema(V2 as avro.Schema, { wrapUnions: 'always' });
  const r1 = encodeConfluent(id1, w1, { type: 'purchase', customer_id: 'a', ts: 1_763_800_000_000, amount: 10 });
  const r2 = encodeConfluent(id2, w2, { type: 'purchase', customer_id: 'b', ts: 1_763_800_000_001, amount: 20, channel: { string: 'app' } });

  const consumer = client();
  const reader = AvroInputDecoder.withRegistry(consumer, V2);
  await reader.prefetch([r1, r2]);
  assert.deepStrictEqual(reader.decodeSync(r1), { type: 'purchase', customer_id: 'a', ts: 1_763_800_000_000, amount: 10, channel: null });
  assert.deepStrictEqual(reader.decodeSync(r2), { type: 'purchase', customer_id: 'b', ts: 1_763_800_000_001, amount: 20, channel: 'app' });

  const unknown = encodeConfluent(2_000_000_001, w1, { type: 'purchase', customer_id: 'a', ts: 1, amount: 1 });
  const e = await rejectsWith(reader.decode(unknown), AvroDecodeError);
  assert.equal(e.code, 'unknown-schema');
  assert.equal(e.reason, `Avro: schema id 2000000001 is not in the registry at ${consumer.url}`);
});

test('registry: openAvroInput checks declared events against the subject\'s latest schema', { skip }, async () => {
  const topic = `aud-test-${run}-check`;
  await client().register(`${topic}-value`, V2);
  const ok = await openAvroInput(plan([{ name: 'purchase', fields: [{ name: 'amount', type: 'number' }, { name: 'channel', type: 'string' }] }], topic),
    { registry: { url: registry.url! } });
  assert.match(ok.checkedAgainst!, new RegExp(`^subject "${topic}-value" version 1 \\(schema id \\d+\\) at `));
  assert.equal(ok.decoder.mode, 'registry');
  const bad = await rejectsWith(openAvroInput(plan([{ name: 'purchase', fields: [{ name: 'amount', type: 'string' }] }], topic),
    { registry: { url: registry.url! } }), AvroSchemaError);
  assert.deepEqual(bad.problems, [
    'event purchase declares amount: string, but the Avro schema "retail.Event" has amount as double (a string needs string or enum)',
  ]);
  const none = await openAvroInput(plan([], `aud-test-${run}-empty`), { registry: { url: registry.url! } });
  assert.match(none.warnings[0]!, /^no schema is registered under subject "aud-test-.*-empty-value" at .* yet/);
});

// --------------------------------------------- without a registry: failures

test('client: a registry that is down is a retriable "unreachable" error naming the URL', async () => {
  const srv = createNetServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((res) => srv.close(() => res()));
  const c = new SchemaRegistryClient({ url: `http://127.0.0.1:${port}/`, fetchTimeoutMs: 2000 });
  assert.equal(c.url, `http://127.0.0.1:${port}`);
  const e = await rejectsWith(c.getSchemaById(1), RegistryError);
  assert.equal(e.code, 'unreachable');
  assert.equal(e.retriable, true);
  assert.equal(e.message, `the schema registry at http://127.0.0.1:${port} is unreachable (fetching schema id 1): ECONNREFUSED; check the registry URL and that the registry is running`);
  // A failed look-up is not cached: the next call asks again.
  await rejectsWith(c.getSchemaById(1), RegistryError);
  const r = await rejectsWith(c.register('t-value', V1), RegistryError);
  assert.equal(r.code, 'unreachable');
});

test('client: a registry that never answers times out after fetchTimeoutMs', async () => {
  const sockets: Socket[] = [];
  const srv = createNetServer((s) => { sockets.push(s); });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address() as AddressInfo;
  try {
    const c = new SchemaRegistryClient({ url: `http://127.0.0.1:${port}`, fetchTimeoutMs: 200 });
    const started = Date.now();
    const e = await rejectsWith(c.latest('t-value'), RegistryError);
    assert.equal(e.code, 'timeout');
    assert.equal(e.retriable, true);
    assert.match(e.message, /did not answer within 200 ms \(fetching version latest of subject "t-value"\): check that it is up, or raise fetchTimeoutMs$/);
    assert.ok(Date.now() - started < 5000);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((res) => srv.close(() => res()));
  }
});

test('client: what goes on the wire (read off a socket that then hangs up): path, accept, basic auth from the URL', async () => {
  const seen: string[] = [];
  const srv = createNetServer((s) => {
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n\r\n')) { seen.push(text); s.destroy(); }
    });
  });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address() as AddressInfo;
  try {
    const c = new SchemaRegistryClient({ url: `http://aud%20user:p%40ss@127.0.0.1:${port}/apis/ccompat/v7`, headers: { 'x-tenant': 't1' } });
    const e = await rejectsWith(c.register('retail events-value', V1), RegistryError);
    assert.equal(e.code, 'unreachable');
    const head = seen[0]!.toLowerCase();
    assert.match(seen[0]!, /^POST \/apis\/ccompat\/v7\/subjects\/retail%20events-value\/versions HTTP\/1\.1\r\n/);
    assert.ok(head.includes(`authorization: basic ${Buffer.from('aud user:p@ss').toString('base64').toLowerCase()}\r\n`), head);
    assert.ok(head.includes('content-type: application/vnd.schemaregistry.v1+json\r\n'));
    assert.ok(head.includes('accept: application/vnd.schemaregistry.v1+json'));
    assert.ok(head.includes('x-tenant: t1\r\n'));
  } finally {
    await new Promise<void>((res) => srv.close(() => res()));
  }
});

test('client: bad options are refused at once', () => {
  assert.throws(() => new SchemaRegistryClient({ url: 'localhost:8081' }), (e: unknown) => e instanceof RegistryError && e.code === 'bad-options' && /must be http:\/\/ or https:\/\//.test(e.message));
  assert.throws(() => new SchemaRegistryClient({ url: 'not a url' }), /is not a URL: use http:\/\/host:8081/);
  assert.throws(() => new SchemaRegistryClient({ url: 'http://h:8081', auth: 'nopassword' }), /auth must be "user:password"/);
  assert.throws(() => new SchemaRegistryClient({ url: 'http://h:8081', fetchTimeoutMs: 0 }), /fetchTimeoutMs must be positive/);
  const c = new SchemaRegistryClient({ url: 'https://user:p%40ss@registry.example:8081/apis/ccompat/v7/' });
  assert.equal(c.url, 'https://registry.example:8081/apis/ccompat/v7', 'credentials leave the URL (they go in the Authorization header)');
});
