/**
 * One record with a clock far in the future must not move a partition's
 * clock: without the guard it makes every customer of the partition leave
 * and enter audiences as if years had passed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSources } from '../../dsl/compile.js';
import type { Plan } from '../../dsl/plan.js';
import type { InputRecord } from '../../engine/input-record.js';
import type { OutputEvent } from '../../engine/output-event.js';
import { PartitionTask } from '../../engine/partition-task.js';
import { replay } from '../../engine/replay.js';
import { MemoryStore } from '../../engine/state/memory-store.js';
import { repo } from '../support/examples.js';
import { batchOfRecords } from '../../engine/record-batch.js';

function planOf(file: string): Plan {
  const r = compileSources(new Map([[file, readFileSync(join(repo, file), 'utf8')]]));
  assert.deepEqual(r.diagnostics, []);
  return r.plan!;
}

const thresholds = planOf('examples/thresholds/thresholds.aud');
const records: InputRecord[] = readFileSync(join(repo, 'examples/thresholds/events.jsonl'), 'utf8').trim().split('\n')
  .map((value, i) => ({ value, cause: { line: i + 1 } }));
const future = JSON.stringify({ customer_id: 'c9', type: 'refund', ts: '2030-01-01T00:00:00Z', amount: 1 });

async function replayed(input: InputRecord[], maxJumpMs?: number): Promise<{ out: OutputEvent[]; bad: string[] }> {
  const out: OutputEvent[] = [];
  const bad: string[] = [];
  await replay(thresholds, input, {
    ...(maxJumpMs !== undefined ? { clockGuard: { maxJumpMs } } : {}),
    onOutput: (e) => { out.push(...e); },
    onBad: (b) => { bad.push(b.reason); },
  });
  return { out, bad };
}

test('--max-clock-jump: a record years ahead of the partition\'s clock is a bad record and changes no membership', async () => {
  const plain = await replayed(records);
  const withFuture = [...records.slice(0, 8), { value: future, cause: { line: 100 } }, ...records.slice(8)];
  const unguarded = await replayed(withFuture);
  assert.notDeepEqual(unguarded.out, plain.out, 'unguarded, the future record moves the clock to 2030 and fires every timer due by then');
  assert.ok(unguarded.out.some((e) => e.at.startsWith('2030')));

  const guarded = await replayed(withFuture, 30 * 86_400_000);
  assert.deepEqual(guarded.out, plain.out, 'guarded, the output is that of the stream without it');
  assert.equal(guarded.bad.length, plain.bad.length + 1);
  assert.ok(guarded.bad.some((r) => /^event time 2030-01-01T00:00:00\.000Z is [\d.]+ years ahead of the partition's clock \(2026-01-0\dT[0-9:.]+Z\), more than --max-clock-jump 30 days allows; it did not move the partition's clock$/.test(r)),
    guarded.bad.join('\n'));
});

test('--max-clock-skew: with the wall clock, a record ahead of this machine\'s clock is refused; one just behind it is applied', async () => {
  const plan = planOf('examples/retail/retail.aud');
  const task = await PartitionTask.open(plan, new MemoryStore(), { clockGuard: { maxAheadOfMachineMs: 5 * 60_000 } });
  const now = Date.now();
  const event = (customer: string, at: number) => ({
    value: JSON.stringify({ customer_id: customer, type: 'login', ts: new Date(at).toISOString(), channel: 'web' }),
  });
  const result = await task.process(batchOfRecords([event('c1', now - 60_000), event('c2', now + 60_000), event('c3', Date.parse('2030-01-01T00:00:00Z'))]));
  assert.equal(result.applied, 2, 'a minute ahead is within the skew allowed');
  assert.equal(result.bad.length, 1);
  assert.equal(result.bad[0]!.index, 2);
  assert.equal(result.bad[0]!.clock, true);
  assert.match(result.bad[0]!.reason, /^event time 2030-01-01T00:00:00\.000Z is [\d.]+ years ahead of this machine's clock, more than --max-clock-skew 5 minutes allows/);
  assert.ok(task.clock <= now + 60_000, 'the refused record did not move the clock');
});

test('a record far in the past is applied where it still counts and moves nothing', async () => {
  const past = JSON.stringify({ customer_id: 'c1', type: 'purchase', ts: '2020-01-01T00:00:00Z', amount: 500, channel: 'store' });
  const { out, bad } = await replayed([...records, { value: past, cause: { line: 100 } }], 30 * 86_400_000);
  const plain = await replayed(records);
  assert.equal(bad.length, plain.bad.length, 'not refused');
  assert.deepEqual(out, plain.out, "a six-year-old purchase changes no membership here");
});
