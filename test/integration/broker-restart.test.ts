/**
 * The broker goes away mid-stream and comes back: the engine waits, retries
 * and resumes without loss (at-least-once: every customer's enter/leave
 * sequence is replay's, once duplicates of a re-read batch are dropped).
 *
 * Restarts the broker that scripts/kafka.sh started for the suite; skipped
 * when the tests run against a broker of their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRetailEvents } from '../../examples/retail/generate.js';
import { createTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo } from '../support/examples.js';
import {
  committedOffsets, differences, expectedPerCustomer, outputPerCustomer, produceEvents, retailRules, type PerCustomer,
} from '../support/group-run.js';

const port = testBrokers().split(',')[0]!.split(':')[1]!;
const kafkaScript = (command: string): string =>
  execFileSync('bash', [join(repo, 'scripts/kafka.sh'), command], { env: { ...process.env, AUD_KAFKA_PORT: port }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const startedByScript = (() => { try { return /^running/.test(kafkaScript('status')); } catch { return false; } })();

function withoutRepeats(perCustomer: PerCustomer): { perCustomer: PerCustomer; repeats: number } {
  let repeats = 0;
  const out: PerCustomer = new Map();
  for (const [c, list] of perCustomer) {
    const seen = new Set<string>();
    out.set(c, list.filter((l) => (seen.has(l) ? (repeats++, false) : (seen.add(l), true))));
  }
  return { perCustomer: out, repeats };
}

test('broker stopped and restarted mid-stream: the engine waits, resumes, and loses nothing', { skip: startedByScript ? false : 'the broker was not started by scripts/kafka.sh' }, async () => {
  const input = uniqueTopic('outage-in');
  const output = uniqueTopic('outage-out');
  const group = `g-${input}`;
  await createTopic(input, 1);
  const work = await mkdtemp(join(tmpdir(), 'aud-outage-'));
  const events = [...generateRetailEvents({ customers: 3000, days: 30, seed: 9, start: new Date('2026-05-01T00:00:00Z') })];
  const engine = new EngineProcess([retailRules, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', join(work, 'state'), '--group', group, '--clock', 'event']);
  try {
    await engine.waitForLog(/partition assigned/);
    await produceEvents(input, 1, events);
    // Stop the broker once the engine is under way, well before it is done.
    while (((await committedOffsets(group, input)).get(0) ?? 0n) === 0n) await new Promise((r) => setTimeout(r, 100));
    kafkaScript('stop');
    await new Promise((r) => setTimeout(r, 3000));
    kafkaScript('start');
    // Read the output until all of replay's events are there (the group's committed offset is
    // not polled here: see untilCommitted).
    const want = await expectedPerCustomer(retailRules, 1, events);
    const got = withoutRepeats((await outputPerCustomer(output, want.total, 180_000)).perCustomer);
    assert.deepEqual(differences(want.perCustomer, got.perCustomer), []);
    assert.ok(engine.logs.some((l) => /Connection refused|waiting for Kafka|reopening/.test(l)), 'the engine noticed the outage');
    assert.equal(await engine.stop(), 0, 'the engine survived the outage and stopped cleanly');
  } finally {
    if (!/^running/.test((() => { try { return kafkaScript('status'); } catch { return ''; } })())) kafkaScript('start');
    await engine.stop();
    await rm(work, { recursive: true, force: true });
  }
});
