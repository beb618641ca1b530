/**
 * The short fault run for CI: kill -9 the engine three times while it works
 * through a stream; nothing may be missing from the output topic and nothing
 * may be there that replay does not produce; with --exactly-once, the topic
 * must be replay's output exactly. (bench/fault-kill.ts runs long.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testBrokers } from '../support/broker.js';
import { runKillFaults } from '../support/kill-run.js';

test('kill -9 three times mid-stream: no enter/leave missing, none unexpected', async () => {
  const r = await runKillFaults({ brokers: testBrokers(), kills: 3, customers: 4000, days: 30, maxKillDelayMs: 700 });
  assert.equal(r.killsSurvived, 3);
  assert.ok(r.expected > 1000, `enough output to mean something (${r.expected})`);
  assert.equal(r.missing, 0, `missing ${r.missing} of ${r.expected}`);
  assert.equal(r.unexpected, 0);
});

test('--exactly-once, kill -9 three times mid-stream: the output topic is replay\'s output, event for event', async () => {
  const r = await runKillFaults({ brokers: testBrokers(), kills: 3, customers: 3000, days: 30, maxKillDelayMs: 700, exactlyOnce: true });
  assert.equal(r.killsSurvived, 3);
  assert.ok(r.expected > 1000, `enough output to mean something (${r.expected})`);
  assert.equal(r.missing, 0, `missing ${r.missing} of ${r.expected}`);
  assert.equal(r.duplicates, 0, `duplicates ${r.duplicates}`);
  assert.equal(r.unexpected, 0);
  assert.ok(r.identical, 'same events in the same order as replay');
});
