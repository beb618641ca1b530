/**
 * State follows its partition through the changelog topic: a process that
 * lost its disk, or whose disk holds an old copy, restores the rest from the
 * changelog, and the output goes on as if nothing happened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopic, produceJson, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo, thresholdsRecords } from '../support/examples.js';

const rules = join(repo, 'examples/thresholds/thresholds.aud');

interface Out { type: string; audience: string; customer: string; version: number }

const record = (customer: string, type: string, ts: string, fields: Record<string, unknown>) =>
  ({ key: customer, value: JSON.stringify({ customer_id: customer, type, ts, ...fields }) });

for (const mode of ['at-least-once', 'exactly-once'] as const) {
  test(`changelog (${mode}): after losing the state directory, and after restoring an old copy of it, no enter or leave is repeated or lost`, async () => {
    const input = uniqueTopic('changelog-in');
    const output = uniqueTopic('changelog-out');
    await createTopic(input, 1);
    const work = await mkdtemp(join(tmpdir(), 'aud-changelog-'));
    const stateDir = join(work, 'state');
    const args = [rules, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
      '--state-dir', stateDir, '--group', `g-${input}`, '--clock', 'event', ...(mode === 'exactly-once' ? ['--exactly-once'] : [])];
    const outputs = async (n: number) => (await readTopic(output, { expected: n, timeoutMs: 60_000 }))
      .map((r) => JSON.parse(String(r.value)) as Out)
      .map((o) => `${o.type} ${o.audience} ${o.customer} v${o.version}`);
    try {
      // Phase 1: the thresholds stream, up to c2's purchase on 10 January (the first 9 lines of expected.jsonl).
      let engine = new EngineProcess(args);
      await engine.waitForLog(/partition assigned/);
      await produceJson(input, await thresholdsRecords());
      const phase1 = await outputs(9);
      assert.equal(phase1.length, 9, phase1.join('\n'));
      assert.equal(await engine.stop(), 0);
      await cp(stateDir, join(work, 'state-after-phase-1'), { recursive: true });

      // Lose the disk: restart with no state at all. Everything comes back from the changelog.
      await rm(stateDir, { recursive: true, force: true });
      engine = new EngineProcess(args);
      await engine.waitForLog(/partition assigned/);
      assert.ok(engine.logs.some((l) => /state restored from changelog .*records=[1-9]/.test(l)), engine.logs.join('\n'));
      await produceJson(input, [
        record('c1', 'purchase', '2026-01-10T13:00:00Z', { amount: 200, channel: 'web' }),
        record('c2', 'purchase', '2026-01-10T13:00:00Z', { amount: 1, channel: 'store' }),
      ]);
      const phase2 = await outputs(13);
      assert.deepEqual(phase2.slice(0, 9), phase1, 'nothing before the restart is emitted again');
      // With the state restored: c2's old purchase leaves the week at 12:00 (its version 2), c1's
      // versions continue at 3, and c2, already in store_regular and net_positive, gets nothing else.
      assert.deepEqual(phase2.slice(9), [
        'leave weekly_spender c2 v2',
        'enter weekly_spender c1 v3',
        'enter net_positive c1 v3',
        'enter online_spender c1 v3',
      ]);
      assert.equal(await engine.stop(), 0);

      // An old disk: the copy taken after phase 1. Its checkpoint is behind; the changelog's tail brings phase 2 back.
      await rm(stateDir, { recursive: true, force: true });
      await cp(join(work, 'state-after-phase-1'), stateDir, { recursive: true });
      engine = new EngineProcess(args);
      await engine.waitForLog(/partition assigned/);
      await produceJson(input, [record('c1', 'refund', '2026-01-10T14:00:00Z', { amount: 300 })]);
      const phase3 = await outputs(14);
      assert.deepEqual(phase3.slice(0, 13), phase2, 'nothing emitted again (c2 does not leave the week a second time)');
      assert.deepEqual(phase3.slice(13), ['leave net_positive c1 v4'], 'c1 was in net_positive at version 3: phase 2 came back from the tail');
      assert.equal(await engine.stop(), 0);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}
