/**
 * `aud run --http`: configured from a YAML file with a secret from the
 * environment, on the real broker. The query API shows a customer's traits,
 * scores and memberships, why they are in an audience, audience sizes that agree with the enter/leave
 * events on the output topic, health and readiness; /metrics parses with
 * Prometheus's own text-format parser (the Python client's) and counts what
 * happened; the secret never reaches the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRetailEvents } from '../../examples/retail/generate.js';
import { createTopic, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { produceEvents, retailRules } from '../support/group-run.js';

const PARTITIONS = 2;

interface Family { name: string; type: string; samples: { name: string; labels: Record<string, string>; value: number }[] }

/** Parse the text format with prometheus_client.parser, which rejects what Prometheus would not scrape. */
function parsePrometheus(text: string): Family[] {
  const script = 'import sys, json\nfrom prometheus_client.parser import text_string_to_metric_families as parse\n' +
    'print(json.dumps([{"name": f.name, "type": f.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]} for f in parse(sys.stdin.read())]))';
  return JSON.parse(execFileSync('python3', ['-c', script], { input: text, encoding: 'utf8' })) as Family[];
}

function sample(families: Family[], name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

async function getJson(base: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(base + path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('query API and metrics on a running engine, configured by file and environment', async () => {
  const input = uniqueTopic('query-in');
  const output = uniqueTopic('query-out');
  await createTopic(input, PARTITIONS);
  const work = await mkdtemp(join(tmpdir(), 'aud-query-'));
  const secret = `s3cret-${Date.now()}`;
  const config = join(work, 'aud.config.yaml');
  await writeFile(config, [
    `files: [${JSON.stringify(retailRules)}]`,
    `topic: ${input}`,
    `output-topic: ${output}`,
    `state-dir: ${JSON.stringify(join(work, 'state'))}`,
    `group: g-${input}`,
    'clock: event',
    'http: 0',
    'kafka:',
    '  ssl.key.password: ${AUD_TEST_KEY_PASSWORD}',
    '',
  ].join('\n'));
  // The brokers come from the environment, the rest from the file.
  const engine = new EngineProcess(['--config', config], { ...process.env, AUD_BROKERS: testBrokers(), AUD_TEST_KEY_PASSWORD: secret });
  try {
    await engine.waitForLog(/query API listening/);
    const port = /url=http:\/\/[^:]+:(\d+)/.exec(engine.logs.find((l) => /query API listening/.test(l))!)![1];
    const base = `http://127.0.0.1:${port}`;
    await engine.waitForLog(/partition assigned/, PARTITIONS);

    // The spec's VIP: three web purchases, 11,010 in all.
    const vip = [
      { customer_id: 'q-1', type: 'purchase', ts: '2026-01-01T10:00:00Z', amount: 6000, category: 'shoes', sku: 's1', channel: 'web' },
      { customer_id: 'q-1', type: 'purchase', ts: '2026-01-02T10:00:00Z', amount: 5000, category: 'shoes', sku: 's2', channel: 'web' },
      { customer_id: 'q-1', type: 'purchase', ts: '2026-01-03T10:00:00Z', amount: 10, category: 'socks', sku: 's3', channel: 'web' },
    ];
    const crowd = [...generateRetailEvents({ customers: 300, days: 10, seed: 3, start: new Date('2025-12-20T00:00:00Z') })];
    // A reseller buying from a new category every ten minutes: past the 1,000 values top keeps.
    const reseller = Array.from({ length: 1002 }, (_, i) => ({
      customer_id: 'q-reseller', type: 'purchase', ts: new Date(Date.parse('2025-12-22T00:00:00Z') + i * 600_000).toISOString(),
      amount: 1, category: `c${i}`, sku: `k${i}`, channel: 'web',
    }));
    const events = [...crowd.filter((e) => Date.parse(String(e.ts)) < Date.parse('2026-01-01T00:00:00Z')), ...reseller, ...vip];
    await produceEvents(input, PARTITIONS, events);
    const segments = (await readTopic(output, { expected: 1, timeoutMs: 60_000, settleMs: 4000 })).map((r) => JSON.parse(String(r.value)) as { type: string; audience: string; customer: string });
    assert.ok(segments.some((s) => s.type === 'enter' && s.audience === 'vip' && s.customer === 'q-1'), 'q-1 entered vip');

    assert.deepEqual(await getJson(base, '/health'), { status: 200, body: { status: 'up' } });
    const ready = await getJson(base, '/ready');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));

    const q1 = await getJson(base, '/customers/q-1');
    assert.equal(q1.status, 200);
    assert.equal(q1.body.customer, 'q-1');
    assert.equal(q1.body.asOf !== null, true);
    assert.deepEqual((q1.body.traits as Record<string, unknown>), { tier: null, lifetime_value: 11010, orders_90d: 3, top_category: 'shoes' });
    assert.deepEqual((q1.body.audiences as Record<string, unknown>).vip, { member: true, version: 1 });
    assert.deepEqual((q1.body.audiences as Record<string, unknown>).store_only, { member: false, version: 0 });
    assert.equal(typeof (q1.body.scores as Record<string, unknown>).churn, 'number');
    assert.equal(q1.body.eventsApplied, 3);
    assert.deepEqual(q1.body.approximate, []);
    const reseller1 = await getJson(base, '/customers/q-reseller');
    assert.deepEqual(reseller1.body.approximate, ['top(purchase.category) over 180 days']);
    assert.equal((reseller1.body.traits as Record<string, unknown>).top_category, 'c1001', 'ties go to the latest');

    // Why q-1 is a VIP: both halves of the rule hold; the 90-day count drops below 3 first, when the
    // first purchase leaves its window on April 1.
    const why = await getJson(base, '/customers/q-1/why');
    assert.equal(why.status, 200);
    assert.equal(why.body.customer, 'q-1');
    assert.equal(why.body.partition, q1.body.partition);
    assert.equal(why.body.asOf, q1.body.asOf);
    const vipWhy = (why.body.audiences as { name: string }[]).find((a) => a.name === 'vip');
    assert.deepEqual(vipWhy, {
      name: 'vip', member: true, version: 1, value: true, nextChangeAt: '2026-04-01T10:00:00.000Z',
      expression: {
        text: 'sum(purchase.amount) over 365 days >= 10000 and count(purchase) over 90 days >= 3', value: true, decisive: true, nextChangeAt: '2026-04-01T10:00:00.000Z',
        children: [
          { text: 'sum(purchase.amount) over 365 days >= 10000', value: true, decisive: true, nextChangeAt: '2027-01-01T10:00:00.000Z', children: [
            { text: 'sum(purchase.amount) over 365 days', value: 11010, decisive: true, nextChangeAt: '2027-01-01T10:00:00.000Z', children: [] },
          ] },
          { text: 'count(purchase) over 90 days >= 3', value: true, decisive: true, nextChangeAt: '2026-04-01T10:00:00.000Z', children: [
            { text: 'count(purchase) over 90 days', value: 3, decisive: true, nextChangeAt: '2026-04-01T10:00:00.000Z', children: [] },
          ] },
        ],
      },
    });
    // Its one transition: the enter on the third purchase, caused by that record of the input topic.
    assert.deepEqual(why.body.transitions, [{
      audience: 'vip', type: 'enter', at: '2026-01-03T10:00:00.000Z', version: 1, reason: 'event',
      cause: { topic: input, partition: q1.body.partition, offset: (q1.body.transitions as { cause: { offset: string } }[])[0]!.cause.offset },
    }]);
    assert.deepEqual(why.body.transitions, q1.body.transitions);
    // aud why --brokers: the same answer from the changelog, with no engine asked.
    const cli = join(dirname(fileURLToPath(import.meta.url)), '../../cli/aud.js');
    const fromLog = spawnSync(process.execPath, [cli, 'why', retailRules, '--customer', 'q-1', '--brokers', testBrokers(), '--topic', input, '--group', `g-${input}`, '--json'],
      { encoding: 'utf8', timeout: 120_000 });
    assert.equal(fromLog.status, 0, fromLog.stderr);
    assert.deepEqual(JSON.parse(fromLog.stdout), why.body);
    const fromLogText = spawnSync(process.execPath, [cli, 'why', retailRules, '--customer', 'q-1', '--brokers', testBrokers(), '--topic', input, '--group', `g-${input}`],
      { encoding: 'utf8', timeout: 120_000 });
    assert.match(fromLogText.stdout, /vip: IN \(v1\)/);
    const noOne = spawnSync(process.execPath, [cli, 'why', retailRules, '--customer', 'nobody', '--brokers', testBrokers(), '--topic', input, '--group', `g-${input}`],
      { encoding: 'utf8', timeout: 120_000 });
    assert.equal(noOne.status, 1);
    assert.match(noOne.stderr, /no state for customer "nobody" in g-.*-state-changelog \(every partition read\)/);
    const unknownWhy = await getJson(base, '/customers/nobody/why');
    assert.equal(unknownWhy.status, 404);
    assert.match(String(unknownWhy.body.error), /no customer "nobody": this process owns every partition/);

    const unknown = await getJson(base, '/customers/nobody');
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body.error), /no customer "nobody": this process owns every partition/);

    // Sizes agree with the output topic: enters minus leaves per audience.
    const fromTopic: Record<string, number> = {};
    for (const s of segments) fromTopic[s.audience] = (fromTopic[s.audience] ?? 0) + (s.type === 'enter' ? 1 : -1);
    const sizes = await getJson(base, '/audiences');
    assert.deepEqual(sizes.body.partitions, [0, 1]);
    for (const [audience, n] of Object.entries(sizes.body.sizes as Record<string, number>)) assert.equal(n, fromTopic[audience] ?? 0, audience);
    assert.deepEqual((await getJson(base, '/audiences/vip')).body.size, fromTopic.vip);
    const typo = await getJson(base, '/audiences/vipp');
    assert.equal(typo.status, 404);
    assert.match(String(typo.body.error), /did you mean "vip"/);

    const res = await fetch(`${base}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const families = parsePrometheus(await res.text());
    assert.equal(sample(families, 'aud_events_in_total', { topic: input }), events.length);
    assert.equal(sample(families, 'aud_segment_events_total', { audience: 'vip', type: 'enter' }), segments.filter((s) => s.audience === 'vip' && s.type === 'enter').length);
    assert.equal(sample(families, 'aud_audience_size', { audience: 'vip' }), fromTopic.vip);
    assert.equal(sample(families, 'aud_consumer_lag', { partition: '0' }), 0);
    assert.equal(sample(families, 'aud_partitions_assigned'), PARTITIONS);
    assert.ok((sample(families, 'aud_batch_duration_seconds_count') ?? 0) >= 1);
    // Every record once, timed from its produce a few seconds ago (not from the event's own `ts`, weeks back).
    assert.equal(sample(families, 'aud_record_latency_seconds_count'), events.length);
    assert.equal(sample(families, 'aud_record_latency_seconds_bucket', { le: '60' }), events.length);
    assert.ok((sample(families, 'aud_record_latency_seconds_sum') ?? 0) > 0);
    assert.ok((sample(families, 'aud_state_size_bytes', { partition: '0' }) ?? 0) > 0);
    assert.ok((sample(families, 'aud_process_resident_memory_bytes') ?? 0) > 0);
    // The client set up by scripts/setup.sh is patched, and the engine says so.
    assert.equal(sample(families, 'aud_kafka_client_patched', { patch: 'consume-packed' }), 1);
    assert.equal(sample(families, 'aud_kafka_client_patched', { patch: 'produce-batch' }), 1);
    // The 1,000th category fills the reseller's top; the 1,001st and 1,002nd go to a full one.
    const bounded = ['0', '1'].map((partition) => sample(families, 'aud_bounded_state_events_total', { partition }) ?? 0);
    assert.equal(bounded[0]! + bounded[1]!, 3);
    const largest = ['0', '1'].map((partition) => sample(families, 'aud_customer_state_largest_bytes', { partition }) ?? 0);
    assert.ok(Math.max(...largest) > 10_000, `largest states ${largest.join(', ')}`);
    const boundWarnings = engine.logs.filter((l) => /holds its most values/.test(l));
    assert.equal(boundWarnings.length, 1, 'one warning for the partition');
    assert.match(boundWarnings[0]!, new RegExp(`partition=${bounded.findIndex((n) => n > 0)}`));
    assert.ok(!engine.logs.some((l) => l.includes('q-reseller')), 'no log line names the customer');

    assert.equal(await engine.stop(), 0);
    assert.ok(engine.logs.some((l) => /kafka=.*ssl\.key\.password.*\*\*\*/.test(l)), 'the setting is logged, redacted');
    assert.ok(!engine.logs.some((l) => l.includes(secret)), 'the secret is never logged');
  } finally {
    await engine.stop();
    await rm(work, { recursive: true, force: true });
  }
});
