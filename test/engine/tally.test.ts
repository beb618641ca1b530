/**
 * distinct and top over a window, kept as a running tally (engine/tally.ts),
 * against the definition computed from the raw events: every value whose
 * event's bucket is still in the window counts; top is the most frequent,
 * ties to the latest (event time, then arrival). Random streams with late
 * events, reads as the clock moves on (which drop buckets in place), and a
 * state read back as stored (no summary) halfway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AggregateSlot, Value } from '../../dsl/plan.js';
import { addToAggregate, aggregateFlipTime, aggregateValue, expireAggregate, UNCHANGED } from '../../engine/aggregate.js';

const M = 60_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function slot(fn: 'distinct' | 'top', windowMs: number): AggregateSlot {
  return { kind: 'aggregate', id: 'x', text: 'x', fn, event: 'e', field: 'f', windowMs, bucketMs: M };
}

function random(seed: number): () => number {
  let s = seed;
  return () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
}

interface Seen { v: Value; t: number; seq: number }

function expected(fn: 'distinct' | 'top', seen: Seen[], windowMs: number, now: number): Value {
  const inWindow = seen.filter((e) => Math.floor(e.t / M) * M > now - windowMs);
  const tally = new Map<string, [number, number, number]>();
  for (const e of inWindow) {
    const k = JSON.stringify(e.v);
    const p = tally.get(k);
    if (!p) tally.set(k, [1, e.t, e.seq]);
    else tally.set(k, [p[0] + 1, Math.max(p[1], e.t), e.t > p[1] || (e.t === p[1] && e.seq > p[2]) ? e.seq : p[2]]);
  }
  if (fn === 'distinct') return tally.size;
  let best: [string, [number, number, number]] | undefined;
  for (const entry of tally) {
    const [n, t, q] = entry[1];
    if (!best || n > best[1][0] || (n === best[1][0] && (t > best[1][1] || (t === best[1][1] && q > best[1][2])))) best = entry;
  }
  return best ? JSON.parse(best[0]) as Value : null;
}

for (const fn of ['distinct', 'top'] as const) {
  test(`${fn} over a window equals its definition on random streams with late events, expiry and a state read back from the store`, () => {
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = random(seed);
      const windowMs = (5 + Math.floor(rnd() * 30)) * M;
      const s = slot(fn, windowMs);
      const values = Math.floor(1 + rnd() * (seed % 3 === 0 ? 200 : 6));
      let state: unknown;
      let now = T0;
      const seen: Seen[] = [];
      for (let seq = 1; seq <= 300; seq++) {
        now += Math.floor(rnd() * 3 * M);
        const t = now - (rnd() < 0.2 ? Math.floor(rnd() * windowMs) : 0);
        const v: Value = rnd() < 0.1 ? Math.floor(rnd() * 3) : `v${Math.floor(rnd() * values)}`;
        const added = addToAggregate(s, state, v, t, seq, now);
        if (added !== UNCHANGED) {
          seen.push({ v, t, seq });
          state = expireAggregate(s, added, now);
        }
        if (seq === 150 && state !== undefined) state = structuredClone(state); // as decoded from the store: no summary
        // The engine reads at its clock, which only moves forward (a read drops what left the window).
        if (rnd() < 0.2) now += Math.floor(rnd() * windowMs);
        assert.deepEqual(aggregateValue(s, state, now), expected(fn, seen, windowMs, now), `seed ${seed}, event ${seq}`);
      }
    }
  });

  test(`${fn}: the flip instant is exact for a few values, and never late for many`, () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = random(seed * 7);
      const windowMs = 20 * M;
      const s = slot(fn, windowMs);
      const many = seed % 2 === 0;
      let state: unknown;
      const seen: Seen[] = [];
      let now = T0;
      for (let seq = 1; seq <= (many ? 150 : 40); seq++) {
        now += Math.floor(rnd() * M);
        const v = many ? `u${seq}` : `v${Math.floor(rnd() * 4)}`;
        state = addToAggregate(s, state, v, now, seq, now);
        seen.push({ v, t: now, seq });
      }
      const current = aggregateValue(s, state, now);
      const flips = (later: Value) => later !== current;
      const wake = aggregateFlipTime(s, state, now, flips, current, false);
      // The definition: the first instant a bucket leaves at which the value differs.
      let truth = Infinity;
      for (const e of [...seen].sort((a, b) => a.t - b.t)) {
        const leaves = Math.floor(e.t / M) * M + windowMs;
        if (leaves > now && flips(expected(fn, seen, windowMs, leaves))) { truth = leaves; break; }
      }
      if (many) assert.ok(wake <= truth && wake > now, `seed ${seed}: a wake at ${wake} is not after the flip at ${truth}`);
      else assert.equal(wake, truth, `seed ${seed}`);
    }
  });
}

/**
 * The bound: at most `max` values kept, the least recently seen (latest
 * event time, then arrival) dropped with all its events when one more comes.
 * The definition, by simulation over the raw events: each added event joins
 * its value's kept events; past `max` values the least recent value goes;
 * events whose bucket left the window go at each read.
 */
function boundedExpected(fn: 'distinct' | 'top', kept: Map<string, Seen[]>, windowMs: number, now: number): Value {
  for (const [k, xs] of [...kept]) {
    const live = xs.filter((e) => Math.floor(e.t / M) * M > now - windowMs);
    if (live.length > 0) kept.set(k, live); else kept.delete(k);
  }
  return expected(fn, [...kept.values()].flat(), windowMs, now);
}

function latestOf(xs: Seen[]): Seen {
  return xs.reduce((a, b) => (b.t > a.t || (b.t === a.t && b.seq > a.seq) ? b : a));
}

for (const fn of ['distinct', 'top'] as const) {
  test(`${fn} past its bound keeps the most recently seen values, on random streams with late events, expiry and a state read back from the store`, () => {
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = random(seed * 13);
      const windowMs = (5 + Math.floor(rnd() * 30)) * M;
      // Every third seed: bursts within one bucket, past the size from which
      // the newest bucket is indexed, values dropped from it and seen again.
      const burst = seed % 3 === 0;
      const max = burst ? 30 + (seed % 20) : 1 + (seed % 8);
      const s: AggregateSlot = { ...slot(fn, windowMs), maxValues: max };
      const values = burst ? 60 : 2 + Math.floor(rnd() * (seed % 2 === 0 ? 40 : 10));
      let state: unknown;
      let now = T0;
      const kept = new Map<string, Seen[]>();
      for (let seq = 1; seq <= 300; seq++) {
        now += burst ? (rnd() < 0.03 ? M : 0) : Math.floor(rnd() * 2 * M);
        const t = now - (rnd() < 0.2 ? Math.floor(rnd() * windowMs) : 0);
        // A crawler now and then: a run of new values.
        const v: Value = seq % 50 < 10 ? `new${seq}` : `v${Math.floor(rnd() * values)}`;
        const added = addToAggregate(s, state, v, t, seq, now);
        if (added !== UNCHANGED) {
          const k = JSON.stringify(v);
          kept.set(k, [...(kept.get(k) ?? []), { v, t, seq }]);
          if (kept.size > max) {
            let oldest: [string, Seen] | undefined;
            for (const [k2, xs] of kept) {
              const latest = latestOf(xs);
              if (!oldest || latest.t < oldest[1].t || (latest.t === oldest[1].t && latest.seq < oldest[1].seq)) oldest = [k2, latest];
            }
            kept.delete(oldest![0]);
          }
          state = expireAggregate(s, added, now);
        }
        if (seq % 100 === 0 && state !== undefined) state = structuredClone(state); // as decoded from the store: no summary
        if (rnd() < (burst ? 0.005 : 0.1)) now += Math.floor(rnd() * windowMs);
        assert.deepEqual(aggregateValue(s, state, now), boundedExpected(fn, kept, windowMs, now), `seed ${seed}, event ${seq}`);
        if (fn === 'distinct') assert.ok((aggregateValue(s, state, now) as number) <= max);
      }
    }
  });
}

test('a windowed distinct stored as [bucketStart, tally, ...] by an earlier version reads and goes on counting', () => {
  const s = slot('distinct', 60 * M);
  const old = [T0, { '"a"': [2, T0 + 1000, 2], '"b"': [1, T0 + 2000, 3] }, T0 + M, { '"a"': [1, T0 + M + 5, 4] }];
  assert.equal(aggregateValue(s, structuredClone(old), T0 + 2 * M), 2);
  const added = addToAggregate(s, structuredClone(old), 'c', T0 + 2 * M, 5, T0 + 2 * M);
  assert.equal(aggregateValue(s, added, T0 + 2 * M), 3);
  // The first bucket leaves: "b" goes, "a" stays by its later event.
  assert.equal(aggregateValue(s, added, T0 + 60 * M), 2);
  const top = slot('top', 60 * M);
  assert.equal(aggregateValue(top, structuredClone(old), T0 + 2 * M), 'a');
});
