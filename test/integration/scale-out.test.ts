/**
 * Several processes in one consumer group (exactly-once, event clock):
 * a second engine joins and takes half the partitions, with their state,
 * through the changelog; then the first is killed with kill -9 and the
 * second takes everything over. The output topic must hold, for every
 * customer, exactly the enter/leave sequence that replay of the customer's
 * partition produces: no event lost, none repeated, none out of order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endOffsets } from '../../connectors/kafka/admin.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';
import { createTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import {
  differences, expectedPerCustomer, outputPerCustomer, produceEvents, retailRules, untilCommitted,
} from '../support/group-run.js';

const PARTITIONS = 4;

test('two engines in one group: a joiner takes partitions with their state; after kill -9 the survivor takes over; output equals replay per customer', async () => {
  const input = uniqueTopic('scale-in');
  const output = uniqueTopic('scale-out');
  const group = `g-${input}`;
  await createTopic(input, PARTITIONS);
  const work = await mkdtemp(join(tmpdir(), 'aud-scale-'));
  const events = [...generateRetailEvents({ customers: 1500, days: 30, seed: 5, start: new Date('2026-03-01T00:00:00Z') })];
  const half = Math.floor(events.length / 2);
  const engine = (name: string): EngineProcess => new EngineProcess([retailRules, '--brokers', testBrokers(), '--topic', input,
    '--output-topic', output, '--state-dir', join(work, name), '--group', group, '--clock', 'event', '--exactly-once',
    // A killed member's partitions move after its session times out: keep that short for the test.
    '--kafka', 'session.timeout.ms=6000', '--kafka', 'heartbeat.interval.ms=1000']);
  let a: EngineProcess | undefined;
  let b: EngineProcess | undefined;
  try {
    a = engine('a');
    await a.waitForLog(/partition assigned/, PARTITIONS);
    await produceEvents(input, PARTITIONS, events.slice(0, half));
    await untilCommitted(group, input, await endOffsets({ brokers: testBrokers() }, input), 120_000);

    // B joins: cooperative rebalancing moves some partitions to it, and their state comes from the changelog.
    b = engine('b');
    await b.waitForLog(/partition assigned/, 1);
    assert.ok(b.logs.some((l) => /state restored from changelog .*records=[1-9]/.test(l)), `B restored A's state:\n${b.logs.join('\n')}`);
    await a.waitForLog(/partition revoked/, 1);

    // The second half flows; A dies mid-stream; B takes A's partitions over.
    const flowing = produceEvents(input, PARTITIONS, events.slice(half));
    await new Promise((r) => setTimeout(r, 1500));
    a.kill();
    await flowing;
    await b.waitForLog(/partition assigned/, PARTITIONS, 60_000);
    await untilCommitted(group, input, await endOffsets({ brokers: testBrokers() }, input), 180_000);
    assert.equal(await b.stop(), 0);
    b = undefined;

    const want = await expectedPerCustomer(retailRules, PARTITIONS, events);
    assert.ok(want.total > 2000, `enough output to mean something (${want.total})`);
    const got = await outputPerCustomer(output, want.total);
    assert.deepEqual(differences(want.perCustomer, got.perCustomer), []);
    assert.equal(got.total, want.total);
  } finally {
    a?.kill();
    if (b) await b.stop();
    await rm(work, { recursive: true, force: true });
  }
});
