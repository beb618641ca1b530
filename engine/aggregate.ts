/**
 * Aggregate operators: count, sum, avg, min, max, distinct, top, first, last,
 * all-time or over a sliding window.
 *
 * Each function is a small monoid over a JSON-friendly "partial": add one
 * value, merge two partials, read the result. An all-time aggregate keeps one
 * partial. A windowed one keeps one partial per time bucket, in bucket order:
 *
 *     [[bucketStart, partial], [bucketStart, partial], ...]
 *
 * An event at time t belongs to the bucket starting at floor(t / B) * B, and
 * counts in `over W` while `now - W < bucketStart`. So it leaves the window
 * at most one bucket (B: a minute up to two-day windows, an hour beyond)
 * before its exact time would, never after. State per customer and slot is
 * at most W / B buckets, and in practice one per active bucket.
 */
import type { AggregateSlot, Value } from '../dsl/plan.js';

type Partial = unknown;

interface Monoid {
  /** Add one value seen at event time `t`; `seq` orders events of one customer by arrival. */
  add(p: Partial | undefined, v: Value, t: number, seq: number): Partial;
  merge(a: Partial, b: Partial): Partial;
  result(p: Partial | undefined): Value;
}

/** value → [count, last event time, last arrival seq]; keys are JSON texts so that 1 and "1" differ. */
type Tally = Record<string, [number, number, number]>;

function addTally(p: Tally | undefined, v: Value, t: number, seq: number): Tally {
  const out: Tally = p ? { ...p } : {};
  const key = JSON.stringify(v);
  const prev = out[key];
  out[key] = prev
    ? [prev[0] + 1, Math.max(prev[1], t), t >= prev[1] ? seq : prev[2]]
    : [1, t, seq];
  return out;
}

function mergeTally(a: Tally, b: Tally): Tally {
  const out: Tally = { ...a };
  for (const [k, [n, t, s]] of Object.entries(b)) {
    const prev = out[k];
    out[k] = prev
      ? [prev[0] + n, Math.max(prev[1], t), t > prev[1] ? s : t < prev[1] ? prev[2] : Math.max(prev[2], s)]
      : [n, t, s];
  }
  return out;
}

/** [time, arrival seq, value] of the earliest (first) or latest (last) event. */
type Stamped = [number, number, Value];

function earlier(a: Stamped, b: Stamped): Stamped {
  return b[0] < a[0] || (b[0] === a[0] && b[1] < a[1]) ? b : a;
}
function later(a: Stamped, b: Stamped): Stamped {
  return b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a;
}

const MONOIDS: Record<AggregateSlot['fn'], Monoid> = {
  count: {
    add: (p) => ((p as number | undefined) ?? 0) + 1,
    merge: (a, b) => (a as number) + (b as number),
    result: (p) => (p as number | undefined) ?? 0,
  },
  sum: {
    add: (p, v) => ((p as number | undefined) ?? 0) + (v as number),
    merge: (a, b) => (a as number) + (b as number),
    result: (p) => (p as number | undefined) ?? 0,
  },
  avg: {
    add: (p, v) => {
      const [s, n] = (p as [number, number] | undefined) ?? [0, 0];
      return [s + (v as number), n + 1];
    },
    merge: (a, b) => {
      const [s1, n1] = a as [number, number];
      const [s2, n2] = b as [number, number];
      return [s1 + s2, n1 + n2];
    },
    result: (p) => {
      const x = p as [number, number] | undefined;
      return x && x[1] > 0 ? x[0] / x[1] : null;
    },
  },
  min: {
    add: (p, v) => (p === undefined ? v : Math.min(p as number, v as number)),
    merge: (a, b) => Math.min(a as number, b as number),
    result: (p) => (p as number | undefined) ?? null,
  },
  max: {
    add: (p, v) => (p === undefined ? v : Math.max(p as number, v as number)),
    merge: (a, b) => Math.max(a as number, b as number),
    result: (p) => (p as number | undefined) ?? null,
  },
  distinct: {
    add: (p, v, t, seq) => addTally(p as Tally | undefined, v, t, seq),
    merge: (a, b) => mergeTally(a as Tally, b as Tally),
    result: (p) => (p ? Object.keys(p as Tally).length : 0),
  },
  top: {
    add: (p, v, t, seq) => addTally(p as Tally | undefined, v, t, seq),
    merge: (a, b) => mergeTally(a as Tally, b as Tally),
    result: (p) => {
      if (!p) return null;
      let best: [string, [number, number, number]] | undefined;
      for (const entry of Object.entries(p as Tally)) {
        const [, [n, t, s]] = entry;
        if (!best) { best = entry; continue; }
        const [bn, bt, bs] = best[1];
        // Most frequent; ties go to the value seen most recently (event time, then arrival).
        if (n > bn || (n === bn && (t > bt || (t === bt && s > bs)))) best = entry;
      }
      return best ? (JSON.parse(best[0]) as Value) : null;
    },
  },
  first: {
    add: (p, v, t, seq) => (p === undefined ? [t, seq, v] : earlier(p as Stamped, [t, seq, v])),
    merge: (a, b) => earlier(a as Stamped, b as Stamped),
    result: (p) => (p === undefined ? null : (p as Stamped)[2]),
  },
  last: {
    add: (p, v, t, seq) => (p === undefined ? [t, seq, v] : later(p as Stamped, [t, seq, v])),
    merge: (a, b) => later(a as Stamped, b as Stamped),
    result: (p) => (p === undefined ? null : (p as Stamped)[2]),
  },
};

type Buckets = [number, Partial][];

/**
 * The value an event contributes, or `undefined` when it contributes nothing
 * (a null field: SQL semantics, `sum` skips it, `count(E.f)` does not count it).
 */
export function contribution(slot: AggregateSlot, fields: Record<string, Value>, time: number): Value | undefined {
  if (slot.field === undefined) return slot.fn === 'first' || slot.fn === 'last' ? time : null;
  const v = fields[slot.field];
  return v === null || v === undefined ? undefined : v;
}

/** What addToAggregate returns for an event too old for the window: nothing changed. */
export const UNCHANGED: unique symbol = Symbol('unchanged');

/**
 * Add an event's contribution; returns the state, or UNCHANGED for an event
 * too old for the window. A windowed state's bucket list is changed in place
 * (copying it for every event was the engine's largest source of garbage);
 * an all-time partial is a new value, equal to the old where the value did
 * not change (`max` of something smaller).
 */
export function addToAggregate(slot: AggregateSlot, state: unknown, v: Value, t: number, seq: number, now: number): unknown {
  const m = MONOIDS[slot.fn];
  if (slot.windowMs === undefined) return m.add(state, v, t, seq);
  const width = slot.bucketMs!;
  const start = Math.floor(t / width) * width;
  if (start <= now - slot.windowMs) return UNCHANGED;
  const buckets = (state as Buckets | undefined) ?? [];
  // Events arrive nearly in time order: search from the newest bucket.
  let i = buckets.length - 1;
  while (i >= 0 && buckets[i]![0] > start) i--;
  if (i >= 0 && buckets[i]![0] === start) {
    buckets[i]![1] = m.add(buckets[i]![1], v, t, seq);
  } else {
    buckets.splice(i + 1, 0, [start, m.add(undefined, v, t, seq)]);
  }
  return buckets;
}

export function aggregateValue(slot: AggregateSlot, state: unknown, now: number): Value {
  const m = MONOIDS[slot.fn];
  if (slot.windowMs === undefined) return m.result(state);
  let acc: Partial | undefined;
  for (const [start, p] of (state as Buckets | undefined) ?? []) {
    if (start <= now - slot.windowMs) continue;
    acc = acc === undefined ? p : m.merge(acc, p);
  }
  return m.result(acc);
}

/** Drop buckets that left the window; `undefined` when nothing is left. */
export function expireAggregate(slot: AggregateSlot, state: unknown, now: number): unknown {
  if (slot.windowMs === undefined || state === undefined) return state;
  const buckets = state as Buckets;
  const cut = now - slot.windowMs;
  let i = 0;
  while (i < buckets.length && buckets[i]![0] <= cut) i++;
  if (i === 0) return state;
  return i === buckets.length ? undefined : buckets.slice(i);
}

/** The next instant after `now` at which the value changes by time alone, or Infinity. */
export function aggregateNextChange(slot: AggregateSlot, state: unknown, now: number): number {
  if (slot.windowMs === undefined || state === undefined) return Infinity;
  for (const [start] of state as Buckets) {
    const leaves = start + slot.windowMs;
    if (leaves > now) return leaves;
  }
  return Infinity;
}

/**
 * The first instant after `now` at which the value, changed by time alone,
 * satisfies `flips` (in practice: makes a comparison come out otherwise than
 * it does now), or Infinity. The value can only change when a bucket leaves
 * the window, so it is tried at each of those instants, oldest first, as the
 * merge of the buckets that remain then.
 *
 * This is what lets `count(page_view) over 1 day >= 5` wake a customer once,
 * when the count falls below 5, instead of at every bucket that leaves.
 */
export function aggregateFlipTime(slot: AggregateSlot, state: unknown, now: number, flips: (value: Value) => boolean): number {
  if (slot.windowMs === undefined || state === undefined) return Infinity;
  if (slot.fn === 'count' || (slot.fn === 'sum' && (state as [number, number][]).every(([, p]) => Number.isInteger(p)))) {
    return additiveFlipTime(state as [number, number][], slot.windowMs, now, flips);
  }
  const m = MONOIDS[slot.fn];
  const live = (state as Buckets).filter(([start]) => start + slot.windowMs! > now);
  // remaining[i]: the merge of buckets i.. (what is left once the ones before i have left).
  const remaining: (Partial | undefined)[] = new Array(live.length + 1);
  remaining[live.length] = undefined;
  for (let i = live.length - 1; i >= 0; i--) {
    const after = remaining[i + 1];
    remaining[i] = after === undefined ? live[i]![1] : m.merge(live[i]![1], after);
  }
  for (let i = 0; i < live.length; i++) {
    if (flips(m.result(remaining[i + 1]))) return live[i]![0] + slot.windowMs;
  }
  return Infinity;
}

/**
 * aggregateFlipTime for counts and integer sums: what is left after the
 * oldest buckets leave is the total less what they held, so one pass and
 * nothing allocated (this runs at every evaluation of such a comparison).
 * Only for integers: with fractions, total-minus-prefix can round otherwise
 * than the sum aggregateValue computes, and the wake would be off by a bucket.
 */
function additiveFlipTime(buckets: [number, number][], windowMs: number, now: number, flips: (value: Value) => boolean): number {
  let left = 0;
  for (const [start, p] of buckets) if (start + windowMs > now) left += p;
  for (const [start, p] of buckets) {
    if (start + windowMs <= now) continue;
    left -= p;
    if (flips(left)) return start + windowMs;
  }
  return Infinity;
}
