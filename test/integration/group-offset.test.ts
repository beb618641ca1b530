/**
 * The consumer group's committed offset is only a lower bound: the state's
 * own offset decides what is applied. When the group is behind the state (a
 * process killed between writing its state and committing, or a commit the
 * broker refused), the records delivered again are skipped, and the group's
 * offset must still be brought level with the state, not left behind as lag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endOffsets } from '../../connectors/kafka/admin.js';
import { createTopic, produceJson, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo, thresholdsRecords } from '../support/examples.js';
import { committedOffsets, untilCommitted } from '../support/group-run.js';

const rules = join(repo, 'examples/thresholds/thresholds.aud');

test('records delivered again below the state\'s offset are skipped, and the group\'s offset is brought level with the state', async () => {
  const input = uniqueTopic('group-offset-in');
  const output = uniqueTopic('group-offset-out');
  await createTopic(input, 1);
  const work = await mkdtemp(join(tmpdir(), 'aud-group-offset-'));
  const args = (group: string) => [rules, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', join(work, 'state'), '--group', group, '--clock', 'event'];
  let engine: EngineProcess | undefined;
  try {
    engine = new EngineProcess(args(`g1-${input}`));
    await engine.waitForLog(/partition assigned/);
    await produceJson(input, await thresholdsRecords());
    const ends = await endOffsets({ brokers: testBrokers() }, input);
    await untilCommitted(`g1-${input}`, input, ends, 60_000);
    assert.equal(await engine.stop(), 0);
    const before = (await readTopic(output, { expected: 1000, timeoutMs: 3000 })).length;
    assert.ok(before > 5, `the first run produced output (${before})`);

    // The same state under a group that has committed nothing: every record comes again, below the state's offset.
    engine = new EngineProcess(args(`g2-${input}`));
    await engine.waitForLog(/partition assigned .*nextOffset=[1-9]/);
    await untilCommitted(`g2-${input}`, input, ends, 20_000);
    assert.equal((await committedOffsets(`g2-${input}`, input)).get(0), ends.get(0));
    assert.equal(await engine.stop(), 0);
    engine = undefined;
    assert.equal((await readTopic(output, { expected: before + 1, timeoutMs: 3000 })).length, before, 'nothing applied twice');
  } finally {
    if (engine) await engine.stop();
    await rm(work, { recursive: true, force: true });
  }
});
