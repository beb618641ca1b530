/**
 * Two `aud run` processes in one consumer group, each owning one partition:
 * either answers for every customer, asking the other for those of the
 * partition it does not own, with the token the group shares; a customer no
 * member knows is a 404 from both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopic, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { partitionOf, produceEvents, retailRules } from '../support/group-run.js';

const PARTITIONS = 2;
const TOKEN = 'forwarding-test-token-0123456789';

test('any member of a group answers for any customer, forwarding to the owner of its partition', async () => {
  const input = uniqueTopic('fwd-in');
  const output = uniqueTopic('fwd-out');
  await createTopic(input, PARTITIONS);
  const work = await mkdtemp(join(tmpdir(), 'aud-fwd-'));
  const env = { ...process.env, AUD_HTTP_TOKEN: TOKEN };
  const start = (name: string): EngineProcess => new EngineProcess([retailRules, '--topic', input, '--output-topic', output,
    '--brokers', testBrokers(), '--group', `g-${input}`, '--state-dir', join(work, name), '--clock', 'event', '--http', '0'], env);
  const a = start('a');
  const engines = [a];
  try {
    await a.waitForLog(/partition assigned/, PARTITIONS);
    const b = start('b');
    engines.push(b);
    // The group rebalances: each ends with one partition.
    await b.waitForLog(/partition assigned/);
    await a.waitForLog(/partition revoked/);
    const base = (e: EngineProcess): string => `http://127.0.0.1:${/url=http:\/\/[^:]+:(\d+)/.exec(e.logs.find((l) => /query API listening/.test(l))!)![1]}`;

    // A VIP on each partition: three web purchases, 11,010 in all.
    const customers = ['fwd-1', 'fwd-2', 'fwd-3', 'fwd-4', 'fwd-5', 'fwd-6'];
    const byPartition = new Map<number, string>();
    for (const c of customers) byPartition.set(partitionOf(c, PARTITIONS), c);
    assert.equal(byPartition.size, PARTITIONS, 'the customers cover both partitions');
    const vips = [...byPartition.values()];
    const events = vips.flatMap((c) => [
      { customer_id: c, type: 'purchase', ts: '2026-01-01T10:00:00Z', amount: 6000, category: 'shoes', sku: 's1', channel: 'web' },
      { customer_id: c, type: 'purchase', ts: '2026-01-02T10:00:00Z', amount: 5000, category: 'shoes', sku: 's2', channel: 'web' },
      { customer_id: c, type: 'purchase', ts: '2026-01-03T10:00:00Z', amount: 10, category: 'socks', sku: 's3', channel: 'web' },
    ]);
    await produceEvents(input, PARTITIONS, events);
    await readTopic(output, { expected: vips.length, timeoutMs: 60_000, settleMs: 2000 });

    const ask = async (e: EngineProcess, path: string, token = TOKEN): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(base(e) + path, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const answeredLocally = new Map<string, number>();
    for (const engine of engines) {
      for (const customer of vips) {
        const r = await ask(engine, `/customers/${encodeURIComponent(customer)}`);
        assert.equal(r.status, 200, `${customer}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.customer, customer);
        assert.equal(r.body.partition, partitionOf(customer, PARTITIONS));
        assert.deepEqual((r.body.audiences as Record<string, unknown>).vip, { member: true, version: 1 });
        assert.equal((r.body.transitions as { audience: string }[])[0]!.audience, 'vip');
        if (r.body.answeredBy === undefined) answeredLocally.set(customer, (answeredLocally.get(customer) ?? 0) + 1);
        else assert.match(String(r.body.answeredBy), /^127\.0\.0\.1:\d+$/);
      }
    }
    // Each customer was answered locally by exactly one of the two: its partition's owner.
    assert.deepEqual(vips.map((c) => answeredLocally.get(c)), vips.map(() => 1));

    const unknown = await ask(a, '/customers/nobody-at-all');
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body.error), /no member of the group knows customer "nobody-at-all"/);
    // Without the token, nothing is answered, forwarded or not.
    assert.equal((await ask(b, `/customers/${vips[0]}`, 'wrong-token-wrong-token')).status, 401);
  } finally {
    for (const e of engines) await e.stop();
    await rm(work, { recursive: true, force: true });
  }
});
