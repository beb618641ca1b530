/**
 * The engine on the real broker: rules in, events produced to a topic,
 * `aud run` as a user starts it, enter/leave events read back from the output
 * topic and compared exactly; then a restart on the same state directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopic, produceJson, readTopic, testBrokers, topicConfig, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo, thresholdsRecords } from '../support/examples.js';

const rules = join(repo, 'examples/thresholds/thresholds.aud');

interface Out { type: string; audience: string; customer: string; at: string; version: number; reason: string; cause?: { topic: string; partition: number; offset: string } }


function withoutCause(o: Out): Omit<Out, 'cause'> {
  const { cause: _cause, ...rest } = o;
  return rest;
}

test('aud run on Kafka: exact enter/leave sequence, dead letters, and a restart that emits no enter twice', async () => {
  const input = uniqueTopic('thresholds-in');
  const output = uniqueTopic('thresholds-out');
  await createTopic(input, 1);
  const stateDir = await mkdtemp(join(tmpdir(), 'aud-it-'));
  const args = [rules, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', stateDir, '--group', `g-${input}`, '--clock', 'event'];
  try {
    let engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    // The stream of examples/thresholds, then one event on 20 January that moves the clock past every window.
    const produced = [...await thresholdsRecords(),
      { key: 'c9', value: JSON.stringify({ customer_id: 'c9', type: 'refund', ts: '2026-01-20T00:00:00Z', amount: 1 }) }];
    await produceJson(input, produced);

    const expected = (await readFile(join(repo, 'examples/thresholds/expected.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Out);
    const first = (await readTopic(output, { expected: expected.length, timeoutMs: 60_000 })).map((r) => JSON.parse(String(r.value)) as Out);
    assert.deepEqual(first.map(withoutCause), expected.map(withoutCause), 'the output topic carries exactly what replay gives');
    for (const o of first.filter((x) => x.reason === 'event')) {
      assert.equal(o.cause?.topic, input);
      assert.equal(o.cause?.partition, 0);
    }
    const dead = await readTopic(`${input}.dlq`, { expected: 3, timeoutMs: 30_000 });
    assert.equal(dead.length, 3, 'three bad records in the dead-letter topic');
    // The example's bad lines 5, 6 and 10 (what `aud replay` reports for it): offsets 4, 5 and 9.
    assert.deepEqual(dead.map((d) => d.headers['aud.source.offset']).sort(), ['4', '5', '9']);
    assert.match(dead.find((d) => d.headers['aud.source.offset'] === '4')!.headers['aud.error']!, /^not JSON/);
    for (const d of dead) {
      // Each is the record as it was read, with where it came from and why it is bad.
      assert.equal(d.headers['aud.source.topic'], input);
      assert.equal(d.headers['aud.source.partition'], '0');
      const at = Number(d.headers['aud.source.offset']);
      assert.equal(d.value, produced[at]!.value, `dead letter of offset ${at}: the bytes read`);
      assert.equal(d.key, produced[at]!.key);
      assert.ok((d.headers['aud.error'] ?? '').length > 0);
    }

    // The compacted membership topic: the latest value per audience/customer is the current membership.
    const members = await readTopic(`${output}.members`, { expected: expected.length, timeoutMs: 30_000 });
    const latest = new Map<string, string | null>();
    for (const m of members) latest.set(m.key!, m.value);
    const current = [...latest].filter(([, v]) => v !== null).map(([k]) => k).sort();
    const implied = new Map<string, boolean>();
    for (const e of expected) implied.set(`${e.audience}/${e.customer}`, e.type === 'enter');
    assert.deepEqual(current, [...implied].filter(([, inside]) => inside).map(([k]) => k).sort());
    assert.deepEqual(current, ['net_positive/c2', 'store_regular/c2']);
    assert.deepEqual(JSON.parse(latest.get('store_regular/c2')!), { audience: 'store_regular', customer: 'c2', since: '2026-01-06T12:00:00.000Z', version: 1 });

    // The topics aud created: membership and changelog keep the latest value per key; the others keep everything.
    assert.equal((await topicConfig(`${output}.members`))['cleanup.policy'], 'compact', `${output}.members is compacted`);
    assert.equal((await topicConfig(`g-${input}-state-changelog`))['cleanup.policy'], 'compact', 'the state changelog is compacted');
    // Segments of a day at most: an erased customer's records can be compacted away within days, not weeks.
    assert.equal((await topicConfig(`${output}.members`))['segment.ms'], '86400000');
    assert.equal((await topicConfig(`g-${input}-state-changelog`))['segment.ms'], '86400000');
    assert.equal((await topicConfig(`${input}.dlq`))['cleanup.policy'], 'delete', 'the dead-letter topic is not compacted');

    assert.equal(await engine.stop(), 0, 'SIGTERM stops the engine cleanly');

    // Restart on the same state: c1 comes back (a new enter, version 3); c2 buys again while
    // already in store_regular and net_positive: no enter for those, only weekly_spender.
    engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    await produceJson(input, [
      { key: 'c1', value: JSON.stringify({ customer_id: 'c1', type: 'purchase', ts: '2026-01-20T01:00:00Z', amount: 200, channel: 'web' }) },
      { key: 'c2', value: JSON.stringify({ customer_id: 'c2', type: 'purchase', ts: '2026-01-20T02:00:00Z', amount: 200, channel: 'store' }) },
    ]);
    const all = (await readTopic(output, { expected: expected.length + 4, timeoutMs: 60_000 })).map((r) => JSON.parse(String(r.value)) as Out);
    assert.deepEqual(all.slice(expected.length).map(withoutCause), [
      { type: 'enter', audience: 'weekly_spender', customer: 'c1', at: '2026-01-20T01:00:00.000Z', version: 3, reason: 'event' },
      { type: 'enter', audience: 'net_positive', customer: 'c1', at: '2026-01-20T01:00:00.000Z', version: 3, reason: 'event' },
      { type: 'enter', audience: 'online_spender', customer: 'c1', at: '2026-01-20T01:00:00.000Z', version: 3, reason: 'event' },
      { type: 'enter', audience: 'weekly_spender', customer: 'c2', at: '2026-01-20T02:00:00.000Z', version: 3, reason: 'event' },
    ]);
    assert.deepEqual(all.slice(0, expected.length).map(withoutCause), expected.map(withoutCause), 'nothing before the restart was emitted again');
    assert.equal(await engine.stop(), 0);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test('aud run with the wall clock: a then-not deadline fires with no new event', async () => {
  const input = uniqueTopic('abandon-in');
  const output = uniqueTopic('abandon-out');
  await createTopic(input, 1);
  const stateDir = await mkdtemp(join(tmpdir(), 'aud-it-'));
  const rulesFile = join(stateDir, 'abandon.aud');
  await writeFile(rulesFile, [
    'source "x" { key customer_id }',
    'event add_to_cart { sku: string }',
    'event purchase { amount: number }',
    'audience cart_abandoner { add_to_cart then not purchase within 3 seconds }',
  ].join('\n'));
  const engine = new EngineProcess([rulesFile, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', join(stateDir, 'state'), '--group', `g-${input}`, '--tick-ms', '200']);
  try {
    await engine.waitForLog(/partition assigned/);
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    await produceJson(input, [
      { key: 'u1', value: JSON.stringify({ customer_id: 'u1', type: 'add_to_cart', ts: iso(now), sku: 'a' }) },
      { key: 'u2', value: JSON.stringify({ customer_id: 'u2', type: 'add_to_cart', ts: iso(now), sku: 'b' }) },
      { key: 'u2', value: JSON.stringify({ customer_id: 'u2', type: 'purchase', ts: iso(now + 1000), amount: 5 }) },
    ]);
    const out = (await readTopic(output, { expected: 1, timeoutMs: 30_000 })).map((r) => JSON.parse(String(r.value)) as Out);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.type, 'enter');
    assert.equal(out[0]!.customer, 'u1');
    assert.equal(out[0]!.reason, 'timer');
    assert.equal(out[0]!.at, iso(now + 3000), 'it fires at the deadline, by the wall clock');
    assert.ok(Date.now() >= now + 3000, 'and not before the deadline');
  } finally {
    await engine.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
});

test('aud run with the wall clock: a record stamped years ahead is dead-lettered and changes no membership', async () => {
  const input = uniqueTopic('skew-in');
  const output = uniqueTopic('skew-out');
  await createTopic(input, 1);
  const stateDir = await mkdtemp(join(tmpdir(), 'aud-it-'));
  const rulesFile = join(stateDir, 'skew.aud');
  await writeFile(rulesFile, [
    'source "x" { key customer_id }',
    'event add_to_cart { sku: string }',
    'event purchase { amount: number }',
    'event login { }',
    'audience buyer { count(purchase) over 30 days >= 1 }',
    'audience cart_abandoner { add_to_cart then not purchase within 1 hour }',
  ].join('\n'));
  const engine = new EngineProcess([rulesFile, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', join(stateDir, 'state'), '--group', `g-${input}`, '--tick-ms', '200']);
  try {
    await engine.waitForLog(/partition assigned/);
    const iso = (ms: number) => new Date(ms).toISOString();
    const now = Date.now();
    await produceJson(input, [
      { key: 'b1', value: JSON.stringify({ customer_id: 'b1', type: 'purchase', ts: iso(now), amount: 5 }) },
      { key: 'c1', value: JSON.stringify({ customer_id: 'c1', type: 'add_to_cart', ts: iso(now), sku: 'a' }) },
      { key: 'x1', value: JSON.stringify({ customer_id: 'x1', type: 'login', ts: '2030-01-01T00:00:00Z' }) },
    ]);
    const dead = await readTopic(`${input}.dlq`, { expected: 1, timeoutMs: 30_000 });
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.headers['aud.source.offset'], '2');
    assert.match(dead[0]!.headers['aud.error']!, /^event time 2030-01-01T00:00:00\.000Z is [\d.]+ years ahead of this machine's clock, more than --max-clock-skew 5 minutes allows/);
    // Had the record moved the clock, b1 would have left buyer and c1 entered cart_abandoner by now.
    const out = (await readTopic(output, { expected: 1, timeoutMs: 30_000, settleMs: 3000 })).map((r) => JSON.parse(String(r.value)) as Out);
    assert.deepEqual(out.map((o) => `${o.type} ${o.audience} ${o.customer}`), ['enter buyer b1']);
  } finally {
    await engine.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
});
