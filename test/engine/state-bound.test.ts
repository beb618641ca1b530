/**
 * One customer with a new URL on every page view (a crawler) against
 * distinct and top: the state stops growing at MAX_TALLY_VALUES values,
 * distinct reads that many, the query view flags both aggregates as
 * approximate for that customer only, and the partition counts the events
 * that went to a full state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSources } from '../../dsl/compile.js';
import { MAX_TALLY_VALUES } from '../../dsl/plan.js';
import type { InputRecord } from '../../engine/input-record.js';
import { PartitionTask } from '../../engine/partition-task.js';
import { replay } from '../../engine/replay.js';
import { MemoryStore } from '../../engine/state/memory-store.js';
import { repo } from '../support/examples.js';
import { batchOfRecords } from '../../engine/record-batch.js';

const rules = readFileSync(join(repo, 'bench/hot-customer/distinct-top.aud'), 'utf8').replace(
  'audience explorer {',
  `audience collector {\n  distinct(page_view.url) over 30 days >= ${MAX_TALLY_VALUES}\n}\naudience explorer {`,
);
const compiled = compileSources(new Map([['distinct-top.aud', rules]]));
assert.ok(compiled.plan, 'the rules check');
const plan = compiled.plan;

const T0 = Date.parse('2026-01-01T00:00:00Z');

function pageView(customer: string, url: string, i: number): InputRecord {
  return { value: JSON.stringify({ customer_id: customer, type: 'page_view', ts: new Date(T0 + i * 5000).toISOString(), url }) };
}

/** A crawler with a new URL each time, and a shopper going round six pages. */
function traffic(crawls: number): InputRecord[] {
  const out: InputRecord[] = [];
  for (let i = 0; i < crawls; i++) {
    out.push(pageView('crawler', `/item/${i}`, i));
    if (i % 10 === 0) out.push(pageView('shopper', ['/home', '/sale', '/home', '/bags', '/home', '/cart'][(i / 10) % 6]!, i));
  }
  return out;
}

test('a crawler\'s distinct and top stop growing at the bound, read as approximate for it alone', async () => {
  const task = await PartitionTask.open(plan, new MemoryStore());
  const sizes: number[] = [];
  const records = traffic(3 * MAX_TALLY_VALUES);
  for (let i = 0; i < records.length; i += 500) {
    await task.process(batchOfRecords(records.slice(i, i + 500)));
    await task.commit();
    sizes.push(task.largestStateBytes);
  }
  const crawler = await task.view('crawler');
  const shopper = await task.view('shopper');
  assert.deepEqual(crawler?.audiences.collector, { member: true, version: 1 }, 'distinct reached the bound: the crawler entered');
  assert.deepEqual(crawler?.approximate, ['distinct(page_view.url) over 30 days', 'top(page_view.url) over 1 week']);
  assert.deepEqual(shopper?.approximate, []);
  assert.equal(shopper?.audiences.home_lover?.member, true);
  assert.ok(task.boundedAdds >= 2 * 2 * MAX_TALLY_VALUES - 2, `events at the bound: ${task.boundedAdds}`);
  // Once full, the largest state written stays where it was (within the few bytes of larger numbers).
  const full = sizes[Math.floor(sizes.length / 2)]!;
  assert.ok(sizes.at(-1)! < full * 1.1, `state sizes ${sizes.join(', ')}`);
  assert.ok(full < 150_000, `a full state is ${full} bytes`);
});

test('replay says how many events went to a full distinct or top', async () => {
  const summary = await replay(plan, traffic(MAX_TALLY_VALUES + 10), { onOutput: () => undefined });
  // The 1,000th URL fills distinct and top; each of the next 10 adds to both.
  assert.equal(summary.boundedAdds, 2 * 11);
});
