import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AggregateSlot } from '../../dsl/plan.js';
import { addToAggregate, aggregateFlipTime, aggregateNextChange, aggregateValue, expireAggregate, UNCHANGED } from '../../engine/aggregate.js';

const H = 3_600_000;
const D = 24 * H;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function slot(fn: AggregateSlot['fn'], windowMs?: number): AggregateSlot {
  return {
    kind: 'aggregate', id: 'x', text: 'x', fn, event: 'purchase', field: 'amount',
    ...(windowMs !== undefined ? { windowMs, bucketMs: windowMs <= 2 * D ? 60_000 : H } : {}),
  };
}

function feed(s: AggregateSlot, values: [number, number | string][]): unknown {
  let state: unknown;
  let seq = 0;
  for (const [t, v] of values) {
    const next = addToAggregate(s, state, v, t, ++seq, t);
    if (next !== UNCHANGED) state = next;
  }
  return state;
}

test('all-time aggregates of nothing: count and sum are 0, avg/min/max/top/first/last null', () => {
  assert.equal(aggregateValue(slot('count'), undefined, T0), 0);
  assert.equal(aggregateValue(slot('sum'), undefined, T0), 0);
  assert.equal(aggregateValue(slot('distinct'), undefined, T0), 0);
  for (const fn of ['avg', 'min', 'max', 'top', 'first', 'last'] as const) {
    assert.equal(aggregateValue(slot(fn), undefined, T0), null, fn);
  }
});

test('all-time aggregates over a few values', () => {
  const vs: [number, number][] = [[T0, 5], [T0 + H, 1], [T0 + 2 * H, 9], [T0 + 3 * H, 5]];
  assert.equal(aggregateValue(slot('count'), feed(slot('count'), vs), T0), 4);
  assert.equal(aggregateValue(slot('sum'), feed(slot('sum'), vs), T0), 20);
  assert.equal(aggregateValue(slot('avg'), feed(slot('avg'), vs), T0), 5);
  assert.equal(aggregateValue(slot('min'), feed(slot('min'), vs), T0), 1);
  assert.equal(aggregateValue(slot('max'), feed(slot('max'), vs), T0), 9);
  assert.equal(aggregateValue(slot('distinct'), feed(slot('distinct'), vs), T0), 3);
  assert.equal(aggregateValue(slot('top'), feed(slot('top'), vs), T0), 5);
  assert.equal(aggregateValue(slot('first'), feed(slot('first'), vs), T0), 5);
  assert.equal(aggregateValue(slot('last'), feed(slot('last'), vs), T0), 5);
});

test('top breaks ties by the most recent value', () => {
  const s = slot('top');
  assert.equal(aggregateValue(s, feed(s, [[T0, 'shoes'], [T0 + H, 'socks']]), T0), 'socks');
  assert.equal(aggregateValue(s, feed(s, [[T0, 'socks'], [T0 + H, 'shoes']]), T0), 'shoes');
  assert.equal(aggregateValue(s, feed(s, [[T0, 'socks'], [T0 + H, 'shoes'], [T0 + 2 * H, 'socks']]), T0), 'socks');
});

test('a 7-day window drops an event when its hour bucket start is 7 days old, not before', () => {
  const s = slot('sum', 7 * D);
  const t1 = T0 + 10 * H + 30 * 60_000; // 10:30, bucket 10:00
  const state = feed(s, [[t1, 60], [T0 + 2 * D, 50]]);
  const leaves = T0 + 10 * H + 7 * D; // bucket start + 7 days
  assert.equal(aggregateValue(s, state, leaves - 1), 110);
  assert.equal(aggregateValue(s, state, leaves), 50);
  assert.equal(aggregateNextChange(s, state, T0 + 2 * D), leaves);
  assert.equal(aggregateNextChange(s, state, leaves), T0 + 9 * D);
});

test('a 1-hour window keeps minute buckets', () => {
  const s = slot('count', H);
  const t = T0 + 59_999; // bucket T0
  const state = feed(s, [[t, 1]]);
  assert.equal(aggregateValue(s, state, T0 + H - 1), 1);
  assert.equal(aggregateValue(s, state, T0 + H), 0);
});

test('expiry removes old buckets and an empty window state disappears', () => {
  const s = slot('count', D);
  const state = feed(s, [[T0, 1], [T0 + H, 1]]);
  assert.deepEqual(expireAggregate(s, state, T0 + D), [T0 + H, 1]);
  assert.equal(expireAggregate(s, state, T0 + 2 * D), undefined);
});

test('a window stored by an earlier version as [[bucketStart, partial], ...] is read, and kept flat once changed', () => {
  const s = slot('sum', D);
  const nested: unknown = [[T0, 10], [T0 + H, 5]];
  assert.equal(aggregateValue(s, nested, T0 + H), 15);
  assert.equal(aggregateNextChange(s, nested, T0 + H), T0 + D);
  assert.equal(aggregateFlipTime(s, nested, T0 + H, (v) => ((v as number) >= 12) !== true), T0 + D);
  const added = addToAggregate(s, nested, 1, T0 + 2 * H, 3, T0 + 2 * H);
  assert.deepEqual(added, [T0, 10, T0 + H, 5, T0 + 2 * H, 1]);
  assert.deepEqual(expireAggregate(s, [[T0, 10], [T0 + H, 5]], T0 + D), [T0 + H, 5]);
});

test('a late event lands in its own bucket; one older than the window is ignored', () => {
  const s = slot('sum', D);
  let state = addToAggregate(s, undefined, 10, T0 + 5 * H, 1, T0 + 5 * H);
  state = addToAggregate(s, state, 1, T0 + H, 2, T0 + 5 * H); // late but inside
  assert.deepEqual((state as number[]).filter((_, i) => i % 2 === 0), [T0 + H, T0 + 5 * H]);
  assert.equal(addToAggregate(s, state, 100, T0 - 2 * D, 3, T0 + 5 * H), UNCHANGED);
  assert.equal(aggregateValue(s, state, T0 + 5 * H), 11);
});

test('aggregateFlipTime: the instant a comparison with the window changes by time alone, not each bucket that leaves', () => {
  const s = slot('count', 7 * D);
  // Four purchases on days 0, 1, 2 and 3: the count is 4 on day 3.
  const state = feed(s, [[T0, 1], [T0 + D, 1], [T0 + 2 * D, 1], [T0 + 3 * D, 1]]);
  const now = T0 + 3 * D;
  assert.equal(aggregateValue(s, state, now), 4);
  // Every bucket leaving changes the value: the first at day 7.
  assert.equal(aggregateNextChange(s, state, now), T0 + 7 * D);
  // `>= 3` is true now and turns false when the second bucket leaves (day 8: count 2).
  assert.equal(aggregateFlipTime(s, state, now, (v) => ((v as number) >= 3) !== true), T0 + 8 * D);
  // `>= 10` is false now and time alone only lowers a count: never.
  assert.equal(aggregateFlipTime(s, state, now, (v) => ((v as number) >= 10) !== false), Infinity);
  // `== 0` turns true when the last bucket leaves, on day 10.
  assert.equal(aggregateFlipTime(s, state, now, (v) => (v === 0) !== false), T0 + 10 * D);
  // All-time aggregates never change by time alone.
  assert.equal(aggregateFlipTime(slot('count'), feed(slot('count'), [[T0, 1]]), now, () => true), Infinity);
});

test('aggregateFlipTime works for every function: max over a window falls when the largest value leaves', () => {
  const s = slot('max', 7 * D);
  const state = feed(s, [[T0, 500], [T0 + D, 20], [T0 + 2 * D, 30]]);
  const now = T0 + 2 * D;
  assert.equal(aggregateFlipTime(s, state, now, (v) => ((v as number) > 100) !== true), T0 + 7 * D);
  assert.equal(aggregateFlipTime(s, state, now, (v) => ((v as number) > 25) !== true), T0 + 9 * D);
});

test('aggregateFlipTime from the newest buckets (ordered comparisons) finds the instant the scan from the oldest finds, on 20,000 random windows', () => {
  // A small deterministic generator: the same windows every run.
  let seed = 42;
  const rand = (n: number): number => { // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return (((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * n | 0;
  };
  const ops = ['<', '<=', '>', '>='] as const;
  const compare = (op: (typeof ops)[number], l: number, r: number): boolean =>
    op === '<' ? l < r : op === '<=' ? l <= r : op === '>' ? l > r : l >= r;
  let flipped = 0;
  for (let round = 0; round < 20_000; round++) {
    const fn = rand(2) === 0 ? 'count' : 'sum';
    const s = slot(fn, (1 + rand(10)) * D);
    const events: [number, number][] = [];
    let t = T0;
    for (let i = rand(25); i >= 0; i--) {
      t += rand(3) === 0 ? rand(3 * D) : rand(5) * H;
      // Sums: mostly whole amounts, now and then a refund (negative) or a fraction, which take the scan from the oldest.
      const amount = rand(20) === 0 ? -rand(50) : rand(30) === 0 ? rand(100) + 0.5 : rand(100);
      events.push([t, amount]);
    }
    const state = feed(s, events);
    const now = t + rand(s.windowMs!);
    const value = aggregateValue(s, state, now) as number;
    const k = rand(4) === 0 ? rand(400) : rand(8);
    const op = ops[rand(4)]!;
    const constantOnLeft = rand(2) === 0;
    const test = (v: number): boolean => (constantOnLeft ? compare(op, k, v) : compare(op, v, k));
    const result = test(value);
    const flips = (v: unknown): boolean => test(v as number) !== result;
    const fromOldest = aggregateFlipTime(s, state, now, flips, fn === 'count' ? value : undefined, false);
    const fromNewest = aggregateFlipTime(s, state, now, flips, fn === 'count' ? value : undefined, true);
    assert.equal(fromNewest, fromOldest, `${fn} over ${(s.windowMs ?? 0) / D} days ${constantOnLeft ? `${k} ${op} x` : `x ${op} ${k}`} at ${now - T0} ms, buckets ${JSON.stringify(state)}`);
    if (fromOldest !== Infinity) flipped++;
  }
  assert.ok(flipped > 2_000, `only ${flipped} windows flip: the generator tests too little`);
});
