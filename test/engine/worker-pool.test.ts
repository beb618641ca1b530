/**
 * A partition in a worker thread behaves as one in this thread: the same
 * enter/leave events, the same bad records, the same changelog bytes and
 * the same customer view, batch after batch, across a close and reopen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSources } from '../../dsl/compile.js';
import type { InputRecord } from '../../engine/input-record.js';
import { openRocksStore } from '../../engine/state/rocksdb-store.js';
import { LocalPartition } from '../../engine/worker/local-partition.js';
import type { ChangelogCopy, PartitionRunner, StepResult } from '../../engine/worker/partition-runner.js';
import { WorkerPool } from '../../engine/worker/worker-pool.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const plan = compileSources(new Map([['retail.aud', readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8')]])).plan!;

const records: InputRecord[] = [...generateRetailEvents({ customers: 200, days: 30, seed: 5, start: new Date('2026-01-01T00:00:00Z') })]
  .map((event, i) => ({ value: i % 2 === 0 ? Buffer.from(JSON.stringify(event)) : JSON.stringify(event), key: null, timestamp: 1_767_225_600_000 + i, cause: { topic: 'retail.events', partition: 3, offset: String(i) } }));
// A bad record in the middle, one decoded before it got here (as Avro values
// are), and one whose time is its Kafka timestamp.
records.splice(500, 0, { value: Buffer.from('{not json'), key: 'k', cause: { topic: 'retail.events', partition: 3, offset: 'x' } });
records.splice(700, 0, { value: { customer_id: 'obj-1', type: 'login', ts: '2026-01-05T00:00:00Z' } });
records.splice(800, 0, { value: '{"customer_id":"no-ts","type":"login"}', timestamp: Date.parse('2026-01-06T00:00:00Z') });

function comparable(copy: ChangelogCopy): unknown {
  return copy.map((c) => [c.key, c.value === null ? null : Buffer.from(c.value).toString('base64')]);
}

/** Batches of 300, committed every other batch (state piles up between commits), a close and reopen, then a clock move. */
async function drive(open: () => Promise<PartitionRunner>): Promise<unknown[]> {
  const trace: unknown[] = [];
  let runner = await open();
  for (let i = 0, n = 0; i < records.length; i += 300, n++) {
    trace.push(await runner.process(records.slice(i, i + 300)));
    if (n % 2 === 1) {
      trace.push(comparable(await runner.prepareCommit(BigInt(i + 300))));
      await runner.writeCommit(BigInt(i));
    }
    if (n === 5) { await runner.close(); runner = await open(); trace.push(runner.snapshot); }
  }
  trace.push(await runner.advanceTo(Date.parse('2026-04-01T00:00:00Z')), runner.snapshot);
  trace.push(comparable(await runner.prepareCommit(undefined)));
  await runner.writeCommit(undefined);
  trace.push(await runner.view('obj-1'), await runner.view('no-ts'), await runner.view('nobody'));
  await runner.close();
  return trace;
}

test('a partition in a worker thread gives what it gives in this thread', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aud-worker-'));
  const pool = new WorkerPool(2);
  try {
    const local = await drive(async () => LocalPartition.open(plan, await openRocksStore(join(dir, 'local')), 50));
    const inWorker = await drive(() => pool.open(3, 'retail.events/3', join(dir, 'worker'), plan, 50));
    assert.deepEqual(inWorker, local);
    const first = local[0] as StepResult;
    assert.deepEqual(first.bad, []);
    const withBad = local[1] as StepResult;
    assert.equal(withBad.bad.length, 1, 'the bad record is reported by its position');
    assert.match(withBad.bad[0]!.reason, /JSON/);
    assert.ok((local as StepResult[]).some((s) => s.outputs?.length > 0), 'enough traffic for enter/leave events');
    assert.equal((local.at(-2) as { eventsApplied: number }).eventsApplied, 1, 'the record without a time field took its timestamp');
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});
